"""ONNX for the forecasters (River's HoltWinters, SNARIMAX): `ir.arithmetic.holt_winters` and
`unrolled_forecasts` in float64 on the `step` column."""

from __future__ import annotations

from ...ir.forecast import HoltWinters, Snarimax, holt_winters, snarimax
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context


@register_emitter("onnx", HoltWinters)
def holt_winters_forecast(est: HoltWinters, ctx: Context) -> dict[str, str]:
    return {"value": holt_winters(OnnxOps(ctx.graph), est, ctx.x)}


@register_emitter("onnx", Snarimax)
def snarimax_forecast(est: Snarimax, ctx: Context) -> dict[str, str]:
    return {"value": snarimax(OnnxOps(ctx.graph), est, ctx.x)}
