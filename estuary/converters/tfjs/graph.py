"""A small builder for a TensorFlow GraphDef in the JSON form TF.js graph models use.

Every constant is a `Const` node whose value lives in the weight shards (the graph model format
keeps no inline tensors); every tensor is float32, int32 or bool, the dtypes TF.js has.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...ir.arithmetic import GraphOps

DTYPES = {  # numpy dtype → (TF DataType name, TF.js weight dtype)
    np.dtype(np.float32): ("DT_FLOAT", "float32"),
    np.dtype(np.int32): ("DT_INT32", "int32"),
    np.dtype(np.bool_): ("DT_BOOL", "bool"),
}
FLOAT32_MAX = float(np.finfo(np.float32).max)


def shape_attr(shape: tuple[int, ...]) -> dict:
    return {"dim": [{"size": str(int(d))} for d in shape]} if shape else {}


def attr_value(value: Any) -> dict:
    """A TF AttrValue in JSON: bool → b, int → i, numpy dtype → type."""
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    return {"type": DTYPES[np.dtype(value)][0]}


class Graph:
    """Accumulates GraphDef nodes and the weights of their constants; names are unique."""

    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.weights: list[tuple[str, np.ndarray]] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def placeholder(self, name: str, n_columns: int, dtype: Any = np.float32) -> str:
        """The graph input `name` [N, n_columns], made once (ensemble members share it)."""
        node = {"name": name, "op": "Placeholder", "attr": {
            "dtype": attr_value(dtype), "shape": {"shape": shape_attr((-1, n_columns))}}}
        same = [n for n in self.nodes if n["name"] == name]
        if same and same[0] != node:
            raise AssertionError(f"graph input {name!r} is already there with another shape")
        if not same:
            self.nodes.append(node)
        return name

    def const(self, value: Any, dtype: Any = np.float32, hint: str = "c") -> str:
        array = np.asarray(value, dtype=np.float64 if dtype is np.float32 else None)
        if dtype is np.float32:  # saturate rather than overflow to inf in single precision
            array = np.clip(array, -FLOAT32_MAX, FLOAT32_MAX)
        # np.array, not np.ascontiguousarray: that makes a scalar a [1] array, a size-1 dimension
        # that TF.js's cpu kernels broadcast element by element (their slow path)
        array = np.array(array, dtype=dtype, order="C")
        name = self.name(hint)
        tf_type = DTYPES[array.dtype][0]
        self.nodes.append({"name": name, "op": "Const", "attr": {
            "value": {"tensor": {"dtype": tf_type, "tensorShape": shape_attr(array.shape)}},
            "dtype": {"type": tf_type}}})
        self.weights.append((name, array))
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, name: str | None = None,
           **attrs: Any) -> str:
        out = name or self.name(hint or op_type.lower())
        node: dict = {"name": out, "op": op_type, "input": list(inputs)}
        if attrs:
            node["attr"] = {k: attr_value(v) for k, v in attrs.items()}
        self.nodes.append(node)
        return out

    def rename(self, old: str, new: str) -> str:
        """Give node `old` the name `new` (an output name) instead of adding an Identity node:
        TF.js's executor spends ~2 µs on every node."""
        def renamed(ref: str) -> str:  # "old", "old:1" (an output index), "^old" (control)
            bare = ref.lstrip("^").split(":")[0]
            return ref.replace(old, new, 1) if bare == old else ref

        for node in self.nodes:
            if node["name"] == old:
                node["name"] = new
            if "input" in node:
                node["input"] = [renamed(i) for i in node["input"]]
        return new

    def axis(self, *axes: int) -> str:
        return self.const(list(axes) if len(axes) > 1 else axes[0], np.int32, "axis")

    def gather_columns(self, x: str, index: list[int]) -> str:
        return self.op("GatherV2", x, self.const(index, np.int32, "idx"), self.axis(1),
                       batch_dims=0)

    def where(self, condition: str, a: str, b: str) -> str:
        return self.op("SelectV2", condition, a, b)

    def nan_to_zero(self, x: str) -> str:
        return self.where(self.op("IsNan", x), self.const(0.0), x)

    def reduce(self, op_type: str, x: str, axis: int, keep_dims: bool) -> str:
        return self.op(op_type, x, self.const([axis], np.int32, "axis"), keep_dims=keep_dims)


class TfjsOps(GraphOps):
    """`ir.arithmetic.Ops` as TF.js graph nodes (float32). `sigmoid` is TF.js's own kernel,
    which computes 1 / (1 + exp(-z)) in double and rounds once: closer to River than the
    float32 formula."""

    NODE_TYPES = {"add": "AddV2", "sub": "Sub", "mul": "Mul", "div": "RealDiv", "exp": "Exp",
                  "log": "Log", "log1p": "Log1p", "sqrt": "Sqrt", "floor": "Floor", "sigmoid": "Sigmoid",
                  "less": "Less", "greater": "Greater", "equal": "Equal", "is_nan": "IsNan",
                  "where": "SelectV2", "max": "Max", "sum": "Sum", "matmul": "MatMul",
                  "erf": "Erf"}

    def concat_classes(self, parts: list[str]) -> str:
        return self.g.op("ConcatV2", *parts, self.g.axis(-1), N=len(parts))
