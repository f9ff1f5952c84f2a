"""NeuralNetwork / NeuralNetworkClassifier / NeuralNetworkRegressor on rank-1 arrays ([C] per
row), in float32 as Core ML computes them: inputs are rounded to float32 and every layer works
in float32 on float32 parameters. Only the layers in `LAYERS` are implemented."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .evaluator import SpecError, _matrix, class_labels, classifier_outputs, evaluates

F32 = np.float32
LAYERS: dict[str, Callable[[Any, list[np.ndarray]], np.ndarray]] = {}


def layer(kind: str) -> Callable:
    def deco(fn: Callable) -> Callable:
        LAYERS[kind] = fn
        return fn

    return deco


def _weights(w: Any, size: int, what: str) -> np.ndarray:
    if w.float16Value or w.rawValue or w.int8RawValue or w.quantization.WhichOneof("QuantizationType"):
        raise SpecError(f"{what}: only float32 weights (floatValue) are implemented")
    a = np.asarray(w.floatValue, dtype=F32)
    if a.size != size:
        raise SpecError(f"{what}: {a.size} values where {size} are needed")
    return a


@layer("innerProduct")
def _inner_product(p, xs):
    x = xs[0]
    if x.shape[1] != p.inputChannels:
        raise SpecError(f"innerProduct: input width {x.shape[1]}, inputChannels {p.inputChannels}")
    W = _weights(p.weights, p.outputChannels * p.inputChannels, "innerProduct").reshape(
        p.outputChannels, p.inputChannels)
    y = x @ W.T
    if p.hasBias:
        y = y + _weights(p.bias, p.outputChannels, "innerProduct bias")
    return y


@layer("add")
def _add(p, xs):
    return xs[0] + F32(p.alpha) if len(xs) == 1 else np.sum(np.broadcast_arrays(*xs), axis=0,
                                                             dtype=F32)


@layer("multiply")
def _multiply(p, xs):
    if len(xs) == 1:
        return xs[0] * F32(p.alpha)
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


UNARY = {
    0: lambda x, p: np.sqrt(x),
    1: lambda x, p: F32(1) / np.sqrt(x + F32(p.epsilon)),
    2: lambda x, p: F32(1) / (x + F32(p.epsilon)),
    3: lambda x, p: np.power(x, F32(p.alpha)),
    4: lambda x, p: np.exp(x),
    5: lambda x, p: np.log(x),
    6: lambda x, p: np.abs(x),
    7: lambda x, p: np.maximum(F32(p.alpha), x),
}


@layer("unary")
def _unary(p, xs):
    """x ← scale · x + shift (scale 0 in the proto means 1), then the operation."""
    x = xs[0]
    scale = F32(p.scale) if p.scale != 0 else F32(1)
    x = scale * x + F32(p.shift)
    return UNARY[p.type](x, p)


@layer("activation")
def _activation(p, xs):
    x = xs[0]
    kind = p.WhichOneof("NonlinearityType")
    if kind == "sigmoid":
        return F32(1) / (F32(1) + np.exp(-x))
    if kind == "linear":
        return F32(p.linear.alpha) * x + F32(p.linear.beta)
    raise SpecError(f"activation {kind!r} is not implemented")


@layer("softmax")
def _softmax(p, xs):
    x = xs[0]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@layer("greaterEqual")
def _greater_equal(p, xs):
    other = xs[1] if len(xs) > 1 else F32(p.alpha)
    return (xs[0] >= other).astype(F32)


@layer("clip")
def _clip(p, xs):
    return np.clip(xs[0], F32(p.minVal), F32(p.maxVal))


@layer("reduce")
def _reduce(p, xs):
    if p.mode != 0 or p.axis != 2:  # SUM over C
        raise SpecError("reduce: only SUM over the channel axis is implemented")
    return xs[0].sum(axis=1, keepdims=True, dtype=F32)


def run_layers(params: Any, description: Any, inputs: dict) -> dict[str, np.ndarray]:
    blobs: dict[str, np.ndarray] = {}
    for d in description.input:
        with np.errstate(over="ignore"):
            blobs[d.name] = _matrix(inputs[d.name]).astype(F32)
    for lyr in params.layers:
        kind = lyr.WhichOneof("layer")
        fn = LAYERS.get(kind)
        if fn is None:
            raise SpecError(f"neural network layer {lyr.name!r}: {kind!r} is not implemented; "
                            f"known: {sorted(LAYERS)}")
        missing = [i for i in lyr.input if i not in blobs]
        if missing or len(lyr.output) != 1:
            raise SpecError(f"layer {lyr.name!r}: unknown inputs {missing} or not one output")
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            y = np.asarray(fn(getattr(lyr, kind), [blobs[i] for i in lyr.input]), dtype=F32)
        blobs[lyr.output[0]] = y
    return blobs


@evaluates("neuralNetwork")
def _neural_network(params, description, inputs):
    blobs = run_layers(params, description, inputs)
    return {d.name: blobs[d.name].astype(np.float64) for d in description.output}


@evaluates("neuralNetworkRegressor")
def _neural_network_regressor(params, description, inputs):
    blobs = run_layers(params, description, inputs)
    out = {}
    for d in description.output:
        v = blobs[d.name].astype(np.float64)
        out[d.name] = v.reshape(-1) if d.type.WhichOneof("Type") == "doubleType" else v
    return out


@evaluates("neuralNetworkClassifier")
def _neural_network_classifier(params, description, inputs):
    """Probabilities = the blob named `labelProbabilityLayerName` (else the last layer's)."""
    blobs = run_layers(params, description, inputs)
    name = params.labelProbabilityLayerName or params.layers[-1].output[0]
    probs = blobs[name].astype(np.float64)
    labels = class_labels(params)
    if probs.shape[1] != len(labels):
        raise SpecError(f"neuralNetworkClassifier: {probs.shape[1]} scores for {len(labels)} "
                        "classes")
    out = classifier_outputs(description, labels, probs)
    # other declared outputs are blobs of the network (a clusterer's distances)
    out.update({d.name: blobs[d.name].astype(np.float64) for d in description.output
                if d.name not in out and d.name in blobs})
    return out
