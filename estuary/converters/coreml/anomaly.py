"""Core ML for the anomaly IR (`ir.anomaly`).

HST: each tree's split signs and one-hot leaf (trees.py: exact routing, the tree runs in
float32 on exact 0/1 values), then one float64 GLMRegressor adds every tree's leaf path sum
(whole numbers: exact) and another gives `1 - total / max_score` as -total · (1/max) + 1 (an
ulp from River's division, far inside the tolerance). OneClassSVM: a float64 GLMRegressor for
w·x + b, then + (-b). GaussianScorer / SAD and the filters are refused (reasons below).
"""

from __future__ import annotations

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


register_refusal("coreml", UnivariateScore, "Core ML's double-precision classic models have no "
                 "absolute value or erf (GaussianScorer's normal CDF); export to ONNX or PMML")
register_refusal("coreml", AnomalyFilter, "is_anomaly compares the score with River's float64 "
                 "threshold, and Core ML's float32 stages could flip rows within float32 "
                 "rounding of it; export to ONNX or PMML")
register_refusal("coreml", Loda, "LODA's density is a step function of each projection: a "
                 "projection computed in float32 moves rows across River's bin edges; export to "
                 "ONNX or PMML")
register_refusal("coreml", LocalOutlierFactor, "LocalOutlierFactor needs the k nearest stored "
                 "points of each row (a top-k search with River's tie and distance-0 rules), "
                 "which this format has no exact block for; export to ONNX")
