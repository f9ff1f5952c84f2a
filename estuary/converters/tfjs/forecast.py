"""TF.js for the forecasters (River's HoltWinters, SNARIMAX): `ir.arithmetic.holt_winters` and
`unrolled_forecasts` on the `step` column, in float32 (the frozen state rounded once, every
operation rounded: the parity report measures it against the float32 tolerance)."""

from __future__ import annotations

from ...ir.forecast import HoltWinters, Snarimax, holt_winters, snarimax
from ..registry import register_emitter
from .graph import TfjsOps
from .transforms import FORMAT, Context


@register_emitter(FORMAT, HoltWinters)
def holt_winters_forecast(est: HoltWinters, ctx: Context) -> dict[str, str]:
    return {"value": holt_winters(TfjsOps(ctx.graph), est, ctx.x)}


@register_emitter(FORMAT, Snarimax)
def snarimax_forecast(est: Snarimax, ctx: Context) -> dict[str, str]:
    return {"value": snarimax(TfjsOps(ctx.graph), est, ctx.x)}
