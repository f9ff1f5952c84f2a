"""PMML for the forecasters (River's HoltWinters, SNARIMAX): `ir.arithmetic.holt_winters` and
`unrolled_forecasts` as double DerivedFields on the `step` field (floor is a PMML built-in), the
forecast through a RegressionTable."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.forecast import STEP, HoltWinters, Snarimax, holt_winters, snarimax
from ..registry import register_emitter
from .document import Head, PmmlOps, ref
from .linear import scores_head
from .transforms import Context


@register_emitter("pmml", HoltWinters)
def holt_winters_forecast(est: HoltWinters, ctx: Context) -> Head:
    o = PmmlOps(ctx.doc)
    value = holt_winters(o, est, ref(ctx.fields[STEP]))
    return scores_head(ctx.doc, o, arithmetic.Scores("value", [value]))


@register_emitter("pmml", Snarimax)
def snarimax_forecast(est: Snarimax, ctx: Context) -> Head:
    o = PmmlOps(ctx.doc)
    value = snarimax(o, est, ref(ctx.fields[STEP]))
    return scores_head(ctx.doc, o, arithmetic.Scores("value", [value]))
