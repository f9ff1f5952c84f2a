"""TF.js graph ops for the IR transforms: Select, Scale, OneHot, Chain, Union (float32)."""

from __future__ import annotations

import numpy as np

from ... import ir
from ..registry import emitter_for, register_emitter
from .graph import Graph

FORMAT = "tfjs"
Tensor = tuple[str, tuple[str, ...]]  # tensor name and its column names


def emit_transform(step: ir.Transform, g: Graph, x: str, columns: tuple[str, ...]) -> Tensor:
    return emitter_for(FORMAT, step)(step, g, x, columns)


def take(g: Graph, x: str, columns: tuple[str, ...], wanted: tuple[str, ...]) -> str:
    """The `wanted` columns of `x`, in order; no node at all when nothing moves."""
    if wanted == columns:
        return x
    pos = {c: i for i, c in enumerate(columns)}
    return g.gather_columns(x, [pos[c] for c in wanted])


@register_emitter(FORMAT, ir.Select)
def select(step: ir.Select, g: Graph, x: str, columns: tuple[str, ...]) -> Tensor:
    return take(g, x, columns, step.columns), step.columns


@register_emitter(FORMAT, ir.Scale)
def scale(step: ir.Scale, g: Graph, x: str, columns: tuple[str, ...]) -> Tensor:
    divisor = np.asarray(step.divisor, dtype=np.float64)
    zero = divisor == 0
    scaled = g.op("RealDiv", g.op("Sub", x, g.const(step.offset)),  # [F]: flat, see graph.py
                  g.const(np.where(zero, 1.0, divisor)))
    if zero.any():  # River's rule: zero variance → 0.0, but a missing value stays missing
        zeroed = g.where(g.const(zero, np.bool_), g.const(0.0), scaled)
        scaled = g.where(g.op("IsNan", x), x, zeroed)
    return scaled, step.columns


@register_emitter(FORMAT, ir.OneHot)
def one_hot(step: ir.OneHot, g: Graph, x: str, columns: tuple[str, ...]) -> Tensor:
    picked = take(g, x, columns, step.source)
    return (picked if step.missing_as_nan else g.nan_to_zero(picked)), step.target


@register_emitter(FORMAT, ir.Chain)
def chain(step: ir.Chain, g: Graph, x: str, columns: tuple[str, ...]) -> Tensor:
    for s in step.steps:
        x, columns = emit_transform(s, g, x, columns)
    return x, columns


@register_emitter(FORMAT, ir.Union)
def union(step: ir.Union, g: Graph, x: str, columns: tuple[str, ...]) -> Tensor:
    parts = [emit_transform(b, g, x, columns) for b in step.branches]
    joined = g.op("ConcatV2", *[p[0] for p in parts], g.axis(1), N=len(parts))
    all_columns = tuple(c for p in parts for c in p[1])
    out = step.output_columns(columns)
    first: dict[str, int] = {}
    for i, c in enumerate(all_columns):
        first.setdefault(c, i)  # River's union: the first transformer wins a duplicate key
    if list(first.values()) == list(range(len(all_columns))):
        return joined, out
    return g.gather_columns(joined, [first[c] for c in out]), out
