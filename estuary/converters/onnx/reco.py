"""ONNX for IR MatrixFactorization (River's BiasedMF, FunkMF): `ir.reco.score` in float64, the
user and item tables as constants looked up by MatMuls on the one-hot columns."""

from __future__ import annotations

from ...ir.reco import MatrixFactorization, score
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context, take


@register_emitter("onnx", MatrixFactorization)
def matrix_factorization(est: MatrixFactorization, ctx: Context) -> dict[str, str]:
    g = ctx.graph
    users = take(g, ctx.x, ctx.columns, est.user_columns)
    items = take(g, ctx.x, ctx.columns, est.item_columns)
    return {"value": score(OnnxOps(g), est, users, items)}
