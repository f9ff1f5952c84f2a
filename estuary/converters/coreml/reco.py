"""Core ML for IR MatrixFactorization (River's BiasedMF, FunkMF), in float64 classic models.

River's score is ((mean + user bias) + item bias) + u · v. No classic model multiplies two
computed values, so the product u_k · v_k is taken the other way round: the side with more
rows ("A") is looked up (a GLMRegressor over its one-hot columns and `unseen` = 1 - Σ s: one
non-zero term per factor, River's default vector for a key it has not met), copied once per
row of the other side ("B", its rows and its default vector), and each copy multiplied by that
row's constant latent vector (a Scaler: fl(a_k · b_k), River's product). B's one-hot then keeps
its own row's products by gating (a GLMRegressor per factor: product + 4 · G with G = -0 for
the row, DBL_MAX elsewhere, then inf → 0 by an Imputer) and a GLMRegressor sums the k kept
products (River's np.dot, up to its order of summation). The biases are lookups summed in
River's order, one rounding per addition. The gating GLMs hold 2 · k · (|B| + 1)^2 weights; a
model beyond MAX_GATE_WEIGHTS is refused (reason in the error).
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import UnsupportedModelError
from ...ir.reco import MatrixFactorization
from ..registry import EMITTERS, register_emitter
from .builder import DBL_MAX, Stages
from .transforms import Context, take

MAX_GATE_WEIGHTS = 4_000_000  # 32 MB of doubles in the gating GLMs


def _with_unseen(s: Stages, onehot: str, m: int, hint: str) -> str:
    """[one-hot (m), unseen (1)]: unseen = 1 - Σ s, 1 for a key River has not met."""
    unseen = s.glm(onehot, -np.ones((1, m)), [1.0], hint=f"{hint}_unseen")
    return s.vectorize([(onehot, m), (unseen, 1)], f"{hint}_keys")


def _table(rows: np.ndarray, default: float, k: int) -> np.ndarray:
    """[m + 1, k]: the latent rows, then River's default vector."""
    return np.vstack([rows.reshape(-1, k), np.full((1, k), default)])


def _dot(s: Stages, a_keys: str, A: np.ndarray, b_keys: str, B: np.ndarray) -> str:
    """Σ_k a_k · b_k for the row's A and B keys (module docstring)."""
    k, nb = A.shape[1], B.shape[0]
    a = s.glm(a_keys, A.T, hint="a_latent")  # one non-zero product per factor: exact
    copies = s.glm(a, np.tile(np.eye(k), (nb, 1)), hint="a_copies")  # [nb · k]
    products = s.scaler(copies, nb * k, 0.0, B.ravel(), "products")  # fl(a_k · B[j, k])
    gate = s.scaler(b_keys, nb, -1.0, -DBL_MAX, "gate")  # -0 for the row, DBL_MAX elsewhere
    kept = []
    for f in range(k):
        column = s.extract(products, nb * k, [j * k + f for j in range(nb)], "factor")
        gated = s.glm(s.vectorize([(column, nb), (gate, nb)], "gate_inputs"),
                      np.hstack([np.eye(nb), 4.0 * np.eye(nb)]), hint="gated")
        zeroed = s.replace(gated, nb, math.inf, 0.0, "kept")
        kept.append((s.glm(zeroed, np.ones((1, nb)), hint="product"), 1))
    return s.glm(s.vectorize(kept, "products_kept"), np.ones((1, k)), hint="dot")


@register_emitter("coreml", MatrixFactorization)
def matrix_factorization(est: MatrixFactorization, ctx: Context) -> None:
    s, k = ctx.stages, est.n_factors
    users = take(s, (ctx.x, est.columns), est.user_columns)
    items = take(s, (ctx.x, est.columns), est.item_columns)
    nu, ni = len(est.user_columns), len(est.item_columns)
    u_keys, i_keys = _with_unseen(s, users, nu, "user"), _with_unseen(s, items, ni, "item")
    U = _table(est.table(est.user_latent), est.user_latent_default, k)
    V = _table(est.table(est.item_latent), est.item_latent_default, k)
    sides = ((u_keys, U), (i_keys, V)) if nu >= ni else ((i_keys, V), (u_keys, U))
    nb = min(nu, ni) + 1
    if 2 * k * nb * nb > MAX_GATE_WEIGHTS:
        have = sorted(t.__name__ for f, t in EMITTERS if f == "coreml")
        raise UnsupportedModelError("MatrixFactorization", have, reason=(
            f"coreml: Core ML's only float64 model that combines two computed arrays is the "
            f"dense GLMRegressor, and keeping one of {nb} latent rows per factor by gating "
            f"takes 2·k·{nb}² = {2 * k * nb * nb} weights (> {MAX_GATE_WEIGHTS}); export to "
            "ONNX, PMML or TF.js"))
    dot = _dot(s, *sides[0], *sides[1]) if k else s.glm(u_keys, np.zeros((1, nu + 1)),
                                                         hint="dot")
    if not est.biased:
        s.glm(dot, [[1.0]], [0.0], output="value")
        return
    ub = np.append(est.user_bias, est.user_bias_default)
    ib = np.append(est.item_bias, est.item_bias_default)
    total = s.glm(u_keys, ub[None, :], [est.mean], hint="mean_user")  # fl(mean + ub)
    total = s.glm(s.vectorize([(total, 1), (i_keys, ni + 1)], "with_item"),
                  np.append(1.0, ib)[None, :], hint="mean_user_item")  # fl(.. + ib)
    s.glm(s.vectorize([(total, 1), (dot, 1)], "with_dot"), [[1.0, 1.0]], [0.0], output="value")
