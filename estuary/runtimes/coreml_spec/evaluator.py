"""Dispatch over `Model.Type` and the classic (non-neural) message types, batch-wise in numpy.

Values travel as arrays with the batch first: a multiArray [N, d], a double or int64 [N], a
string [N] (object), a dictionary as `ClassScores` (keys and a [N, K] matrix).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr


class SpecError(ValueError):
    """The spec uses something this evaluator does not implement, or is inconsistent."""


@dataclass(frozen=True)
class ClassScores:
    """A classifier's probability dictionary: `keys` (class labels) and scores [N, K]."""

    keys: tuple
    scores: np.ndarray


Values = dict[str, Any]
EVALUATORS: dict[str, Callable[[Any, Any, Values], Values]] = {}


def evaluates(kind: str) -> Callable:
    def deco(fn: Callable) -> Callable:
        EVALUATORS[kind] = fn
        return fn

    return deco


def model_kind(model: Any) -> str:
    kind = model.WhichOneof("Type")
    if kind is None:
        raise SpecError("the spec has no model type (empty or not a Core ML model)")
    return kind


def evaluate(model: Any, inputs: Values) -> Values:
    """Evaluate a `Model_pb2.Model` on named inputs; returns its declared outputs by name."""
    kind = model_kind(model)
    fn = EVALUATORS.get(kind)
    if fn is None:
        raise SpecError(f"model type {kind!r} is not implemented by the spec evaluator; "
                        f"known: {sorted(EVALUATORS)}")
    missing = [d.name for d in model.description.input if d.name not in inputs]
    if missing:
        raise SpecError(f"{kind}: inputs {missing} are not available")
    out = fn(getattr(model, kind), model.description, inputs)
    return {d.name: out[d.name] for d in model.description.output if d.name in out}


def _input(description: Any, inputs: Values, k: int = 0) -> Any:
    return inputs[description.input[k].name]


def _matrix(value: Any) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    return a.reshape(a.shape[0], -1)


def class_labels(params: Any) -> tuple:
    which = params.WhichOneof("ClassLabels")
    if which is None:
        raise SpecError("a classifier without class labels")
    return tuple(getattr(params, which).vector)


def classifier_outputs(description: Any, labels: tuple, probs: np.ndarray) -> Values:
    """Label = the class with the highest probability (the first on a tie), and the dictionary."""
    out: Values = {}
    label_name = description.predictedFeatureName or description.output[0].name
    values = np.asarray(labels, dtype=object)[np.argmax(probs, axis=1)] if len(probs) else \
        np.empty(0, dtype=object)
    out[label_name] = values
    prob_name = description.predictedProbabilitiesName
    if prob_name:
        out[prob_name] = ClassScores(labels, probs)
    return out


# --------------------------------------------------------------------------------- pipelines


def _pipeline(params: Any, description: Any, inputs: Values) -> Values:
    values = dict(inputs)
    for sub in params.models:
        values.update(evaluate(sub, values))
    return values


@evaluates("pipeline")
def _plain_pipeline(params, description, inputs):
    return _pipeline(params, description, inputs)


@evaluates("pipelineClassifier")
def _pipeline_classifier(params, description, inputs):
    return _pipeline(params.pipeline, description, inputs)


@evaluates("pipelineRegressor")
def _pipeline_regressor(params, description, inputs):
    return _pipeline(params.pipeline, description, inputs)


# --------------------------------------------------------------------------------- transforms


def _declared_width(feature: Any) -> int | None:
    t = feature.type
    if t.WhichOneof("Type") == "multiArrayType":
        return int(np.prod(t.multiArrayType.shape)) if t.multiArrayType.shape else None
    return None


def _as_declared(feature: Any, value: np.ndarray) -> np.ndarray:
    """A [N, 1] result declared as a double or int64 scalar becomes [N]."""
    kind = feature.type.WhichOneof("Type")
    if kind in ("doubleType", "int64Type"):
        return value.reshape(-1)
    return value


@evaluates("arrayFeatureExtractor")
def _array_feature_extractor(params, description, inputs):
    x = _matrix(_input(description, inputs))
    index = list(params.extractIndex)
    if any(i >= x.shape[1] for i in index):
        raise SpecError(f"arrayFeatureExtractor: index out of range for width {x.shape[1]}")
    out = description.output[0]
    return {out.name: _as_declared(out, x[:, index])}


@evaluates("featureVectorizer")
def _feature_vectorizer(params, description, inputs):
    parts = []
    for column in params.inputList:
        part = _matrix(inputs[column.inputColumn])
        if part.shape[1] != column.inputDimensions:
            raise SpecError(f"featureVectorizer: {column.inputColumn!r} has width {part.shape[1]},"
                            f" declared {column.inputDimensions}")
        parts.append(part)
    return {description.output[0].name: np.concatenate(parts, axis=1)}


@evaluates("imputer")
def _imputer(params, description, inputs):
    x = _matrix(_input(description, inputs))
    which = params.WhichOneof("ImputedValue")
    if which == "imputedDoubleArray":
        fill = np.asarray(params.imputedDoubleArray.vector, dtype=np.float64)
        if fill.shape[0] != x.shape[1]:
            raise SpecError("imputer: imputedDoubleArray does not match the input width")
    elif which == "imputedDoubleValue":
        fill = np.full(x.shape[1], params.imputedDoubleValue)
    else:
        raise SpecError(f"imputer: {which!r} is not implemented (double inputs only)")
    replace = params.replaceDoubleValue if params.WhichOneof("ReplaceValue") else np.nan
    if params.WhichOneof("ReplaceValue") not in (None, "replaceDoubleValue"):
        raise SpecError("imputer: only replaceDoubleValue is implemented")
    hit = np.isnan(x) if np.isnan(replace) else (x == replace)
    out = description.output[0]
    return {out.name: _as_declared(out, np.where(hit, fill, x))}


@evaluates("scaler")
def _scaler(params, description, inputs):
    """f(x) = scaleValue · (x + shiftValue), element-wise; a single value applies to all."""
    x = _matrix(_input(description, inputs))
    shift = np.asarray(params.shiftValue, dtype=np.float64) if params.shiftValue else 0.0
    scale = np.asarray(params.scaleValue, dtype=np.float64) if params.scaleValue else 1.0
    for name, v in (("shiftValue", shift), ("scaleValue", scale)):
        if np.ndim(v) and v.shape[0] not in (1, x.shape[1]):
            raise SpecError(f"scaler: {name} has {v.shape[0]} values for width {x.shape[1]}")
    with np.errstate(over="ignore", invalid="ignore"):
        y = scale * (x + shift)
    out = description.output[0]
    return {out.name: _as_declared(out, y)}


# --------------------------------------------------------------------------------- GLMs


def _glm_z(params: Any, x: np.ndarray) -> np.ndarray:
    W = np.asarray([list(row.value) for row in params.weights], dtype=np.float64)
    b = np.asarray(params.offset, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] != x.shape[1] or b.shape[0] != W.shape[0]:
        raise SpecError(f"GLM: weights {W.shape} / offset {b.shape} do not fit width {x.shape[1]}")
    with np.errstate(over="ignore", invalid="ignore"):
        return x @ W.T + b


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


@evaluates("glmRegressor")
def _glm_regressor(params, description, inputs):
    """y_k = w_k · x + offset_k, then NoTransform / Logit (1/(1+e^-y)) / Probit (Φ(y))."""
    z = _glm_z(params, _matrix(_input(description, inputs)))
    transform = params.postEvaluationTransform
    if transform == 1:
        z = _sigmoid(z)
    elif transform == 2:
        z = ndtr(z)
    out = description.output[0]
    return {out.name: _as_declared(out, z)}


@evaluates("glmClassifier")
def _glm_classifier(params, description, inputs):
    """One weight row for two classes: p(second) = link(z), p(first) = 1 - p. OneVsRest with one
    row per class: p_k = link(z_k) normalised to sum 1 (how coremltools maps scikit-learn's
    one-vs-rest LogisticRegression)."""
    labels = class_labels(params)
    z = _glm_z(params, _matrix(_input(description, inputs)))
    p = ndtr(z) if params.postEvaluationTransform == 1 else _sigmoid(z)
    if z.shape[1] == 1 and len(labels) == 2:
        probs = np.concatenate([1.0 - p, p], axis=1)
    elif params.classEncoding == 1 and z.shape[1] == len(labels):
        with np.errstate(invalid="ignore"):
            probs = p / p.sum(axis=1, keepdims=True)
    else:
        raise SpecError(f"glmClassifier: {z.shape[1]} weight rows for {len(labels)} classes with "
                        "ReferenceClass encoding is not implemented")
    return classifier_outputs(description, labels, probs)


from . import neural, trees  # noqa: E402,F401  (registration)
