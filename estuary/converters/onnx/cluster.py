"""ONNX for IR NearestCentre (River's KMeans, STREAMKMeans, ...): `ir.arithmetic.
centre_distances` in float64, one column at a time in the centres' key order; the output stage
takes the first minimum (ArgMin, select_last_index=0)."""

from __future__ import annotations

from ...ir.cluster import NearestCentre, NearestCentreOrElse, distances
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context


@register_emitter("onnx", NearestCentreOrElse)
@register_emitter("onnx", NearestCentre)
def nearest_centre(est: NearestCentre, ctx: Context) -> dict[str, str]:
    return {"distances": distances(OnnxOps(ctx.graph), est, ctx.x)}
