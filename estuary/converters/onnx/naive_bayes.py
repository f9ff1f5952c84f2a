"""ONNX for IR GaussianNB and BernoulliNB: River's terms and softmax from `ir.arithmetic`.

Shapes: x [N, F] → [N, 1, F] against parameters [C, F] → terms [N, C, F] → jll [N, C], all
float64.
"""

from __future__ import annotations

import numpy as np

from ...ir import arithmetic
from ...ir.naive_bayes import BernoulliNB, GaussianNB, gaussian_nb_arrays
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context


@register_emitter("onnx", GaussianNB)
def gaussian_nb(est: GaussianNB, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    means, sigmas, usable = gaussian_nb_arrays(est)
    o = OnnxOps(g)
    xu = g.op("Unsqueeze", x, g.const([1], np.int64))  # [N, 1, F] against [C, F]
    term = arithmetic.gaussian_log_term(o, xu, g.const(means), g.const(sigmas), usable,
                                        est.epsilon)
    jll = g.op("Add", g.const(est.log_priors), g.reduce("ReduceSum", term, 2, keepdims=False))
    return {"probabilities": arithmetic.logsumexp_softmax(o, jll)}


@register_emitter("onnx", BernoulliNB)
def bernoulli_nb(est: BernoulliNB, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    shape = (len(est.log_priors), len(est.columns))
    o = OnnxOps(g)
    xu = g.op("Unsqueeze", x, g.const([1], np.int64))
    terms = arithmetic.bernoulli_term(o, xu, est.threshold,
                                      g.const(np.asarray(est.log_on).reshape(shape)),
                                      g.const(np.asarray(est.log_off).reshape(shape)))
    jll = g.op("Add", g.const(est.log_priors), g.reduce("ReduceSum", terms, 2, keepdims=False))
    return {"probabilities": arithmetic.logsumexp_softmax(o, jll)}
