"""PMML for IR Probit (River's AdPredictor): `ir.arithmetic.probit_probabilities` as
DerivedFields (double; erf is PMML 4.4's built-in), the first class's probability through a
RegressionModel (JPMML gives the other 1 - it)."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.probit import Probit, probabilities
from ..registry import register_emitter
from .document import Head, PmmlOps, ref
from .linear import scores_head
from .transforms import Context


@register_emitter("pmml", Probit)
def probit(est: Probit, ctx: Context) -> Head:
    o = PmmlOps(ctx.doc)
    out = probabilities(o, est, [ref(ctx.fields[c]) for c in est.columns])
    return scores_head(ctx.doc, o, arithmetic.Scores("probabilities", out, complementary=True))
