"""TF.js graph ops for the IR transforms: Select, Scale, OneHot, Chain, Union (float32)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ... import ir
from ..registry import REFUSALS, emit, emitter_for, register_emitter
from .graph import Graph

FORMAT = "tfjs"
Tensor = tuple[str, tuple[str, ...]]  # tensor name and its column names


@dataclass(frozen=True)
class Context:
    """What every TF.js emitter `emit(node, ctx)` writes into and reads: the graph, the input
    `x` float32 [N, F] and its column names. An estimator's emitter also gets the `model` it
    ends: `x` is then the model's raw input, in schema order, because trees and linear models
    read the raw inputs (order keys, folded transforms); `transformed()` gives the others the
    estimator's input. Transforms return a `Tensor`, estimators their named outputs."""

    graph: Graph
    x: str
    columns: tuple[str, ...] = ()
    model: ir.Model | None = None

    def at(self, x: str, columns: tuple[str, ...] | None = None) -> Context:
        """The same graph, another input (and no model: a transform's context)."""
        return replace(self, x=x, columns=self.columns if columns is None else columns,
                       model=None)

    def transformed(self) -> str:
        """The model's transforms applied to the raw input, then the estimator's columns."""
        model = self.model
        if model is None:
            raise TypeError("transformed() needs the context of an estimator (ctx.model)")
        x, columns = emit_transform(model.transform, self.at(self.x, model.schema.columns))
        return take(self.graph, x, columns, model.estimator.columns)


def emit_transform(step: ir.Transform, ctx: Context) -> Tensor:
    return emit(FORMAT, step, ctx)


def refuse_declared(step: ir.Transform) -> None:
    """Raise a transform's declared TF.js refusal, with its reason, before an estimator that
    reads raw inputs (trees, folded linear models) looks past the transform and refuses for a
    reason of its own."""
    for node in (step, *getattr(step, "steps", ()), *getattr(step, "branches", ())):
        if node is step:
            if (FORMAT, type(node)) in REFUSALS:
                emitter_for(FORMAT, node)
        else:
            refuse_declared(node)


def emit_model(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    """The outputs of `model` read from `x` (float32 [N, F] in schema order): its estimator's
    registered emitter, with the whole model in the context. Ensemble members come back here as
    models of their own."""
    refuse_declared(model.transform)
    return emit(FORMAT, model.estimator, Context(g, x, model.schema.columns, model))


def take(g: Graph, x: str, columns: tuple[str, ...], wanted: tuple[str, ...]) -> str:
    """The `wanted` columns of `x`, in order; no node at all when nothing moves."""
    if wanted == columns:
        return x
    pos = {c: i for i, c in enumerate(columns)}
    return g.gather_columns(x, [pos[c] for c in wanted])


@register_emitter(FORMAT, ir.Select)
def select(step: ir.Select, ctx: Context) -> Tensor:
    g, x, columns = ctx.graph, ctx.x, ctx.columns
    return take(g, x, columns, step.columns), step.columns


@register_emitter(FORMAT, ir.Scale)
def scale(step: ir.Scale, ctx: Context) -> Tensor:
    g, x = ctx.graph, ctx.x
    divisor = np.asarray(step.divisor, dtype=np.float64)
    zero = divisor == 0
    scaled = g.op("RealDiv", g.op("Sub", x, g.const(step.offset)),  # [F]: flat, see graph.py
                  g.const(np.where(zero, 1.0, divisor)))
    if zero.any():  # River's rule: zero variance → 0.0, but a missing value stays missing
        zeroed = g.where(g.const(zero, np.bool_), g.const(0.0), scaled)
        scaled = g.where(g.op("IsNan", x), x, zeroed)
    return scaled, step.columns


@register_emitter(FORMAT, ir.OneHot)
def one_hot(step: ir.OneHot, ctx: Context) -> Tensor:
    g, x, columns = ctx.graph, ctx.x, ctx.columns
    picked = take(g, x, columns, step.source)
    return (picked if step.missing_as_nan else g.nan_to_zero(picked)), step.target


@register_emitter(FORMAT, ir.Chain)
def chain(step: ir.Chain, ctx: Context) -> Tensor:
    x, columns = ctx.x, ctx.columns
    for s in step.steps:
        x, columns = emit_transform(s, ctx.at(x, columns))
    return x, columns


@register_emitter(FORMAT, ir.Union)
def union(step: ir.Union, ctx: Context) -> Tensor:
    g, columns = ctx.graph, ctx.columns
    parts = [emit_transform(b, ctx) for b in step.branches]
    joined = g.op("ConcatV2", *[p[0] for p in parts], g.axis(1), N=len(parts))
    all_columns = tuple(c for p in parts for c in p[1])
    out = step.output_columns(columns)
    first: dict[str, int] = {}
    for i, c in enumerate(all_columns):
        first.setdefault(c, i)  # River's union: the first transformer wins a duplicate key
    if list(first.values()) == list(range(len(all_columns))):
        return joined, out
    return g.gather_columns(joined, [first[c] for c in out]), out
