"""Constants shaped for onnxruntime's fast element-wise loops; the graph's results are unchanged.

Broadcasting gives the same numbers whatever the constants' shapes, but onnxruntime's CPU kernels
(1.32, one thread, float64, 1,000 rows; `benchmarks/README.md`, issue 17) take a per-row loop
for two shapes the emitters write everywhere:
- an [N, K] tensor with a constant of lower rank (a scalar `1.0`, a `[K]` intercept): ~10 µs a
  node against ~1 µs once the constant has the tensor's rank ([1, 1], [1, K]);
- an [N, F] tensor with a [1, F] constant (per-column offsets, divisors, weights): ~12 µs a node
  at F = 9; expanded once to [N, F] (`Expand` to the other operand's `Shape`, ~3 µs) the op is
  one flat loop (~2 µs).
`prebroadcast` rewrites a built model that way: constants of broadcasting ops get the rank of
the node's output, and a two-operand op whose constant repeats along an axis the other operand
spans reads the constant expanded to that operand's shape. `Where` keeps its constants as they
are (its full-shaped form is slower). Shapes come from ONNX shape inference; a node whose output
shape is not inferred is left alone.
"""

from __future__ import annotations

import math

import onnx
from onnx import helper, numpy_helper

from ..names import unique_name

RANKED = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Greater", "Less", "Equal",
                    "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Where"})
EXPANDED = RANKED - {"Where"}  # two operands: Expand(c, Shape(other)) is the output's shape

Dims = tuple[int | str | None, ...]


def _dims(value: onnx.ValueInfoProto) -> Dims | None:
    kind = value.type.tensor_type
    if not kind.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                 for d in kind.shape.dim)


def _repeats(const: tuple[int, ...], other: Dims) -> bool:
    """True when a constant of shape `const` (other's rank) repeats along an axis `other` spans
    and holds more than one value (a one-value constant is already on the fast path)."""
    return (math.prod(const) > 1 and len(const) == len(other)
            and any(c == 1 and o != 1 for c, o in zip(const, other)))


def inferred_shapes(model: onnx.ModelProto) -> dict[str, Dims | None]:
    """Tensor name → dims ONNX shape inference gives it (`_inferred`)."""
    inferred = _inferred(model)
    return {v.name: _dims(v) for v in (*inferred.input, *inferred.value_info, *inferred.output)}


class _Rewriter:
    def __init__(self, model: onnx.ModelProto, shapes: dict[str, Dims | None]):
        graph = model.graph
        self.shapes = shapes  # read only: it may be held for graphs of this structure
        self.consts = {t.name: t for t in graph.initializer}
        self.names = {n for node in graph.node for n in (*node.input, *node.output)}
        self.names |= set(self.consts) | {i.name for i in graph.input}
        self.added: list[onnx.TensorProto] = []
        self.made: dict[tuple, str] = {}  # (what, inputs) → tensor name, made once

    def fresh(self, hint: str) -> str:
        return unique_name(hint, self.names, "_", 1)

    def ranked(self, name: str, rank: int) -> str:
        """The constant `name` with leading 1s up to `rank` (the same values)."""
        dims = tuple(self.consts[name].dims)
        if len(dims) >= rank:
            return name
        key = ("rank", name, rank)
        if key not in self.made:
            new = self.fresh(f"{name}_r{rank}")
            tensor = _reshaped(self.consts[name], new, (1,) * (rank - len(dims)) + dims)
            self.consts[new] = tensor
            self.added.append(tensor)
            self.made[key] = new
        return self.made[key]

    def expanded(self, name: str, other: str, before: list) -> str:
        """`name` expanded to the shape of `other` (Shape and Expand nodes made once each;
        tensors whose inferred dims are all known, symbols included, share them: one symbol is
        one size throughout an ONNX graph)."""
        dims = self.shapes[other]
        like = dims if all(d is not None for d in dims) else other
        shape = self.made.get(("shape", like))
        if shape is None:
            shape = self.made[("shape", like)] = self.fresh(f"shape_of_{other}")
            before.append(helper.make_node("Shape", [other], [shape], name=self.fresh(f"n_{shape}")))
        key = ("expand", name, like)
        if key not in self.made:
            out = self.made[key] = self.fresh(f"{name}_as_{other}")
            before.append(helper.make_node("Expand", [name, shape], [out],
                                           name=self.fresh(f"n_{out}")))
        return self.made[key]

    def node(self, node: onnx.NodeProto) -> list:
        """The nodes to insert before `node`, after rewriting its constant inputs in place
        (expanded only against an operand of the output's own shape: [N, F] with [1, F])."""
        before: list = []
        if node.op_type not in RANKED or node.domain not in ("", "ai.onnx"):
            return before
        out = self.shapes.get(node.output[0])
        if out is None:
            return before
        for i, name in enumerate(node.input):
            if name not in self.consts:
                continue
            name = node.input[i] = self.ranked(name, len(out))
            if node.op_type not in EXPANDED or len(node.input) != 2:
                continue
            other = node.input[1 - i]
            other_dims = self.shapes.get(other)
            if (other not in self.consts and other_dims == out
                    and _repeats(tuple(self.consts[name].dims), out)):
                node.input[i] = self.expanded(name, other, before)
        return before


def _reshaped(const: onnx.TensorProto, name: str, dims: tuple[int, ...]) -> onnx.TensorProto:
    """`const` named `name` with `dims` (the same number of values): a copy of its raw bytes
    with new dims (~1 µs) when it holds them as `from_array` writes them; else through numpy
    (~6 µs), which writes the same fields."""
    plain = (const.HasField("raw_data") and not const.external_data and not const.doc_string
             and not const.HasField("segment") and const.data_location == onnx.TensorProto.DEFAULT)
    if not plain:
        return numpy_helper.from_array(numpy_helper.to_array(const).reshape(dims), name)
    tensor = onnx.TensorProto()
    tensor.CopyFrom(const)
    tensor.name = name
    del tensor.dims[:]
    tensor.dims.extend(dims)
    return tensor


SMALL = 64  # constants up to this many values stay constants for shape inference


def _inferred(model: onnx.ModelProto) -> onnx.GraphProto:
    """The graph with inferred shapes, from a light copy: large constants (tree tables, weight
    matrices) enter as typed inputs of their shape, so inference does not copy their data
    (a 1.5 MB tree's export took 20 ms more the plain way); small ones (axes, shapes, scalars)
    stay constants, which shape-dependent nodes such as Reshape need."""
    graph = model.graph
    small = [t for t in graph.initializer if math.prod(t.dims) <= SMALL]
    typed = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
             for t in graph.initializer if math.prod(t.dims) > SMALL]
    light = helper.make_model(
        helper.make_graph(list(graph.node), graph.name, [*graph.input, *typed],
                          list(graph.output), initializer=small),
        opset_imports=list(model.opset_import), ir_version=model.ir_version)
    return onnx.shape_inference.infer_shapes(light).graph


def prebroadcast(model: onnx.ModelProto,
                 shapes: dict[str, Dims | None] | None = None) -> onnx.ModelProto:
    """Rewrite `model`'s graph in place for onnxruntime's fast loops (same results) and return
    it; the constants it replaced, no longer read, are dropped. `shapes`: `inferred_shapes` of
    this graph (or of one of the same structure, `structure.key`), inferred here if None."""
    graph = model.graph
    rewriter = _Rewriter(model, inferred_shapes(model) if shapes is None else shapes)
    i = 0
    while i < len(graph.node):  # in place: a tree's large nodes are not copied
        before = rewriter.node(graph.node[i])
        for k, node in enumerate(before):
            graph.node.insert(i + k, node)
        i += len(before) + 1
    graph.initializer.extend(rewriter.added)
    read = {n for node in graph.node for n in node.input} | {o.name for o in graph.output}
    for k in reversed(range(len(graph.initializer))):
        if graph.initializer[k].name not in read:
            del graph.initializer[k]
    return model
