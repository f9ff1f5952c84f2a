"""Forecasters as IR estimators, and their numpy evaluation: River's `time_series.HoltWinters`
and `SNARIMAX`, a forecast computed from the state frozen at snapshot time.

The artifact reads one column, `step` (1-based: step 1 is River's `forecast(horizon)[0]`), one
row per step ahead. The arithmetic is `ir.arithmetic.holt_winters` (any step: the season is
looked up at (step - 1) mod m) and `ir.arithmetic.unrolled_forecasts` (SNARIMAX's recursion,
unrolled up to the `horizon` fixed at export; a step beyond it is NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY, Lag
from .evaluate import evaluates
from .nodes import Estimator, IRError, Scale, ir_node

STEP = "step"


def _finite(what: str, values: tuple[float, ...]) -> None:
    if not all(math.isfinite(v) for v in values):
        raise IRError(f"{what}: values must be finite numbers")


@ir_node
@dataclass(frozen=True)
class HoltWinters(Estimator):
    """River's `HoltWinters.forecast`: op(level + step · trend, season[(step - 1) mod m]) with
    op = · when `multiplicative`, else +; `has_trend` / an empty `season` drop those parts.

    >>> HoltWinters(("step",), level=420.0, trend=2.5, has_trend=True, season=(0.9, 1.1),
    ...             multiplicative=True)
    """

    columns: tuple[str, ...]
    level: float
    trend: float
    has_trend: bool
    season: tuple[float, ...]  # season[-m + j], j = 0..m-1
    multiplicative: bool

    def __post_init__(self) -> None:
        if self.columns != (STEP,):
            raise IRError(f"HoltWinters reads the one column {STEP!r}")
        _finite("HoltWinters", (self.level, self.trend, *self.season))


    def probe_steps(self) -> tuple[int, ...]:
        """Horizons worth checking: 1, a season and around it, three seasons and one more, far."""
        m = max(len(self.season), 1)
        return (1, 2, m, m + 1, 2 * m, 3 * m + 1, 1000, 10007)


def holt_winters(o: arithmetic.Ops, est: HoltWinters, step) -> object:
    return arithmetic.holt_winters(o, step, est.level, est.trend if est.has_trend else None,
                                   est.season, est.multiplicative)


@evaluates(HoltWinters)
def _holt_winters(est: HoltWinters, Z: np.ndarray) -> np.ndarray:
    return holt_winters(NUMPY, est, Z[:, :1])[:, 0]


@ir_node
@dataclass(frozen=True)
class Snarimax(Estimator):
    """River's `SNARIMAX.forecast` without exogenous features, unrolled up to `horizon` steps.

    `lags` name the regressor's lag features in River's order (`"y-1"`, `"sy-12"`, `"e-1"`,
    ...): `lag_sources[j]` is "y" (the differenced series) or "e" (the errors), `lag_indexes[j]`
    the position, most recent first. `y_diff`, `errors`, `y_hist` are River's deques at
    snapshot time; `coeffs` the differencer's (lag, coefficient) pairs in River's order. The
    regressor is an affine map: `scale` (its scaler, or None) then `weights` · x + `intercept`.
    """

    columns: tuple[str, ...]
    horizon: int
    lags: tuple[str, ...]
    lag_sources: tuple[str, ...]
    lag_indexes: tuple[int, ...]
    y_diff: tuple[float, ...]
    errors: tuple[float, ...]
    y_hist: tuple[float, ...]
    coeffs: tuple[tuple[int, int], ...]
    scale: Scale | None
    weights: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        if self.columns != (STEP,):
            raise IRError(f"Snarimax reads the one column {STEP!r}")
        if self.horizon < 1:
            raise IRError("Snarimax: the horizon must be at least 1")
        n = len(self.lags)
        if not n == len(self.lag_sources) == len(self.lag_indexes) == len(self.weights):
            raise IRError("Snarimax: lags, their sources, indexes and weights differ in length")
        if any(s not in ("y", "e") for s in self.lag_sources):
            raise IRError("Snarimax: a lag's source is 'y' or 'e'")
        if self.scale is not None and self.scale.columns != self.lags:
            raise IRError("Snarimax: the scaler must scale exactly the lag features")
        _finite("Snarimax", (*self.y_diff, *self.errors, *self.y_hist, *self.weights,
                             self.intercept))

    def probe_steps(self) -> tuple[int, ...]:
        """Horizons worth checking, within the unrolled `horizon`: 1, 2, each up to it."""
        return tuple(range(1, self.horizon + 1))

    def forecasts(self, o: arithmetic.Ops) -> list:
        """The `horizon` forecasts, River's recursion written with `o`."""
        lags = [Lag(n, s, i) for n, s, i in zip(self.lags, self.lag_sources, self.lag_indexes)]
        offset = self.scale.offset if self.scale is not None else None
        divisor = self.scale.divisor if self.scale is not None else None
        return arithmetic.unrolled_forecasts(o, lags, self.y_diff, self.errors, self.y_hist,
                                             self.coeffs, offset, divisor, self.weights,
                                             self.intercept, self.horizon)


def snarimax(o: arithmetic.Ops, est: Snarimax, step) -> object:
    return arithmetic.forecast_at(o, step, est.forecasts(o))


@evaluates(Snarimax)
def _snarimax(est: Snarimax, Z: np.ndarray) -> np.ndarray:
    return snarimax(NUMPY, est, Z[:, :1])[:, 0]
