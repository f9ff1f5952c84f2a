"""ONNX for IR NearestNeighbors (River's KNNClassifier / KNNRegressor): `ir.arithmetic.knn_*`
in float64, the search window as constants; the k nearest by TopK (`OnnxOps.nearest`)."""

from __future__ import annotations

from ...ir.neighbors import NearestNeighbors, outputs
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context


@register_emitter("onnx", NearestNeighbors)
def nearest_neighbors(est: NearestNeighbors, ctx: Context) -> dict[str, str]:
    out = outputs(OnnxOps(ctx.graph), est, ctx.x)
    return {"value" if est.aggregation == "mean" else "probabilities": out}
