"""ONNX for the anomaly IR (`ir.anomaly`): the formulas there over `OnnxOps`, in float64. HST
trees are the registered TreeRegressor emitter (a TreeEnsemble routing to exact float64 leaf
sums); a filter emits its detector like an ensemble member, then River's `classify`."""

from __future__ import annotations

import numpy as np

from ...ir import anomaly
from ...ir.anomaly import (
    AnomalyFilter,
    HalfSpaceTrees,
    LinearScore,
    LocalOutlierFactor,
    Loda,
    UnivariateScore,
)
from ..registry import emit, register_emitter
from .ensembles import member_output
from .graph import OnnxOps
from .transforms import Context


def _flat(ctx: Context, v: str) -> str:
    return ctx.graph.op("Reshape", v, ctx.graph.const([-1], np.int64))


@register_emitter("onnx", HalfSpaceTrees)
def half_space_trees(est: HalfSpaceTrees, ctx: Context) -> dict[str, str]:
    total = None
    for t in est.trees:  # River's order; the sums are whole numbers, exact in any order
        v = _flat(ctx, emit("onnx", t, ctx)["value"])
        total = v if total is None else ctx.graph.op("Add", total, v)
    return {"value": anomaly.mass_score(OnnxOps(ctx.graph), total, est.max_score)}


@register_emitter("onnx", UnivariateScore)
def univariate_score(est: UnivariateScore, ctx: Context) -> dict[str, str]:
    o, y = OnnxOps(ctx.graph), _flat(ctx, ctx.x)
    if est.constant is not None:
        return {"value": o.where(o.is_nan(y), o.const(est.constant), o.const(est.constant))}
    return {"value": anomaly.univariate_score(o, y, est.center, est.scale, est.kind)}


@register_emitter("onnx", LinearScore)
def linear_score(est: LinearScore, ctx: Context) -> dict[str, str]:
    value = _flat(ctx, emit("onnx", est.linear, ctx)["value"])
    return {"value": anomaly.linear_score(OnnxOps(ctx.graph), value, est.linear.intercepts[0])}


@register_emitter("onnx", AnomalyFilter)
def anomaly_filter(est: AnomalyFilter, ctx: Context) -> dict[str, str]:
    score = _flat(ctx, member_output(est.detector, ctx.graph, ctx.x, est.columns)["value"])
    flag = anomaly.anomaly_flag(OnnxOps(ctx.graph), score, est.threshold)
    return {"value": score, "is_anomaly": flag}


@register_emitter("onnx", Loda)
def loda(est: Loda, ctx: Context) -> dict[str, str]:
    """Each projection added up in River's order, column by column (no MatMul: its order of
    summation is onnxruntime's), then the bins as nested Where in River's order."""
    g, o = ctx.graph, OnnxOps(ctx.graph)
    x = [_flat(ctx, g.gather_columns(ctx.x, [j])) for j in range(len(est.columns))]
    logs = [anomaly.bin_log_density(o, anomaly.ordered_projection(o, x, terms), bins,
                                    est.outside)
            for terms, bins in zip(est.terms, est.bins, strict=True)]
    return {"value": anomaly.loda_score(o, logs, len(est.terms))}


@register_emitter("onnx", LocalOutlierFactor)
def local_outlier_factor(est: LocalOutlierFactor, ctx: Context) -> dict[str, str]:
    """The window as constants; the k (+ 1) nearest by TopK (`OnnxOps.nearest`)."""
    return {"value": _flat(ctx, anomaly.lof_outputs(OnnxOps(ctx.graph), est, ctx.x))}
