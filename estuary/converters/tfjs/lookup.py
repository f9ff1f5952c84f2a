"""TF.js for IR Lookup: River's `ir.arithmetic.lookup` in float32 (each group's statistic rounded
once to float32; one-hot products and the sums of zeros add no other rounding)."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.lookup import Lookup
from ..registry import register_emitter
from .graph import TfjsOps
from .transforms import FORMAT, Context, Tensor, take


@register_emitter(FORMAT, Lookup)
def lookup(step: Lookup, ctx: Context) -> Tensor:
    g = ctx.graph
    onehot = take(g, ctx.x, ctx.columns, step.sources)
    return arithmetic.lookup(TfjsOps(g), onehot, step.table, step.default), (step.target,)
