"""TF.js for the anomaly IR (`ir.anomaly`), float32.

HST: every tree routed at once on the order keys (exact float64 routing, tree_routing.py); one
MatMul of the leaf indicator with each leaf's path sum gives the total, a whole number below
2^24 and so exact in float32; then `1 - total / max_score` in float32 (within the float32
tolerance). OneClassSVM: the Linear emitter's decision value, then minus the intercept.
GaussianScorer / SAD: the formulas in float32 (TF.js's Erf). Filters are refused (see below).
"""

from __future__ import annotations

import numpy as np

from ... import ir
from ...ir import anomaly
from ...ir.anomaly import (
    AnomalyFilter,
    HalfSpaceTrees,
    LinearScore,
    LocalOutlierFactor,
    Loda,
    UnivariateScore,
)
from ..registry import register_emitter, register_refusal
from .graph import TfjsOps
from .transforms import FORMAT, Context, emit_model
from .tree_routing import NotRoutable, leaf_indicator
from .trees import Inputs, Leaves, TreeMember, _splits, refusal, trees_regressor_values

FLOAT32_FLAG = ("is_anomaly compares the score with River's float64 threshold, and a float32 "
                "score within float32 rounding of it would flip; export to ONNX or PMML")


@register_emitter(FORMAT, HalfSpaceTrees)
def half_space_trees(est: HalfSpaceTrees, ctx: Context) -> dict[str, str]:
    model, g = ctx.model, ctx.graph
    members = [TreeMember(ir.Model(model.schema, model.transform, t, "regression"))
               for t in est.trees]
    inputs = Inputs(g, ctx.x, model.schema)
    try:
        indicator = leaf_indicator([t.tree for t in est.trees], _splits(members), g,
                                   inputs.keys, inputs.n_raw)
    except NotRoutable as e:
        raise refusal(est, str(e)) from None
    leaves = Leaves(indicator, tuple(t.tree.n_leaves for t in est.trees))
    total = trees_regressor_values(members, g, inputs, leaves, np.ones(len(members)))
    return {"value": anomaly.mass_score(TfjsOps(g), total, est.max_score)}


@register_emitter(FORMAT, UnivariateScore)
def univariate_score(est: UnivariateScore, ctx: Context) -> dict[str, str]:
    o, y = TfjsOps(ctx.graph), ctx.transformed()
    if est.constant is not None:
        return {"value": o.where(o.is_nan(y), o.const(est.constant), o.const(est.constant))}
    return {"value": anomaly.univariate_score(o, y, est.center, est.scale, est.kind)}


@register_emitter(FORMAT, LinearScore)
def linear_score(est: LinearScore, ctx: Context) -> dict[str, str]:
    model = ctx.model
    inner = ir.Model(model.schema, model.transform, est.linear, "regression")
    value = emit_model(inner, ctx.graph, ctx.x)["value"]
    return {"value": anomaly.linear_score(TfjsOps(ctx.graph), value, est.linear.intercepts[0])}


register_refusal(FORMAT, AnomalyFilter, FLOAT32_FLAG)
register_refusal(FORMAT, Loda, "LODA's density is a step function of each projection: a "
                 "projection computed in float32 moves rows across River's bin edges; export to "
                 "ONNX or PMML")
register_refusal(FORMAT, LocalOutlierFactor, "LocalOutlierFactor needs the k nearest stored "
                 "points of each row (a top-k search with River's tie and distance-0 rules), "
                 "which this format has no exact block for; export to ONNX")
