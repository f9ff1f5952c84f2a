"""Frozen, versioned model IR and its numpy reference evaluator. Imports nothing of estuary."""

# registers their node types and evaluators
from . import (  # noqa: F401
    anomaly,
    cluster,
    elementwise,
    ensembles,
    features,
    forecast,
    lookup,
    multioutput,
    naive_bayes,
    neighbors,
    probit,
    projection,
    reco,
    trees,
    votes,
)
from .evaluate import evaluate
from .nodes import (
    Chain,
    Estimator,
    Feature,
    FeatureSchema,
    IRError,
    Linear,
    Model,
    OneHot,
    Provenance,
    Scale,
    Select,
    Snapshot,
    Transform,
    Union,
    category_column,
    ir_node,
)
from .serialize import content_hash, exact_key, from_dict, from_json, to_dict, to_json

IR_VERSION = 1

__all__ = [
    "IR_VERSION", "Chain", "Estimator", "Feature", "FeatureSchema", "IRError", "Linear", "Model",
    "OneHot", "Provenance", "Scale", "Select", "Snapshot", "Transform", "Union", "category_column",
    "content_hash", "evaluate", "exact_key", "from_dict", "from_json", "ir_node", "to_dict", "to_json",
]
