"""PMML for IR NearestCentre (River's KMeans, STREAMKMeans, ...): `ir.arithmetic.
centre_distances` as DerivedFields (double), one per centre and column, summed left to right
in the centres' key order. PMML's ClusteringModel is not used: it adjusts for missing values
(River reads a missing key as 0.0) and says nothing of which of two equal distances wins. The
output stage (pmml/__init__.py) outputs each distance and the first minimum's index."""

from __future__ import annotations

from ...ir.cluster import NearestCentre, NearestCentreOrElse, distances
from ..registry import register_emitter
from .document import Head, PmmlOps, apply, ref
from .transforms import Context


class DistancesHead(Head):
    """A clusterer's core: no RegressionTable of its own, the distance fields by centre and
    the field holding their minimum."""

    def __init__(self, distances: list[str], nearest: str):
        super().__init__("none", [])
        self.distances = distances
        self.nearest = nearest


@register_emitter("pmml", NearestCentreOrElse)
@register_emitter("pmml", NearestCentre)
def nearest_centre(est: NearestCentre, ctx: Context) -> DistancesHead:
    o = PmmlOps(ctx.doc)
    d = distances(o, est, [ref(ctx.fields[c]) for c in est.columns])
    fields = o.fields(d, "distance")
    return DistancesHead(fields, ctx.doc.derive("nearest", apply("min", *map(ref, fields))))
