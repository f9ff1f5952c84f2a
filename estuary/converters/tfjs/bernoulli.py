"""TF.js for IR BernoulliNB: River's `x > threshold` test decided exactly on the order keys.

In float32 a tiny positive value (1e-300) becomes 0 and would fail `x > 0`; here each column's
test is a split `z <= threshold` moved onto its raw input (tree_routing.py), so the sides
σ_j = ∓1 (off / on) are River's. With d = log_on - log_off,

    jll_c = log_prior_c + Σ_j (on_cj + off_cj) / 2 + Σ_j σ_j · d_cj / 2

is one MatMul of the sides with the halves of d in two float32 pieces each (every product
exact, the cpu kernel adds each 48-wide block in double), the constant riding on two splits
every row passes on the left (σ = -1). Probabilities are TF.js's softmax of jll, labels its
ArgMax.
"""

from __future__ import annotations

import numpy as np

from ... import ir
from ...ir.naive_bayes import BernoulliNB
from ..registry import register_emitter
from .graph import Graph
from .linear import pieces
from .transforms import FORMAT, Context
from .tree_routing import (
    ALWAYS_LEFT,
    NotRoutable,
    Splits,
    concat_splits,
    keyed_sides,
    keyed_splits,
)
from .trees import Inputs, refusal


def column_splits(model: ir.Model, est: BernoulliNB) -> Splits:
    """Each column's `z <= threshold` (off) on its raw input; a missing column is off."""
    F = len(est.columns)
    try:
        return keyed_splits(model, list(est.columns), np.full(F, est.threshold), np.ones(F, bool))
    except NotRoutable as e:
        raise refusal(est, str(e)) from None


def emit_bernoulli(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    est = model.estimator
    if not est.columns:
        raise refusal(est, "the model reads no column")
    s = column_splits(model, est)
    both = concat_splits([s, s, ALWAYS_LEFT, ALWAYS_LEFT])  # [σ, σ, -1, -1]
    on = np.asarray(est.log_on, dtype=np.float64).T  # [F, C]
    off = np.asarray(est.log_off, dtype=np.float64).T
    half = (on - off) / 2
    const = np.asarray(est.log_priors, dtype=np.float64) + ((on + off) / 2).sum(axis=0)
    h_hi, h_lo = pieces(half, 2, 24)
    c_hi, c_lo = pieces(-const, 2, 24)  # σ = -1 on those rows
    W = np.vstack([h_lo, h_hi, c_lo[None, :], c_hi[None, :]]).astype(np.float64)
    inputs = Inputs(g, x, model.schema)
    sides = keyed_sides(both, g, inputs.keys, inputs.n_raw)
    jll = g.op("MatMul", sides, g.const(W))
    return {"probabilities": g.op("Softmax", jll), "label": g.op("ArgMax", jll, g.axis(1))}


@register_emitter(FORMAT, BernoulliNB)
def bernoulli_nb(est: BernoulliNB, ctx: Context) -> dict[str, str]:
    """The `x > threshold` tests read the raw inputs' order keys: the whole model, `ctx.model`."""
    return emit_bernoulli(ctx.model, ctx.graph, ctx.x)
