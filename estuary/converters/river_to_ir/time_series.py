"""River `time_series` forecasters → IR `HoltWinters` / `Snarimax` (task `forecast`).

The artifact's input is the step ahead (`step`, 1-based); its output River's
`forecast(horizon=step)[step - 1]` on the state frozen at snapshot time. Learning (which
advances the state) stays River's.
"""

from __future__ import annotations

from typing import Any

from river import compose, linear_model, optim, preprocessing, time_series

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.forecast import STEP, HoltWinters, Snarimax
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import EstimatorIR, require_learned

# SNARIMAX's forecast is a recursion over its own predictions: the artifact unrolls it this
# many steps (three seasons of a monthly series, and one more); a step beyond it gives NaN
SNARIMAX_HORIZON = 37


def _forecast_inputs(model: Any) -> dict:
    return {STEP: None}


HOLT_WINTERS_CASES = (
    Case("holt-winters(mul)", "AirlinePassengers", lambda: time_series.HoltWinters(
        alpha=0.3, beta=0.1, gamma=0.6, seasonality=12, multiplicative=True)),
    Case("holt-winters(add)", "AirlinePassengers", lambda: time_series.HoltWinters(
        alpha=0.3, beta=0.1, gamma=0.6, seasonality=12)),
    Case("holt-winters(level)", "AirlinePassengers", lambda: time_series.HoltWinters(alpha=0.4)),
    Case("holt-winters(trend,mul)", "AirlinePassengers", lambda: time_series.HoltWinters(
        alpha=0.4, beta=0.2, multiplicative=True)),
)


@register_extractor(time_series.HoltWinters, inputs=_forecast_inputs, kind="estimator",
                    produces=(HoltWinters,), cases=HOLT_WINTERS_CASES)
def holt_winters(m: time_series.HoltWinters, columns, ctx) -> EstimatorIR:
    """River's `forecast` reads level[-1], trend[-1] (when the trend deque is not empty) and
    season[-m + h % m] (when the season deque is not empty)."""
    require_learned(m._initialized, f"HoltWinters (it needs max(2, seasonality) = "
                    f"{max(2, m.seasonality)} values before it forecasts)")
    has_trend = bool(m.trend)
    season: tuple[float, ...] = ()
    if m.season:
        season = tuple(float(m.season[-m.seasonality + j]) for j in range(m.seasonality))
    est = HoltWinters((STEP,), float(m.level[-1]), float(m.trend[-1]) if has_trend else 0.0,
                      has_trend, season, bool(m.multiplicative))
    return EstimatorIR(est, "forecast")


def _snarimax_regressor():
    return (preprocessing.StandardScaler()
            | linear_model.LinearRegression(intercept_init=110, optimizer=optim.SGD(0.01),
                                            intercept_lr=0.3))


SNARIMAX_CASES = (
    Case("snarimax(p=12,d=1,q=12,m=12,sd=1)", "AirlinePassengers", lambda: time_series.SNARIMAX(
        p=12, d=1, q=12, m=12, sd=1, regressor=_snarimax_regressor())),
    Case("snarimax(p=2,q=1,m=12,sp=1,sq=1)", "AirlinePassengers", lambda: time_series.SNARIMAX(
        p=2, d=0, q=1, m=12, sp=1, sq=1, regressor=_snarimax_regressor())),
    Case("snarimax(p=3,d=2)|linreg", "AirlinePassengers", lambda: time_series.SNARIMAX(
        p=3, d=2, q=0, regressor=linear_model.LinearRegression(optimizer=optim.SGD(1e-6)))),
)


def _lags(m: time_series.SNARIMAX) -> list[tuple[str, str, int]]:
    """The lag keys `_add_lag_features` writes, in its order: (key, series, index)."""
    out = [(f"y-{t + 1}", "y", t) for t in range(m.p)]
    out += [(f"sy-{t + 1}", "y", t) for t in range(m.m - 1, m.m * m.sp, m.m)]
    out += [(f"e-{t + 1}", "e", t) for t in range(m.q)]
    out += [(f"se-{t + 1}", "e", t) for t in range(m.m - 1, m.m * m.sq, m.m)]
    return out


def _refuse(m: Any, reason: str) -> UnsupportedModelError:
    return UnsupportedModelError(m, supported_models(), reason=reason)


def _regressor_ir(m: time_series.SNARIMAX, names: tuple[str, ...], ctx) -> tuple:
    """(Scale or None, Linear) of the regressor over the lag keys; anything else is refused."""
    reg = m.regressor
    steps = list(reg.steps.values()) if isinstance(reg, compose.Pipeline) else [reg]
    known = (preprocessing.StandardScaler, linear_model.LinearRegression)
    if not (1 <= len(steps) <= 2 and isinstance(steps[-1], linear_model.LinearRegression)
            and all(type(s) in known for s in steps)
            and (len(steps) == 1 or type(steps[0]) is preprocessing.StandardScaler)):
        raise _refuse(m, "its forecast feeds the regressor's own predictions back as lags; "
                      "estuary unrolls that for a LinearRegression, optionally behind a "
                      "StandardScaler (the default regressor), not for "
                      f"{' | '.join(type(s).__name__ for s in steps)}")
    lin = extractor_for(steps[-1]).extract(steps[-1], names, ctx).estimator
    scale = extractor_for(steps[0]).extract(steps[0], names, ctx) if len(steps) == 2 else None
    return scale, lin


def _exogenous(m: time_series.SNARIMAX, names: tuple[str, ...]) -> list:
    reg = m.regressor
    last = list(reg.steps.values())[-1] if isinstance(reg, compose.Pipeline) else reg
    return sorted(str(k) for k in last._weights if str(k) not in names)


@register_extractor(time_series.SNARIMAX, inputs=_forecast_inputs, kind="estimator",
                    produces=(Snarimax,), cases=SNARIMAX_CASES)
def snarimax(m: time_series.SNARIMAX, columns, ctx) -> EstimatorIR:
    """The recursion of River's `forecast` unrolled `SNARIMAX_HORIZON` steps (see
    `ir.arithmetic.unrolled_forecasts`), the regressor's weights and scaler read as they are."""
    lags = _lags(m)
    names = tuple(n for n, _, _ in lags)
    lag_ctx = type(ctx)(ir.FeatureSchema(tuple(ir.Feature(n, n) for n in names)))
    scale, lin = _regressor_ir(m, names, lag_ctx)
    extra = _exogenous(m, names)
    if extra:
        raise _refuse(m, f"it learned exogenous features ({', '.join(extra[:5])}): the forecast "
                      "at a step reads the features of every step before it, which other rows "
                      "of the artifact's input carry; export a SNARIMAX learned without x")
    est = Snarimax(
        (STEP,), SNARIMAX_HORIZON, names, tuple(s for _, s, _ in lags),
        tuple(i for _, _, i in lags), tuple(float(v) for v in m.y_diff),
        tuple(float(v) for v in m.errors), tuple(float(v) for v in m.y_hist),
        tuple((int(t), int(c)) for t, c in m.differencer.coeffs.items()), scale,
        lin.weights[0], float(lin.intercepts[0]))
    return EstimatorIR(est, "forecast")
