"""A small builder over `onnx.helper`: unique names, constants, and node creation, for one
ai.onnx opset (a node written in the opset-18+ form is rewritten for an older opset here, so
emitters write each op one way)."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ...ir.arithmetic import GraphOps

ML_DOMAIN = "ai.onnx.ml"
DEFAULT_OPSET = 21
# ai.onnx 18 moved `axes` of these from an attribute to an input (ReduceSum moved at 13)
AXES_INPUT_SINCE_18 = frozenset({
    "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
    "ReduceLogSumExp", "ReduceSumSquare"})


class Graph:
    """Accumulates nodes and initializers; every tensor name it hands out is unique."""

    def __init__(self, opset: int = DEFAULT_OPSET) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self.opset = opset
        self._count = 0
        self._values: dict[str, np.ndarray] = {}  # constant name → value (for opset rewrites)

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Any, dtype: Any = np.float64, hint: str = "c") -> str:
        name = self.name(hint)
        array = np.asarray(value, dtype=dtype)
        self._values[name] = array
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, domain: str = "",
           n_out: int = 1, **attrs: Any) -> Any:
        if not domain and op_type in AXES_INPUT_SINCE_18 and self.opset < 18 and len(inputs) > 1:
            # before ai.onnx 18 these reductions take `axes` as an attribute, not an input
            attrs["axes"] = [int(a) for a in self._values[inputs[1]].ravel()]
            inputs = inputs[:1]
        outs = [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, domain=domain or None,
                                           name=self.name(f"n_{op_type}"), **attrs))
        return outs[0] if n_out == 1 else outs

    def used_initializers(self) -> list:
        """The initializers some node reads (an opset rewrite can leave an axes constant unread)."""
        read = {name for node in self.nodes for name in node.input}
        return [t for t in self.initializers if t.name in read]

    def rename(self, old: str, new: str) -> bool:
        """Call the tensor `old` `new` in every node, when a node of this graph makes it (not the
        graph's input or a constant): an output named so needs no Identity node (each node costs
        onnxruntime ~1 µs a call). False, and nothing renamed, otherwise."""
        if not any(old in node.output for node in self.nodes):
            return False
        for node in self.nodes:
            for names in (node.input, node.output):
                for i, name in enumerate(names):
                    if name == old:
                        names[i] = new
        return True

    def gather_columns(self, x: str, index: list[int]) -> str:
        return self.op("Gather", x, self.const(index, np.int64, "idx"), axis=1)

    def nan_to_zero(self, x: str) -> str:
        return self.op("Where", self.op("IsNaN", x), self.const(0.0), x)

    def reduce(self, op_type: str, x: str, axis: int, keepdims: bool = True) -> str:
        """ReduceSum / ReduceMax over one axis (axes as an input, ai.onnx 18+)."""
        return self.op(op_type, x, self.const([axis], np.int64), keepdims=int(keepdims))


class OnnxOps(GraphOps):
    """`ir.arithmetic.Ops` as ONNX nodes (float64); the sigmoid is River's formula."""

    NODE_TYPES = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "exp": "Exp",
                  "log": "Log", "sqrt": "Sqrt", "floor": "Floor", "less": "Less", "greater": "Greater",
                  "equal": "Equal", "is_nan": "IsNaN", "where": "Where", "max": "ReduceMax", "sum": "ReduceSum",
                  "matmul": "MatMul"}

    def log1p(self, s: str) -> str:
        """ONNX has no Log1p: Kahan's log(u) * s / (u - 1) with u = 1 + s (s itself if u == 1)."""
        g = self.g
        u = g.op("Add", g.const(1.0), s)
        same = g.op("Equal", u, g.const(1.0))
        safe_den = g.op("Where", same, g.const(1.0), g.op("Sub", u, g.const(1.0)))
        kahan = g.op("Div", g.op("Mul", g.op("Log", u), s), safe_den)
        return g.op("Where", same, s, kahan)

    def where(self, condition: Any, a: str, b: str) -> str:
        if isinstance(condition, np.ndarray):  # a mask known when the graph is written
            if condition.all() or not condition.any():
                return a if condition.all() else b
            condition = self.g.const(condition, np.bool_, "mask")
        return super().where(condition, a, b)

    def concat_classes(self, parts: list[str]) -> str:
        return self.g.op("Concat", *parts, axis=-1)

    def nearest(self, d: str, k: int) -> str:
        """TopK of the smallest (its spec and onnxruntime keep the lower index first among
        equal values, River's window order), scattered as 1.0 into zeros shaped like d."""
        g = self.g
        _, index = g.op("TopK", d, g.const([k], np.int64, "k"), axis=-1, largest=0, sorted=1,
                        n_out=2)
        one = helper.make_tensor("one", DOUBLE, [1], [1.0])
        zero = helper.make_tensor("zero", DOUBLE, [1], [0.0])
        zeros = g.op("ConstantOfShape", g.op("Shape", d), value=zero)
        ones = g.op("ConstantOfShape", g.op("Shape", index), value=one)
        return g.op("ScatterElements", zeros, index, ones, axis=-1)

DOUBLE = TensorProto.DOUBLE
INT64 = TensorProto.INT64
