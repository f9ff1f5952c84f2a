"""scikit-learn → Core ML through coremltools' scikit-learn converter (scikit-learn ≤ 1.5.1).

coremltools writes the spec; estuary then (1) renames `classProbability` to `probabilities`,
(2) sets each tree threshold to the largest float32 not above scikit-learn's float64 threshold
(Core ML compares float32 values; scikit-learn compares float32 inputs with float64
thresholds: the rounded-down threshold gives the same answer on every float32 input),
(3) routes NaN as scikit-learn's `missing_go_to_left` says, (4) averages random-forest class
votes (coremltools sums them for more than two classes, apple/coremltools#1541) and (5) embeds
the metadata. Refused: multinomial LogisticRegression (coremltools converts one-vs-rest
only), multi-class GradientBoostingClassifier and GradientBoostingRegressor (coremltools'
converter fails on them: use ONNX or PMML), GaussianNB and ColumnTransformer (no converter).
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import numpy as np

from ..errors import UnsupportedModelError
from ..ir.artifact import METADATA_KEY, ArtifactMetadata
from .metadata import version
from .model import SklearnModel, refuse_unsupported, supported
from .onnx import tree_list
from .pmml import accepts_nan

LEAF = 6


def precision(sk: SklearnModel) -> str:
    return "float32" if sk.is_tree else "float64"


def converter_name() -> str:
    return f"coremltools {version('coremltools')}"


def _refuse(sk: SklearnModel, reason: str) -> UnsupportedModelError:
    return UnsupportedModelError(sk.original, supported("coreml"), f"to coreml: {reason}")


def _prepared(sk: SklearnModel) -> Any:
    refuse_unsupported(sk, "coreml")
    if sk.task == "classification" and list(sk.classes) != list(range(len(sk.classes))):
        raise _refuse(sk, "class labels must be 0..C-1 integers (encode them with LabelEncoder)")
    model = copy.deepcopy(sk.flat)
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if type(final).__name__ == "LogisticRegression":
        if len(sk.classes) > 2:  # measured: labels differ on rows where sigmoids saturate
            raise _refuse(sk, "LogisticRegression with more than two classes: coremltools "
                              "refuses multinomial, and a one-vs-rest GLMClassifier labels by "
                              "probability, which ties at saturation where scikit-learn's "
                              "argmax of decision values does not")
        final.multi_class = "ovr"  # two classes: 'auto' is one-vs-rest, the same model
    if type(final).__name__ == "GradientBoostingClassifier" and len(sk.classes) > 2:
        raise _refuse(sk, "multi-class GradientBoostingClassifier: coremltools' converter fails "
                          "on it; use ONNX or PMML")
    return model


def convert(sk: SklearnModel, meta: ArtifactMetadata) -> Any:
    """The Core ML spec (`Model_pb2.Model`)."""
    model = _prepared(sk)
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    import coremltools as ct

    output = "label" if sk.task == "classification" else "value"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = ct.converters.sklearn.convert(model, "input", output).get_spec()
    except Exception as e:  # coremltools reports unsupported models with many types
        raise _refuse(sk, f"coremltools: {type(e).__name__}: {str(e)[:200]}") from e
    if sk.task == "classification":
        ct.utils.rename_feature(spec, spec.description.predictedProbabilitiesName,
                                "probabilities", rename_inputs=False)
    if sk.is_tree:
        _fix_trees(spec, sk)
    spec.description.metadata.userDefined[METADATA_KEY] = meta.to_json()
    return spec


def _ensembles(spec: Any) -> list:
    kind = spec.WhichOneof("Type")
    if kind in ("pipeline", "pipelineClassifier", "pipelineRegressor"):
        return [e for m in getattr(spec, kind).pipeline.models for e in _ensembles(m)]
    if kind in ("treeEnsembleClassifier", "treeEnsembleRegressor"):
        return [getattr(spec, kind)]
    return []


def _fix_trees(spec: Any, sk: SklearnModel) -> None:
    trees = tree_list(sk.final)
    nan_routes = accepts_nan(sk.final)
    vote_scale = (1.0 / len(trees) if type(sk.final).__name__ == "RandomForestClassifier"
                  and len(sk.classes) > 2 else None)
    for ensemble in _ensembles(spec):
        for node in ensemble.treeEnsemble.nodes:
            tree, k = trees[node.treeId], node.nodeId
            if node.nodeBehavior == LEAF:
                if vote_scale is not None:
                    for info in node.evaluationInfo:
                        info.evaluationValue *= vote_scale
                continue
            if tree.feature[k] != node.branchFeatureIndex:
                raise _refuse(sk, f"coremltools node ({node.treeId}, {k}) is not the fitted split")
            node.branchFeatureValue = float(_floor32(tree.threshold[k]))
            if nan_routes:  # true child = left (x <= threshold)
                node.missingValueTracksTrueChild = bool(tree.missing_go_to_left[k])


def _floor32(t: float) -> np.float32:
    f = np.float32(t)
    return f if float(f) <= t else np.nextafter(f, np.float32(-np.inf))


def write(sk: SklearnModel, meta: ArtifactMetadata, path) -> None:
    with open(path, "wb") as f:
        f.write(convert(sk, meta).SerializeToString(deterministic=True))
