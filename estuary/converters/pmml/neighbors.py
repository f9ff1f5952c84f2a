"""PMML for IR NearestNeighbors (River's KNNClassifier / KNNRegressor): `ir.arithmetic.knn_*`
as DerivedFields (double), the window's points as constants. PMML's own NearestNeighborModel is
not used: JPMML weights a neighbour by 1 / (distance + threshold) and reweights missing values,
where River counts an absent key as 0.0 and gives a row at distance 0 that point's target alone.
The k nearest are found by rank (format-specific: PMML has no top-k): point i is chosen when
fewer than k points are nearer, or as near and older (River's window order), W² comparisons."""

from __future__ import annotations

from typing import Any

from ...ir import arithmetic
from ...ir.neighbors import NearestNeighbors, outputs
from ..registry import register_emitter
from .document import Head, PmmlOps, add_all, apply, const, if_else, ref
from .linear import scores_head
from .transforms import Context


class NeighborOps(PmmlOps):
    """PmmlOps with `nearest`: each point's rank as a DerivedField, then rank < k."""

    def nearest(self, d: list, k: int) -> list:
        d = [self._el(e) for e in d]
        chosen = []
        for i, di in enumerate(d):
            nearer = [if_else(apply("lessThan", dj, di) if j > i else
                              apply("lessOrEqual", dj, di), const(1.0), const(0.0))
                      for j, dj in enumerate(d) if j != i]
            rank = self.keep(add_all(nearer) if nearer else const(0.0), f"rank{i}")
            chosen.append(self.keep(if_else(apply("lessThan", rank, const(float(k))),
                                            const(1.0), const(0.0)), f"nearest{k}[{i}]"))
        return chosen


@register_emitter("pmml", NearestNeighbors)
def nearest_neighbors(est: NearestNeighbors, ctx: Context) -> Head:
    o = NeighborOps(ctx.doc)
    out: Any = outputs(o, est, [ref(ctx.fields[c]) for c in est.columns])
    if est.aggregation == "mean":
        return scores_head(ctx.doc, o, arithmetic.Scores("value", [out]))
    return scores_head(ctx.doc, o, arithmetic.Scores("probabilities", out))
