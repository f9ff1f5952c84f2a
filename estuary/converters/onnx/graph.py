"""A small builder over `onnx.helper`: unique names, constants, and node creation."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ML_DOMAIN = "ai.onnx.ml"


class Graph:
    """Accumulates nodes and initializers; every tensor name it hands out is unique."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Any, dtype: Any = np.float64, hint: str = "c") -> str:
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, domain: str = "",
           n_out: int = 1, **attrs: Any) -> Any:
        outs = [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, domain=domain or None,
                                           name=self.name(f"n_{op_type}"), **attrs))
        return outs[0] if n_out == 1 else outs

    def gather_columns(self, x: str, index: list[int]) -> str:
        return self.op("Gather", x, self.const(index, np.int64, "idx"), axis=1)

    def nan_to_zero(self, x: str) -> str:
        return self.op("Where", self.op("IsNaN", x), self.const(0.0), x)


DOUBLE = TensorProto.DOUBLE
INT64 = TensorProto.INT64
