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

SNARIMAX is refused (reason below).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.forecast import HoltWinters, Snarimax
from ..registry import register_emitter, register_refusal
from .builder import DBL_MAX, Stages
from .transforms import Context

ROUND = 1.5 * 2.0 ** 52  # fl(q + ROUND) - ROUND = q rounded to a whole number, |q| < 2^51


def is_zero(s: Stages, y: str, width: int, hint: str) -> str:
    """1.0 where y == 0 (or y is NaN), else 0.0, element-wise, in classic float64 stages."""
    marked = s.replace(y, width, 0.0, math.nan, f"{hint}_marked")
    zeroed = s.scaler(marked, width, 0.0, 0.0, f"{hint}_zeroed")  # NaN where marked, else 0
    return s.replace(zeroed, width, math.nan, 1.0, hint)


def season_slots(s: Stages, x: str, m: int) -> tuple[str, np.ndarray, str]:
    """(c [2m + 1]: slot k of -m..m is 1 where (step - 1) ≡ k, their season positions k mod m,
    and a [1] term that is 0 where exactly one slot is chosen, NaN otherwise)."""
    h = s.scaler(x, 1, -1.0, 1.0, "h")
    q = s.scaler(h, 1, 0.0, 1.0 / m, "h_over_m")
    n = s.scaler(s.scaler(q, 1, ROUND, 1.0, "rounding"), 1, -ROUND, 1.0, "seasons")
    r = s.glm(s.vectorize([(h, 1), (n, 1)], "h_n"), [[1.0, -float(m)]], [0.0], hint="r")
    slots = np.arange(-m, m + 1, dtype=np.float64)
    K = len(slots)
    c = is_zero(s, s.glm(r, np.ones((K, 1)), -slots, hint="r_minus_k"), K, "slot")
    one = is_zero(s, s.glm(c, np.ones((1, K)), [-1.0], hint="slots_chosen"), 1, "one_slot")
    nan_term = s.scaler(s.replace(one, 1, 0.0, math.nan, "unmatched"), 1, -1.0, 1.0, "nan_term")
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
    gate = s.scaler(c, K, -1.0, -DBL_MAX, "gate")  # -0 where chosen, DBL_MAX elsewhere
    gated = s.glm(s.vectorize([(products, K), (gate, K)], "gate_inputs"),
                  np.hstack([np.eye(K), 4.0 * np.eye(K)]), hint="gated")
    kept = s.replace(gated, K, math.inf, 0.0, "kept")
    both = s.vectorize([(kept, K), (nan_term, 1)], "kept_nan")
    s.glm(both, np.ones((1, K + 1)), [0.0], output="value")


register_refusal("coreml", Snarimax, "Core ML's float64 models are affine maps: the unrolled "
                 "forecast recursion multiplies computed values; export to ONNX, PMML or TF.js")
