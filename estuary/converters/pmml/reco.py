"""PMML for IR MatrixFactorization (River's BiasedMF, FunkMF): `ir.reco.score` as double
DerivedFields over the one-hot user and item fields, the score through a RegressionTable."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.reco import MatrixFactorization, score
from ..registry import register_emitter
from .document import Head, PmmlOps, ref
from .linear import scores_head
from .transforms import Context


@register_emitter("pmml", MatrixFactorization)
def matrix_factorization(est: MatrixFactorization, ctx: Context) -> Head:
    o = PmmlOps(ctx.doc)
    users = [ref(ctx.fields[c]) for c in est.user_columns]
    items = [ref(ctx.fields[c]) for c in est.item_columns]
    value = score(o, est, users, items)
    value = value[0] if isinstance(value, list) else value
    return scores_head(ctx.doc, o, arithmetic.Scores("value", [value]))
