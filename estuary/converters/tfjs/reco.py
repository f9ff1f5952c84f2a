"""TF.js for IR MatrixFactorization (River's BiasedMF, FunkMF): `ir.reco.score` in float32 (the
tables rounded once to float32; the one-hot lookups add no rounding, the dot product does)."""

from __future__ import annotations

from ...ir.reco import MatrixFactorization, score
from ..registry import register_emitter
from .graph import TfjsOps
from .transforms import FORMAT, Context, take


@register_emitter(FORMAT, MatrixFactorization)
def matrix_factorization(est: MatrixFactorization, ctx: Context) -> dict[str, str]:
    g = ctx.graph
    users = take(g, ctx.x, ctx.columns, est.user_columns)
    items = take(g, ctx.x, ctx.columns, est.item_columns)
    return {"value": score(TfjsOps(g), est, users, items)}
