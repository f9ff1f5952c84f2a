"""ONNX for the IR transforms: Select, Scale, OneHot, Chain, Union (all float64)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ... import ir
from ..registry import emit, register_emitter
from .graph import Graph

Tensor = tuple[str, tuple[str, ...]]  # tensor name and its column names


@dataclass(frozen=True)
class Context:
    """What every ONNX emitter `emit(node, ctx)` writes into and reads: the graph (which knows
    its opset), the input tensor `x` [N, F], and its column names. Transforms return a
    `Tensor`, estimators their named outputs (`probabilities` or `value`)."""

    graph: Graph
    x: str
    columns: tuple[str, ...] = ()

    def at(self, x: str, columns: tuple[str, ...] | None = None) -> Context:
        """The same graph, another input."""
        return replace(self, x=x, columns=self.columns if columns is None else columns)


def emit_transform(step: ir.Transform, ctx: Context) -> Tensor:
    return emit("onnx", step, ctx)


def take(g: Graph, x: str, columns: tuple[str, ...], wanted: tuple[str, ...]) -> str:
    """The `wanted` columns of `x`, in order; no node at all when nothing moves."""
    if wanted == columns:
        return x
    pos = {c: i for i, c in enumerate(columns)}
    return g.gather_columns(x, [pos[c] for c in wanted])


@register_emitter("onnx", ir.Select)
def select(step: ir.Select, ctx: Context) -> Tensor:
    g, x, columns = ctx.graph, ctx.x, ctx.columns
    return take(g, x, columns, step.columns), step.columns


@register_emitter("onnx", ir.Scale)
def scale(step: ir.Scale, ctx: Context) -> Tensor:
    g, x = ctx.graph, ctx.x
    divisor = np.asarray(step.divisor, dtype=np.float64)
    zero = divisor == 0
    scaled = g.op("Div", g.op("Sub", x, g.const([step.offset])),
                  g.const([np.where(zero, 1.0, divisor)]))
    if zero.any():  # River's rule: zero variance → 0.0, but a missing value stays missing
        zeroed = g.op("Where", g.const([zero], np.bool_), g.const(0.0), scaled)
        scaled = g.op("Where", g.op("IsNaN", x), x, zeroed)
    return scaled, step.columns


@register_emitter("onnx", ir.OneHot)
def one_hot(step: ir.OneHot, ctx: Context) -> Tensor:
    g, x, columns = ctx.graph, ctx.x, ctx.columns
    picked = take(g, x, columns, step.source)
    return (picked if step.missing_as_nan else g.nan_to_zero(picked)), step.target


@register_emitter("onnx", ir.Chain)
def chain(step: ir.Chain, ctx: Context) -> Tensor:
    x, columns = ctx.x, ctx.columns
    for s in step.steps:
        x, columns = emit_transform(s, ctx.at(x, columns))
    return x, columns


@register_emitter("onnx", ir.Union)
def union(step: ir.Union, ctx: Context) -> Tensor:
    g, columns = ctx.graph, ctx.columns
    parts = [emit_transform(b, ctx) for b in step.branches]
    joined = g.op("Concat", *[p[0] for p in parts], axis=1)
    all_columns = tuple(c for p in parts for c in p[1])
    out = step.output_columns(columns)
    first = {}
    for i, c in enumerate(all_columns):
        first.setdefault(c, i)  # River's union: the first transformer wins a duplicate key
    if list(first.values()) == list(range(len(all_columns))):
        return joined, out
    return g.gather_columns(joined, [first[c] for c in out]), out
