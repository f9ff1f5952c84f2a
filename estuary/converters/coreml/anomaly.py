"""Core ML for the anomaly IR (`ir.anomaly`).

HST: each tree's split signs and one-hot leaf (trees.py: exact routing, the tree runs in
float32 on exact 0/1 values), then one float64 GLMRegressor adds every tree's leaf path sum
(whole numbers: exact) and another gives `1 - total / max_score` as -total · (1/max) + 1 (an
ulp from River's division, far inside the tolerance). OneClassSVM: a float64 GLMRegressor for
w·x + b, then + (-b). GaussianScorer / SAD: float64 classic stages (`univariate_score`). The filters,
LODA and LOF are refused (reasons below).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.anomaly import (
    AnomalyFilter,
    HalfSpaceTrees,
    LinearScore,
    LocalOutlierFactor,
    Loda,
    UnivariateScore,
)
from ..registry import register_emitter, register_refusal
from .builder import DBL_MAX
from .transforms import Context, impute
from .trees import leaf_one_hot, split_signs


@register_emitter("coreml", HalfSpaceTrees)
def half_space_trees(est: HalfSpaceTrees, ctx: Context) -> None:
    s, x, F = ctx.stages, ctx.x, len(est.columns)
    parts, sums = [], []
    for t in est.trees:
        signs, width = split_signs(t.tree, s, x, F)
        parts.append((leaf_one_hot(t.tree, s, signs, width), t.tree.n_leaves))
        sums.extend(t.means)
    s.float32 = True  # the trees route in float32 (exactly: see trees.split_signs)
    total = s.glm(s.vectorize(parts, "leaves"), np.asarray([sums]), [0.0], hint="mass")
    s.glm(total, [[-1.0 / est.max_score]], [1.0], output="value")


@register_emitter("coreml", LinearScore)
def linear_score(est: LinearScore, ctx: Context) -> None:
    s, x = ctx.stages, ctx.x
    lin = est.linear
    W = np.asarray(lin.weights, dtype=np.float64).reshape(1, len(lin.columns))
    z = s.glm(impute(s, x, len(lin.columns)), W, list(lin.intercepts), hint="decision")
    s.glm(z, [[1.0]], [-lin.intercepts[0]], output="value")  # 1 · z - b: River's z - b


SIGN_SCALE = 2.0 ** 1000


def absolute(s, v: str) -> str:
    """|v| for a [1] float64 feature, in classic stages: pos = Logit(2^1000 · (2^1000 · v)) is
    exactly 1, 0 or 0.5 (v > 0, v < 0, v = 0: any non-zero double scaled twice saturates the
    logistic); of [v, -v] the one chosen by [pos, 1 - pos] is kept (gating: the other, never
    +inf, + 4 · -DBL_MAX is -inf, then -inf → 0; at v = 0 both go) and summed."""
    scaled = s.scaler(v, 1, 0.0, SIGN_SCALE, "sign_scaled")

    def logit(p) -> None:
        p.weights.add().value.append(SIGN_SCALE)
        p.offset.append(0.0)
        p.postEvaluationTransform = p.Logit

    pos = s.array("glmRegressor", scaled, 1, 1, logit, "positive")
    both = s.glm(v, [[1.0], [-1.0]], hint="plus_minus")  # exact sign flips
    chosen = s.glm(pos, [[1.0], [-1.0]], [0.0, 1.0], hint="chosen")  # 1 - pos: exact
    gate = s.scaler(chosen, 2, -1.0, DBL_MAX, "gate")  # 0 where chosen, -DBL_MAX (or half)
    gated = s.glm(s.vectorize([(both, 2), (gate, 2)], "gate_inputs"),
                  np.hstack([np.eye(2), 4.0 * np.eye(2)]), hint="gated")
    kept = s.replace(gated, 2, -math.inf, 0.0, "kept")
    return s.glm(kept, np.ones((1, 2)), hint="absolute")


@register_emitter("coreml", UnivariateScore)
def univariate_score(est: UnivariateScore, ctx: Context) -> None:
    """River's GaussianScorer 2 · |Φ(z) - 0.5| (Φ: a GLMRegressor's Probit, float64) and
    StandardAbsoluteDeviation |z|, z = fl(fl(y - center) · fl(1/scale)) (an ulp from River's
    division); `absolute` for |·|. A constant answer (the grace period, a zero sigma) is
    0 · y + constant with y's NaN and ±inf replaced by 0 first."""
    s, y = ctx.stages, ctx.x
    if est.constant is not None:
        for old in (math.nan, math.inf, -math.inf):
            y = s.replace(y, 1, old, 0.0, "finite_y")
        s.glm(y, [[0.0]], [est.constant], output="value")
        return
    z = s.scaler(y, 1, -est.center, 1.0 / est.scale, "z")
    if est.kind == "deviation":
        s.glm(absolute(s, z), [[1.0]], [0.0], output="value")
        return

    def probit(p) -> None:
        p.weights.add().value.append(1.0)
        p.offset.append(0.0)
        p.postEvaluationTransform = p.Probit

    cdf = s.array("glmRegressor", z, 1, 1, probit, "cdf")
    d = s.glm(cdf, [[1.0]], [-0.5], hint="cdf_minus_half")
    s.glm(absolute(s, d), [[2.0]], [0.0], output="value")  # fl(2 · |d|): exact
register_refusal("coreml", AnomalyFilter, "is_anomaly compares the score with River's float64 "
                 "threshold, and Core ML's float32 stages could flip rows within float32 "
                 "rounding of it; export to ONNX or PMML")
register_refusal("coreml", Loda, "LODA's density is a step function of each projection: a "
                 "projection computed in float32 moves rows across River's bin edges; export to "
                 "ONNX or PMML")
register_refusal("coreml", LocalOutlierFactor, "LocalOutlierFactor needs the k nearest stored "
                 "points of each row (a top-k search with River's tie and distance-0 rules), "
                 "which this format has no exact block for; export to ONNX")
