"""ONNX for IR Lookup: River's `ir.arithmetic.lookup` as float64 MatMuls on the group's one-hot
columns."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.lookup import Lookup
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context, Tensor, take


@register_emitter("onnx", Lookup)
def lookup(step: Lookup, ctx: Context) -> Tensor:
    g = ctx.graph
    onehot = take(g, ctx.x, ctx.columns, step.sources)
    return arithmetic.lookup(OnnxOps(g), onehot, step.table, step.default), (step.target,)
