"""The MLflow model signature of an ONNX artifact: what the registry shows as the model's
inputs and outputs, and what MLflow checks a request against before `predict` sees it.

Inputs: one optional column per raw feature of the artifact's schema (a missing column or NaN
is a missing value, as River skips an absent key): numeric features as `double`, categorical
ones as the type of their categories. Outputs: the columns the pyfunc model returns, inferred
from the artifact's own answer to an all-missing row.
"""

from __future__ import annotations

import logging
from typing import Any

from ..ir.nodes import Feature

log = logging.getLogger(__name__)

_TYPES = ((bool, "boolean"), (int, "long"), (float, "double"), (str, "string"))


def _column_type(feature: Feature) -> str | None:
    """MLflow's type for a raw feature; None when its values have no single MLflow type."""
    if feature.kind == "numeric":
        return "double"
    kinds = {next((name for cls, name in _TYPES if isinstance(c, cls)), None)
             for c in feature.categories}
    return kinds.pop() if len(kinds) == 1 else None


def signature_of(model: Any) -> Any | None:
    """The `ModelSignature` of a loaded artifact (`estuary.load`), or None (logged, and the
    model is registered without one) when a feature's key or values have no MLflow type."""
    import numpy as np
    import pandas as pd
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    from .mlflow_pyfunc import outputs_frame

    specs = []
    for feature in model.metadata.schema.features:
        kind = _column_type(feature)
        if not isinstance(feature.key, str) or kind is None:
            log.warning("no MLflow signature: feature %r (key %r, categories %r) has no single "
                        "MLflow column type", feature.name, feature.key, feature.categories[:5])
            return None
        specs.append(ColSpec(kind, feature.key, required=False))
    missing = pd.DataFrame({s.name: [np.nan] for s in specs})
    answer = outputs_frame(model, model.run(model.encoder.encode_many(missing)))
    return ModelSignature(inputs=Schema(specs), outputs=infer_signature(missing, answer).outputs)
