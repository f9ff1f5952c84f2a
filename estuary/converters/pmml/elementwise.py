"""PMML for IR Fill and Binarize: River's formulas (`ir.arithmetic`) as one DerivedField per
rewritten column (double); the other columns keep their fields."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.elementwise import Binarize, Fill, Normalize
from ..registry import register_emitter
from .document import PmmlOps, ref
from .transforms import Context, Fields


@register_emitter("pmml", Fill)
def fill(step: Fill, ctx: Context) -> Fields:
    o, out = PmmlOps(ctx.doc), dict(ctx.fields)
    for c, value in zip(step.columns, step.values):
        expr = arithmetic.fill_missing(o, ref(out[c]), o.const(value))
        out[c] = ctx.doc.derive(f"filled({c})", expr)
    return out


@register_emitter("pmml", Binarize)
def binarize(step: Binarize, ctx: Context) -> Fields:
    o, out = PmmlOps(ctx.doc), dict(ctx.fields)
    for c in step.columns:
        out[c] = ctx.doc.derive(f"binarized({c})",
                                arithmetic.binarize(o, ref(out[c]), step.threshold))
    return out


@register_emitter("pmml", Normalize)
def normalize(step: Normalize, ctx: Context) -> Fields:
    o, doc = PmmlOps(ctx.doc), ctx.doc
    out = arithmetic.l2_normalize(o, [ref(ctx.fields[c]) for c in step.columns])
    return {c: doc.derive(f"normalized({c})", e) for c, e in zip(step.columns, out)}
