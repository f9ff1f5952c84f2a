"""TF.js graph ops for IR GaussianNB in float32, arranged so single precision loses little.

River computes log(eps + pdf) with pdf = exp(-z²/2) / sqrt(2π) / sigma in float64. Here, per
(column, class): log(eps + exp(k - (x - mu)² · (0.5 / var))) with k = -log(sqrt(2π) · sigma)
folded in float64 (TF.js's SquaredDifference, Exp and Log compute in double and round once).

Summing ~F terms near log(eps) ≈ -20.7 in float32 would cost ~1e-5 in the result, so each
column's terms are compared with a reference Gaussian per column (wide enough to cover every
class) evaluated alongside: jll_c = prior_c + Σ_j (term_cj - term_ref,j). The reference part is
the same for every class (the softmax does not change) and cancels log(eps) exactly where a
column is far from every class (a column where no class has a density has no reference either).
One MatMul does the differences and the sum in double: the terms of each column (in chunks of
47 classes with their own reference copy) sit together inside one of the cpu kernel's 48-wide
blocks, so the only roundings are of small block totals.

A missing input (NaN) becomes float32's largest number, whose density is 0 everywhere: the
column adds nothing, as in River (±inf, a value beyond float32, becomes it too: density 0). A
zero-variance column adds log(eps), as River's does, through a tiny slope and an offset of
-1e30. A variance float32 cannot invert (below 1e-38, above 1e37) is refused: export to ONNX.

TF.js's graph executor charges ~2 µs a node, and its cpu kernels take a slow path for size-1
broadcasts, so the graph is short and its constants flat; another MatMul repeats each input
column once per class and for the reference ([N, F] · 0/1: each output is one input times 1),
and the priors ride on a term that is exactly float32(ln 2).
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import UnsupportedModelError
from ...ir.arithmetic import SQRT_TAU
from ...ir.naive_bayes import GaussianNB
from ..registry import register_emitter
from .graph import FLOAT32_MAX
from .linear import MATMUL_BLOCK, argmax, pieces
from .transforms import FORMAT, Context

NEVER = -1e30  # exp(-1e30) = 0: a zero-variance column adds log(eps), like River
TINY_SLOPE = 1e-30  # keeps slope · inf = -inf (not NaN) where the variance is zero
VARIANCES = (1e-38, 1e37)  # beyond these, 0.5 / variance has no float32 (or exp(k) overflows)
Term = tuple[int, tuple[int, ...], float]  # (column, classes, sign): +1 a class, -1 a reference


def reference(means: np.ndarray, variances: np.ndarray,
              usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, a Gaussian spanning the classes: their mean, and a variance covering both
    their spread and their widest variance (float64)."""
    mu = np.array([m[u].mean() if u.any() else 0.0 for m, u in zip(means, usable)])
    spread = np.array([((m[u] - c) ** 2).max() if u.any() else 1.0
                       for m, u, c in zip(means, usable, mu)])
    widest = np.array([v[u].max() if u.any() else 1.0 for v, u in zip(variances, usable)])
    return mu, np.maximum(spread + widest, np.finfo(np.float64).tiny)


def layout(F: int, C: int) -> list[Term | None]:
    """Position → term (None: padding). Per column, the classes come in chunks of at most 47,
    each followed by its own reference term, and no chunk straddles one of the MatMul kernel's
    48-wide blocks: each block total is then a sum of small differences."""
    out: list[Term | None] = []
    for j in range(F):
        for start in range(0, C, MATMUL_BLOCK - 1):
            chunk = tuple(range(start, min(C, start + MATMUL_BLOCK - 1)))
            end = len(out) + len(chunk)  # the chunk's last position (its reference)
            if len(out) // MATMUL_BLOCK != end // MATMUL_BLOCK:
                out += [None] * (MATMUL_BLOCK - len(out) % MATMUL_BLOCK)
            out += [(j, (k,), 1.0) for k in chunk] + [(j, chunk, -1.0)]
    return out


def _refuse_float32_variances(variances: np.ndarray, usable: np.ndarray) -> None:
    low, high = VARIANCES
    bad = usable & ((variances < low) | (variances > high))
    if bad.any():
        raise UnsupportedModelError("GaussianNB", [], reason=(
            f"a variance of {variances[bad].flat[0]:.3g} is outside [{low:g}, {high:g}], where "
            "float32 holds 0.5 / variance; export to ONNX (float64, also in the browser)"))


@register_emitter(FORMAT, GaussianNB)
def gaussian_nb(est: GaussianNB, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.transformed()
    C, F = len(est.log_priors), len(est.columns)
    means = np.asarray(est.means, dtype=np.float64).reshape(C, F).T  # [F, C]
    variances = np.asarray(est.variances, dtype=np.float64).reshape(C, F).T
    usable = variances > 0.0
    ref_mu, ref_var = reference(means, variances, usable)
    ref_usable = usable.any(axis=1)  # no class has a density here: nor has the reference
    means = np.hstack([np.where(usable, means, 0.0), ref_mu[:, None]])  # [F, C + 1]
    safe_var = np.hstack([np.where(usable, variances, 1.0), ref_var[:, None]])
    usable = np.hstack([usable, ref_usable[:, None]])
    _refuse_float32_variances(safe_var, usable)
    slope = np.where(usable, 0.5 / safe_var, TINY_SLOPE)
    offset = np.where(usable, -math.log(SQRT_TAU) - 0.5 * np.log(safe_var), NEVER)

    where = layout(F, C) + [None, None]  # the last two: log 2, for the priors
    W = len(where)
    repeat, combine = np.zeros((F, W)), np.zeros((W, C))
    mu_w, slope_w, offset_w = np.zeros(W), np.zeros(W), np.zeros(W)
    for p, term in enumerate(where):
        if term is None:
            continue
        j, classes, sign = term
        k = classes[0] if sign > 0 else C  # column C of the tables: the reference
        repeat[j, p] = 1.0
        mu_w[p], slope_w[p], offset_w[p] = means[j, k], slope[j, k], offset[j, k]
        combine[p, list(classes)] = sign
    eps_w = np.full(W, est.epsilon)
    # a position no column feeds: exp(0) + 1 = 2 exactly, its term is float32(ln 2), and the
    # priors ride on it (two float32 pieces of prior / ln 2): no separate addition
    eps_w[-2:] = 1.0
    combine[-2:] = pieces(np.asarray(est.log_priors) / float(np.float32(math.log(2.0))), 2, 24)

    # NaN and ±inf → float32's largest number (the sign does not matter once squared): no
    # inf reaches the MatMul, where inf · 0 would be NaN
    far = g.where(g.op("IsFinite", x), x, g.const(np.full(F, FLOAT32_MAX)))
    wide = g.op("MatMul", far, g.const(repeat), transpose_a=False, transpose_b=False)
    sq = g.op("SquaredDifference", wide, g.const(mu_w))
    u = g.op("AddV2", g.op("Mul", sq, g.const(-slope_w)), g.const(offset_w))
    term = g.op("Log", g.op("AddV2", g.op("Exp", u), g.const(eps_w)))  # log(eps + pdf)
    jll = g.op("MatMul", term, g.const(combine), transpose_a=False, transpose_b=False)
    return {"probabilities": g.op("Softmax", jll), "label": argmax(g, jll)}  # float32 rewrite of
    # `arithmetic.logsumexp_softmax`: the kernel shifts by the max, as scipy does
