"""TF.js graph ops for IR GaussianNB in float32, arranged so single precision loses little.

River computes log(eps + pdf) with pdf = exp(-z²/2) / sqrt(2π) / sigma in float64. In float32
the density underflows long before it stops mattering, so the graph works in the log domain:
log pdf = -(x - mu)² · (0.5 / var) - log(sqrt(2π) · sigma) (constants folded in float64), then
log(eps + pdf) = logaddexp(log eps, log pdf). Before summing over columns, each column's terms
are shifted by their maximum over classes: the softmax does not change, and the sums stay small
(a few float32 ulps instead of hundreds of log(eps) adding up to ~-400).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.naive_bayes import SQRT_TAU, GaussianNB
from ..registry import register_emitter
from .graph import FLOAT32_MAX, Graph
from .linear import softmax
from .transforms import FORMAT


def logaddexp(g: Graph, a: float, b: str) -> str:
    """log(exp(a) + exp(b)) for a constant a: max(a, b) + log1p(exp(-|a - b|))."""
    ca = g.const(a)
    gap = g.op("Abs", g.op("Sub", b, ca))
    return g.op("AddV2", g.op("Maximum", b, ca), g.op("Log1p", g.op("Exp", g.op("Neg", gap))))


@register_emitter(FORMAT, GaussianNB)
def gaussian_nb(est: GaussianNB, g: Graph, x: str) -> dict[str, str]:
    shape = (len(est.log_priors), len(est.columns))
    means = np.asarray(est.means, dtype=np.float64).reshape(shape)
    variances = np.asarray(est.variances, dtype=np.float64).reshape(shape)
    usable = variances > 0.0
    safe_var = np.where(usable, variances, 1.0)
    half_precision = np.minimum(0.5 / safe_var, FLOAT32_MAX)  # 0 · inf would be NaN
    log_norm = math.log(SQRT_TAU) + 0.5 * np.log(safe_var)
    xu = g.op("ExpandDims", x, g.axis(1))  # [N, 1, F] against [C, F]
    d = g.op("Sub", xu, g.const(np.where(usable, means, 0.0)))
    log_pdf = g.op("Sub", g.op("Neg", g.op("Mul", g.op("Mul", d, d), g.const(half_precision))),
                   g.const(log_norm))
    log_eps = math.log(est.epsilon)
    term = logaddexp(g, log_eps, log_pdf)
    if not usable.all():
        term = g.where(g.const(usable, np.bool_), term, g.const(log_eps))
    term = g.where(g.op("IsNan", xu), g.const(0.0), term)  # a missing key adds nothing
    term = g.op("Sub", term, g.reduce("Max", term, 1, True))  # common shift: softmax-invariant
    jll = g.op("AddV2", g.const(est.log_priors), g.reduce("Sum", term, 2, False))
    return {"probabilities": softmax(g, jll)}
