"""A small builder over `onnx.helper`: unique names, constants, and node creation, for one
ai.onnx opset (a node written in the opset-18+ form is rewritten for an older opset here, so
emitters write each op one way)."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

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

    def gather_columns(self, x: str, index: list[int]) -> str:
        return self.op("Gather", x, self.const(index, np.int64, "idx"), axis=1)

    def nan_to_zero(self, x: str) -> str:
        return self.op("Where", self.op("IsNaN", x), self.const(0.0), x)


DOUBLE = TensorProto.DOUBLE
INT64 = TensorProto.INT64
