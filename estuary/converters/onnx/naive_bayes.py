"""ONNX for IR GaussianNB: per-(row, class, column) log densities in float64, River's softmax.

Shapes: x [N, F] → [N, 1, F] against parameters [C, F] → terms [N, C, F] → jll [N, C].
The arithmetic follows River's operation order: z = (x - mu) / sigma,
pdf = exp((-0.5 * z) * z) / sqrt(2π) / sigma, term = log(eps + pdf).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.naive_bayes import SQRT_TAU, BernoulliNB, GaussianNB, gaussian_nb_arrays
from ..registry import register_emitter
from .graph import Graph
from .transforms import Context


def log1p(g: Graph, s: str) -> str:
    """ONNX has no Log1p: Kahan's log(u) * s / (u - 1) with u = 1 + s (s itself when u == 1)."""
    u = g.op("Add", g.const(1.0), s)
    same = g.op("Equal", u, g.const(1.0))
    safe_den = g.op("Where", same, g.const(1.0), g.op("Sub", u, g.const(1.0)))
    kahan = g.op("Div", g.op("Mul", g.op("Log", u), s), safe_den)
    return g.op("Where", same, s, kahan)


def river_softmax(g: Graph, jll: str) -> str:
    """exp(jll - logsumexp(jll)) as scipy's logsumexp: the max split off, log1p of the rest."""
    axis = g.const([1], np.int64)
    a_max = g.op("ReduceMax", jll, axis, keepdims=1)
    is_max = g.op("Equal", jll, a_max)
    m = g.op("ReduceSum", g.op("Cast", is_max, to=11), axis, keepdims=1)  # 11 = DOUBLE
    rest = g.op("Where", is_max, g.const(0.0), g.op("Exp", g.op("Sub", jll, a_max)))
    s = g.op("Div", g.op("ReduceSum", rest, axis, keepdims=1), m)
    lse = g.op("Add", g.op("Add", log1p(g, s), g.op("Log", m)), a_max)
    return g.op("Exp", g.op("Sub", jll, lse))


@register_emitter("onnx", GaussianNB)
def gaussian_nb(est: GaussianNB, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    means, sigmas, usable = gaussian_nb_arrays(est)
    xu = g.op("Unsqueeze", x, g.const([1], np.int64))
    z = g.op("Div", g.op("Sub", xu, g.const(means)), g.const(sigmas))
    e = g.op("Exp", g.op("Mul", g.op("Mul", g.const(-0.5), z), z))
    pdf = g.op("Div", g.op("Div", e, g.const(SQRT_TAU)), g.const(sigmas))
    term = g.op("Log", g.op("Add", g.const(est.epsilon), pdf))
    if not usable.all():
        term = g.op("Where", g.const(usable, np.bool_), term, g.const(math.log(est.epsilon)))
    term = g.op("Where", g.op("IsNaN", xu), g.const(0.0), term)  # a missing key adds nothing
    total = g.op("ReduceSum", term, g.const([2], np.int64), keepdims=0)
    jll = g.op("Add", g.const(est.log_priors), total)
    return {"probabilities": river_softmax(g, jll)}


@register_emitter("onnx", BernoulliNB)
def bernoulli_nb(est: BernoulliNB, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    shape = (len(est.log_priors), len(est.columns))
    hit = g.op("Unsqueeze", g.op("Greater", x, g.const(est.threshold)),  # NaN: False ("off")
               g.const([1], np.int64))
    terms = g.op("Where", hit, g.const(np.asarray(est.log_on).reshape(shape)),
                 g.const(np.asarray(est.log_off).reshape(shape)))
    jll = g.op("Add", g.const(est.log_priors),
               g.op("ReduceSum", terms, g.const([2], np.int64), keepdims=0))
    return {"probabilities": river_softmax(g, jll)}
