"""TF.js for the forecasters (River's HoltWinters, SNARIMAX).

HoltWinters: `ir.arithmetic.holt_winters` on the `step` column in float32 (a few operations on
the frozen state: within float32's tolerance).

SNARIMAX: `ir.arithmetic.unrolled_forecasts` runs here, at export, in float64 (`NUMPY`), and the
graph only picks forecast[step - 1] (`forecast_at`). A per-format rewrite of the block: the
forecasts depend on the frozen state alone, and unrolled in float32 the recursion feeds each
step's rounding into the next (1.7e-5 of River's at step 36 of p=12, q=12, m=12, above the 1e-5
float32 tolerance); folded in float64 each forecast is rounded once.
"""

from __future__ import annotations

from ...ir.arithmetic import NUMPY, forecast_at
from ...ir.forecast import HoltWinters, Snarimax, holt_winters
from ..registry import register_emitter
from .graph import TfjsOps
from .transforms import FORMAT, Context


@register_emitter(FORMAT, HoltWinters)
def holt_winters_forecast(est: HoltWinters, ctx: Context) -> dict[str, str]:
    return {"value": holt_winters(TfjsOps(ctx.graph), est, ctx.x)}


@register_emitter(FORMAT, Snarimax)
def snarimax_forecast(est: Snarimax, ctx: Context) -> dict[str, str]:
    o = TfjsOps(ctx.graph)
    folded = [o.const(float(v)) for v in est.forecasts(NUMPY)]  # float64, rounded once each
    return {"value": forecast_at(o, ctx.x, folded)}
