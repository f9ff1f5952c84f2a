"""What an ONNX graph's structure alone decides, remembered across the snapshots of a learning
model: the shapes ONNX inference gives its tensors (which `broadcast.prebroadcast` reads) and
that `onnx.checker` passed it.

A model that keeps learning exports graphs of one structure again and again (a Scaler|LogReg
snapshot differs from the last one in its weights, means and variances only), and both results
depend on the structure only: the nodes with their attributes, the graph's inputs and outputs,
each constant's name, type and dims, and the values of those constants whose values can decide
a shape (integers: axes, shapes, indices; or a float read by an op outside `DIMS_ONLY`, such
as Range). `key` hashes exactly that; float constants read only by `DIMS_ONLY` ops (element-wise
arithmetic, reductions over int axes, Concat, Gather's data...) enter by type and dims. Shape
inference and the checker then ran for a graph whose differences from this one cannot change
either result; a linear model's export skips ~0.5 ms of the two (benchmarks/README.md, issue
17). Graphs of more than `MAX_BYTES` (trees, whose attributes change with every split and leaf)
are not keyed: hashing them would cost more than it saves.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import onnx
from onnx import TensorProto

# ai.onnx ops whose output shapes follow from their inputs' shapes (and integer inputs, which
# are always keyed by value), never from a float input's values
DIMS_ONLY = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Greater", "Less", "Equal", "GreaterOrEqual",
    "LessOrEqual", "And", "Or", "Xor", "Not", "Where", "Max", "Min", "Sum", "Mean", "Abs", "Neg",
    "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Sign", "IsNaN", "IsInf", "Sigmoid",
    "Tanh", "Relu", "Erf", "Clip", "Identity", "Cast", "Concat", "Gather", "GatherElements",
    "MatMul", "Softmax", "LogSoftmax", "ArgMax", "ArgMin", "ReduceSum", "ReduceMax",
    "ReduceMin", "ReduceMean", "ReduceProd", "ReduceLogSumExp", "ReduceSumSquare", "Expand",
    "Transpose", "Unsqueeze", "Squeeze", "Reshape", "Slice", "Tile", "Shape", "Size"})
FLOATS = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16,
                    TensorProto.BFLOAT16})
MAX_BYTES = 65_536  # a Scaler|LogReg graph is ~3 kB; the 861-node tree's ~450 kB
MAX_HELD = 32


@dataclass(frozen=True)
class Known:
    """What a graph of this structure gave: its inferred shapes (tensor name → dims) and
    whether `onnx.checker` (full check) passed it."""

    shapes: dict
    checked: bool


_KNOWN: OrderedDict[bytes, Known] = OrderedDict()


def _part(h, data: bytes) -> None:
    h.update(len(data).to_bytes(8, "little"))
    h.update(data)


def key(model: onnx.ModelProto) -> bytes | None:
    """The structure's digest (module docstring), or None for a graph past `MAX_BYTES` or with
    subgraphs (their constants are not walked here)."""
    if model.ByteSize() > MAX_BYTES:
        return None
    graph = model.graph
    readers: dict[str, set] = {}
    h = hashlib.sha256()
    _part(h, str((model.ir_version, [(o.domain, o.version) for o in model.opset_import]))
          .encode())
    for node in graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for a in node.attribute):
            return None
        _part(h, node.SerializeToString(deterministic=True))
        op = node.op_type if node.domain in ("", "ai.onnx") else None
        for name in node.input:
            readers.setdefault(name, set()).add(op)
    for value in (*graph.input, *graph.output, *graph.value_info):
        _part(h, value.SerializeToString(deterministic=True))
    for t in graph.initializer:
        by_dims = t.data_type in FLOATS and readers.get(t.name, set()) <= DIMS_ONLY
        if by_dims:
            _part(h, str((t.name, t.data_type, tuple(t.dims))).encode())
        else:
            _part(h, t.SerializeToString(deterministic=True))
    return h.digest()


def known(digest: bytes | None) -> Known | None:
    """What a graph of this structure gave before, or None."""
    if digest is None:
        return None
    found = _KNOWN.get(digest)
    if found is not None:
        try:
            _KNOWN.move_to_end(digest)
        except KeyError:  # another thread's `remember` dropped it just now: still valid
            pass
    return found


def remember(digest: bytes | None, shapes: dict, checked: bool) -> None:
    """Keep what a graph of this structure gave (the last `MAX_HELD` structures)."""
    if digest is None:
        return
    _KNOWN[digest] = Known(shapes, checked)
    try:  # exports in threads share this memo: another one may drop entries meanwhile
        _KNOWN.move_to_end(digest)
        while len(_KNOWN) > MAX_HELD:
            _KNOWN.popitem(last=False)
    except KeyError:
        pass


def forget() -> None:
    """Drop every structure held (a benchmark's cold round, a test)."""
    _KNOWN.clear()


__all__ = ["Known", "forget", "key", "known", "remember"]
