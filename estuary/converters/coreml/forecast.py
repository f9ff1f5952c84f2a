"""Core ML for the forecasters (`ir.forecast`), in float64 classic models only.

HoltWinters (River's `forecast`): base = level + step · trend by a Scaler fl(trend · step) and
a GLMRegressor + level (no trend: 0 · step + level, as the IR). The season index without a
floor: h = step - 1, n = round(h · fl(1/m)) by adding and subtracting 1.5 · 2^52 (Scalers),
r = h - m · n (a GLMRegressor of exact integer products): (step - 1) mod m up to a multiple of
m, for any whole step below 2^50. Each slot k in -m..m (season[k mod m]) gets
c_k = [r - k == 0] from three classic stages that compare without a comparison: an Imputer
0 → NaN, a Scaler · 0 (NaN stays NaN, every number becomes 0) and an Imputer NaN → 1. Then
- additive: one GLMRegressor fl(base + Σ c_k · season_k), one non-zero product: River's sum;
- multiplicative: fl(season_k · base) for every slot (a Scaler over copies of base: River's
  product), the chosen one kept by gating (+ 4 · DBL_MAX elsewhere, then inf → 0) and summed.
A step whose r matches no slot, or more than one (NaN, ±inf, a fraction), adds NaN: the IR's
answer there (its lookup falls through to NaN).

SNARIMAX: `arithmetic.unrolled_forecasts` with every value a float64 Core ML feature (Scalers
for the scaled lags and the products by constants, GLMRegressors for the sums), the step's
forecast picked by the same slots and gating; NaN beyond the horizon unrolled at export.
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.forecast import HoltWinters, Snarimax
from ..registry import register_emitter
from .builder import DBL_MAX, Stages
from .transforms import Context

ROUND = 1.5 * 2.0 ** 52  # fl(q + ROUND) - ROUND = q rounded to a whole number, |q| < 2^51


def is_zero(s: Stages, y: str, width: int, hint: str) -> str:
    """1.0 where y == 0 (or y is NaN), else 0.0, element-wise, in classic float64 stages."""
    marked = s.replace(y, width, 0.0, math.nan, f"{hint}_marked")
    zeroed = s.scaler(marked, width, 0.0, 0.0, f"{hint}_zeroed")  # NaN where marked, else 0
    return s.replace(zeroed, width, math.nan, 1.0, hint)


def chosen(s: Stages, r: str, slots: np.ndarray) -> tuple[str, str]:
    """(c: 1 at each slot k where r == k exactly, else 0; a [1] term that is 0 where exactly one
    slot is chosen, NaN otherwise), in classic float64 stages."""
    K = len(slots)
    c = is_zero(s, s.glm(r, np.ones((K, 1)), -slots, hint="r_minus_k"), K, "slot")
    one = is_zero(s, s.glm(c, np.ones((1, K)), [-1.0], hint="slots_chosen"), 1, "one_slot")
    nan_term = s.scaler(s.replace(one, 1, 0.0, math.nan, "unmatched"), 1, -1.0, 1.0, "nan_term")
    return c, nan_term


def select(s: Stages, values: str, c: str, nan_term: str, K: int) -> None:
    """`value` = values[k] for the chosen slot k (+ the NaN term): gating, each value + 4 · G
    with G = -0 where chosen and DBL_MAX elsewhere (inf, then 0), then one GLM sum."""
    gate = s.scaler(c, K, -1.0, -DBL_MAX, "gate")
    gated = s.glm(s.vectorize([(values, K), (gate, K)], "gate_inputs"),
                  np.hstack([np.eye(K), 4.0 * np.eye(K)]), hint="gated")
    kept = s.replace(gated, K, math.inf, 0.0, "kept")
    both = s.vectorize([(kept, K), (nan_term, 1)], "kept_nan")
    s.glm(both, np.ones((1, K + 1)), [0.0], output="value")


def season_slots(s: Stages, x: str, m: int) -> tuple[str, np.ndarray, str]:
    """(c [2m + 1]: slot k of -m..m is 1 where (step - 1) ≡ k, their season positions k mod m,
    and the NaN term of `chosen`)."""
    h = s.scaler(x, 1, -1.0, 1.0, "h")
    q = s.scaler(h, 1, 0.0, 1.0 / m, "h_over_m")
    n = s.scaler(s.scaler(q, 1, ROUND, 1.0, "rounding"), 1, -ROUND, 1.0, "seasons")
    r = s.glm(s.vectorize([(h, 1), (n, 1)], "h_n"), [[1.0, -float(m)]], [0.0], hint="r")
    slots = np.arange(-m, m + 1, dtype=np.float64)
    c, nan_term = chosen(s, r, slots)
    return c, np.mod(slots.astype(int), m), nan_term


@register_emitter("coreml", HoltWinters)
def holt_winters(est: HoltWinters, ctx: Context) -> None:
    s, x = ctx.stages, ctx.x
    t = s.scaler(x, 1, 0.0, est.trend if est.has_trend else 0.0, "step_trend")
    if not est.season:
        s.glm(t, [[1.0]], [est.level], output="value")
        return
    base = s.glm(t, [[1.0]], [est.level], hint="base")
    m = len(est.season)
    c, position, nan_term = season_slots(s, x, m)
    season = np.asarray(est.season, dtype=np.float64)[position]
    K = len(season)
    if not est.multiplicative:
        both = s.vectorize([(base, 1), (c, K), (nan_term, 1)], "base_season")
        s.glm(both, [[1.0, *season, 1.0]], [0.0], output="value")
        return
    products = s.scaler(s.glm(base, np.ones((K, 1)), hint="base_copies"), K, 0.0, season,
                        "products")  # fl(season_k · base), River's product
    select(s, products, c, nan_term, K)


class _Pool:
    """SNARIMAX's values as Core ML features: the frozen state (and 0.0) in one seed array, then
    each step's prediction and forecast; `array()` joins them for the extractors of a step."""

    def __init__(self, s: Stages, seed: str, n_seed: int) -> None:
        self.s, self.seed, self.n_seed = s, seed, n_seed
        self.preds: list[str] = []
        self.forecasts: list[str] = []

    def array(self) -> tuple[str, int]:
        parts = [(self.seed, self.n_seed), *((p, 1) for p in self.preds),
                 *((f, 1) for f in self.forecasts)]
        return self.s.vectorize(parts, "pool"), self.n_seed + 2 * len(self.preds)

    def position(self, ref: tuple[str, int]) -> int:
        kind, i = ref
        return {"seed": i, "pred": self.n_seed + i,
                "forecast": self.n_seed + len(self.preds) + i}[kind]


def _prediction(s: Stages, est: Snarimax, pool: _Pool, series: dict) -> str:
    """One step's regressor: the lags present (River skips one the series is too short for),
    scaled (fl(fl(v - offset) · fl(1/divisor)): an ulp from River's division), times the
    weights (Scaler: River's products), summed and + intercept (one GLMRegressor)."""
    present = [(j, series[src][i]) for j, (src, i) in
               enumerate(zip(est.lag_sources, est.lag_indexes, strict=True))
               if i < len(series[src])]
    array, width = pool.array()
    if not present:
        return s.glm(array, np.zeros((1, width)), [0.0 + est.intercept], hint="pred")
    index = [j for j, _ in present]
    v = s.extract(array, width, [pool.position(r) for _, r in present], "lags")
    L = len(present)
    if est.scale is not None:
        divisor = np.asarray(est.scale.divisor, dtype=np.float64)[index]
        offset = np.asarray(est.scale.offset, dtype=np.float64)[index]
        zero = divisor == 0  # River's 0.0 for such a lag
        v = s.scaler(v, L, np.where(zero, 0.0, -offset),
                     np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, divisor)), "scaled_lags")
    terms = s.scaler(v, L, 0.0, np.asarray(est.weights, dtype=np.float64)[index], "terms")
    return s.glm(terms, np.ones((1, L)), [est.intercept], hint="pred")


def _undifferenced(s: Stages, est: Snarimax, pool: _Pool, hist: list, pred: str) -> str:
    """pred - c · y_hist[lag - 1] for each coefficient until the history runs out."""
    total = pred
    for lag, c in est.coeffs:
        if not lag:
            continue
        if lag - 1 >= len(hist):
            break
        array, width = pool.array()
        h = s.extract(array, width, [pool.position(hist[lag - 1])], "history")
        product = s.scaler(h, 1, 0.0, float(c), "c_history")  # fl(c · y_hist): River's
        total = s.glm(s.vectorize([(total, 1), (product, 1)], "undiff"), [[1.0, -1.0]],
                      [0.0], hint="undiff")
    return total


@register_emitter("coreml", Snarimax)
def snarimax(est: Snarimax, ctx: Context) -> None:
    """`arithmetic.unrolled_forecasts` with every value a float64 Core ML feature (the frozen
    state enters as a GLMRegressor's offsets over 0 · step), then the step's forecast picked
    as HoltWinters picks its season: NaN beyond the unrolled horizon."""
    s, x = ctx.stages, ctx.x
    ny, ne = len(est.y_diff), len(est.errors)
    seeds = [*est.y_diff, *est.errors, *est.y_hist, 0.0]
    pool = _Pool(s, s.glm(x, np.zeros((len(seeds), 1)), seeds, hint="state"), len(seeds))
    series = {"y": [("seed", i) for i in range(ny)], "e": [("seed", ny + i) for i in range(ne)]}
    hist = [("seed", ny + ne + i) for i in range(len(est.y_hist))]
    for t in range(est.horizon):
        pred = _prediction(s, est, pool, series)
        forecast = _undifferenced(s, est, pool, hist, pred)
        pool.preds.append(pred)
        pool.forecasts.append(forecast)
        series["y"].insert(0, ("pred", t))
        series["e"].insert(0, ("seed", len(seeds) - 1))
        hist.insert(0, ("forecast", t))
    H = est.horizon
    forecasts = s.vectorize([(f, 1) for f in pool.forecasts], "forecasts")
    h = s.scaler(x, 1, -1.0, 1.0, "h")
    c, nan_term = chosen(s, h, np.arange(H, dtype=np.float64))
    select(s, forecasts, c, nan_term, H)
