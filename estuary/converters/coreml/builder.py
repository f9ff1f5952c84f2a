"""A small builder of Core ML specs: typed feature descriptions, pipeline stages with unique
feature names, and a NeuralNetwork layer list with float32 parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..._coremltools import FeatureTypes_pb2 as ft
from ..._coremltools import Model_pb2
from ..._coremltools import NeuralNetwork_pb2 as nn

SPEC_VERSION = 4  # iOS 13 / macOS 10.15: the neural-network comparison and clip layers
FLT_MAX = float(np.finfo(np.float32).max)
DBL_MAX = float(np.finfo(np.float64).max)


def array_type(n: int) -> Any:
    t = ft.FeatureType()
    t.multiArrayType.shape.append(n)
    t.multiArrayType.dataType = ft.ArrayFeatureType.DOUBLE
    return t


def double_type() -> Any:
    t = ft.FeatureType()
    t.doubleType.SetInParent()
    return t


def int64_type() -> Any:
    t = ft.FeatureType()
    t.int64Type.SetInParent()
    return t


def scores_type() -> Any:
    t = ft.FeatureType()
    t.dictionaryType.int64KeyType.SetInParent()
    return t


def describe(desc: Any, inputs: list[tuple[str, Any]], outputs: list[tuple[str, Any]],
             classifier: bool = False) -> None:
    for name, t in inputs:
        desc.input.add(name=name).type.CopyFrom(t)
    for name, t in outputs:
        desc.output.add(name=name).type.CopyFrom(t)
    if classifier:
        desc.predictedFeatureName = "label"
        desc.predictedProbabilitiesName = "probabilities"


class Stages:
    """The models of a pipeline, in order; every feature name it hands out is unique."""

    def __init__(self) -> None:
        self.models: list[Any] = []
        self.float32 = False  # True once a tree or a neural network computes something
        # Scale outputs → (the Scaler's input, offsets, divisors): trees fold River's division
        self.affine: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def add(self, kind: str, inputs: list[tuple[str, Any]], outputs: list[tuple[str, Any]],
            fill: Callable[[Any], None], classifier: bool = False) -> Any:
        m = Model_pb2.Model(specificationVersion=SPEC_VERSION)
        describe(m.description, inputs, outputs, classifier)
        fill(getattr(m, kind))
        self.models.append(m)
        return m

    def array(self, kind: str, x: str, width: int, out_width: int, fill: Callable, hint: str) -> str:
        """A one-input, one-output stage over DOUBLE arrays; returns the output name."""
        out = self.name(hint)
        self.add(kind, [(x, array_type(width))], [(out, array_type(out_width))], fill)
        return out

    # classic float64 stages over DOUBLE arrays

    def extract(self, x: str, width: int, index: list[int], hint: str = "extracted") -> str:
        """ArrayFeatureExtractor: x[index]."""
        return self.array("arrayFeatureExtractor", x, width, len(index),
                          lambda p: p.extractIndex.extend(int(i) for i in index), hint)

    def scaler(self, x: str, width: int, shift: Any, scale: Any, hint: str = "scaled") -> str:
        """Scaler: scale · (x + shift), element-wise (scalars are repeated)."""
        shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), (width,))
        scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (width,))

        def fill(p: Any) -> None:
            p.shiftValue.extend(shift.tolist())
            p.scaleValue.extend(scale.tolist())

        return self.array("scaler", x, width, width, fill, hint)

    def replace(self, x: str, width: int, old: float, new: float, hint: str = "replaced") -> str:
        """Imputer: every element equal to `old` (NaN: every NaN) becomes `new` (an array input
        takes its values from `imputedDoubleArray`, as Apple's Imputer documents)."""

        def fill(p: Any) -> None:
            p.imputedDoubleArray.vector.extend([float(new)] * width)
            p.replaceDoubleValue = float(old)

        return self.array("imputer", x, width, width, fill, hint)

    def vectorize(self, parts: list[tuple[str, int]], hint: str = "joined") -> str:
        """FeatureVectorizer: the parts' arrays one after the other."""
        if len(parts) == 1:
            return parts[0][0]
        out = self.name(hint)

        def fill(p: Any) -> None:
            for name, width in parts:
                p.inputList.add(inputColumn=name, inputDimensions=width)

        self.add("featureVectorizer", [(n, array_type(w)) for n, w in parts],
                 [(out, array_type(sum(w for _, w in parts)))], fill)
        return out

    def glm(self, x: str, W: np.ndarray, b: Any = None, hint: str = "glm",
            output: str | None = None) -> str:
        """GLMRegressor (float64): W [K, width] · x + b; `output` names a double scalar output."""
        W = np.asarray(W, dtype=np.float64)
        b = np.zeros(W.shape[0]) if b is None else np.asarray(b, dtype=np.float64)

        def fill(p: Any) -> None:
            for row in W:
                p.weights.add().value.extend(row.tolist())
            p.offset.extend(b.tolist())

        if output is None:
            return self.array("glmRegressor", x, W.shape[1], W.shape[0], fill, hint)
        self.add("glmRegressor", [(x, array_type(W.shape[1]))], [(output, double_type())], fill)
        return output


class Layers:
    """NeuralNetwork layers on rank-1 blobs; parameters are float32 as the spec stores them."""

    def __init__(self) -> None:
        self.layers: list[Any] = []
        self._count = 0

    def _add(self, kind: str, inputs: list[str], hint: str) -> tuple[str, Any]:
        self._count += 1
        out = f"{hint}_{self._count}"
        layer = nn.NeuralNetworkLayer(name=f"l_{out}", input=inputs, output=[out])
        return out, layer, kind

    def _push(self, made: tuple, fill: Callable[[Any], None]) -> str:
        out, layer, kind = made
        fill(getattr(layer, kind))
        getattr(layer, kind).SetInParent()
        self.layers.append(layer)
        return out

    def inner(self, x: str, W: np.ndarray, bias: np.ndarray | None = None, hint: str = "ip") -> str:
        W = np.asarray(W, dtype=np.float64)

        def fill(p: Any) -> None:
            p.outputChannels, p.inputChannels = W.shape
            p.weights.floatValue.extend(W.astype(np.float32).ravel().tolist())
            if bias is not None:
                p.hasBias = True
                p.bias.floatValue.extend(np.asarray(bias, np.float32).ravel().tolist())

        return self._push(self._add("innerProduct", [x], hint), fill)

    def add(self, *xs: str, alpha: float = 0.0, hint: str = "add") -> str:
        return self._push(self._add("add", list(xs), hint), lambda p: setattr(p, "alpha", alpha))

    def mul(self, *xs: str, alpha: float = 1.0, hint: str = "mul") -> str:
        return self._push(self._add("multiply", list(xs), hint),
                          lambda p: setattr(p, "alpha", alpha))

    def unary(self, x: str, op: str, scale: float = 1.0, shift: float = 0.0,
              hint: str = "unary") -> str:
        def fill(p: Any) -> None:
            p.type = nn.UnaryFunctionLayerParams.Operation.Value(op)
            p.scale, p.shift = scale, shift

        return self._push(self._add("unary", [x], hint or op.lower()), fill)

    def sigmoid(self, x: str) -> str:
        return self._push(self._add("activation", [x], "sigmoid"),
                          lambda p: p.sigmoid.SetInParent())

    def linear(self, x: str, alpha: float, beta: float) -> str:
        def fill(p: Any) -> None:
            p.linear.alpha, p.linear.beta = alpha, beta

        return self._push(self._add("activation", [x], "linear"), fill)

    def softmax(self, x: str) -> str:
        return self._push(self._add("softmax", [x], "softmax"), lambda p: None)

    def greater_equal(self, x: str, alpha: float) -> str:
        return self._push(self._add("greaterEqual", [x], "ge"),
                          lambda p: setattr(p, "alpha", alpha))

    def clip(self, x: str, lo: float = -FLT_MAX, hi: float = FLT_MAX) -> str:
        def fill(p: Any) -> None:
            p.minVal, p.maxVal = lo, hi

        return self._push(self._add("clip", [x], "clip"), fill)

    def classifier(self, stages: Stages, inputs: list[tuple[str, int]], probs: str,
                   n_classes: int) -> None:
        """A NeuralNetworkClassifier stage: `label` and `probabilities` over class indices."""

        def fill(p: Any) -> None:
            p.layers.extend(self.layers)
            p.labelProbabilityLayerName = probs
            p.int64ClassLabels.vector.extend(range(n_classes))

        stages.add("neuralNetworkClassifier", [(n, array_type(w)) for n, w in inputs],
                   [("label", int64_type()), ("probabilities", scores_type())], fill,
                   classifier=True)
        stages.float32 = True

    def regressor(self, stages: Stages, inputs: list[tuple[str, int]], value: str) -> None:
        """A NeuralNetworkRegressor stage whose blob `value` is the prediction."""
        for layer in self.layers:
            if layer.output[0] == value:
                break
        else:
            raise ValueError(f"no layer outputs {value!r}")
        layer.output[0] = "value"

        def fill(p: Any) -> None:
            p.layers.extend(self.layers)

        stages.add("neuralNetworkRegressor", [(n, array_type(w)) for n, w in inputs],
                   [("value", double_type())], fill)
        stages.float32 = True
