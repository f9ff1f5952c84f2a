"""Matrix factorisation recommenders as an IR estimator, and its numpy evaluation: River's
`reco.BiasedMF` and `reco.FunkMF`, the user and item tables frozen at snapshot time and looked
up from the row's one-hot `user` and `item` columns. (`reco.Baseline` needs no node of its own:
two `Lookup`s and a `Linear`.)

The arithmetic is `ir.arithmetic.lookup` for the biases and `factorization_score` for the
latent vectors; River's order: ((global mean + user bias) + item bias) + u · v.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import evaluates
from .nodes import Estimator, IRError, ir_node


@ir_node
@dataclass(frozen=True)
class MatrixFactorization(Estimator):
    """score = [((mean + user_bias[u]) + item_bias[i]) +] user_latent[u] · item_latent[i].

    `biased` False is FunkMF (the dot product alone). A user (item) River has not met gets
    `user_bias_default` and a latent vector of `user_latent_default` in every factor.

    >>> MatrixFactorization(("user=1", "item=a"), ("user=1",), ("item=a",), True, 3.5,
    ...                     (0.1,), 0.0, (-0.2,), 0.0, ((0.3, 0.1),), 0.0, ((0.5, -1.0),), 0.0)
    """

    columns: tuple[str, ...]
    user_columns: tuple[str, ...]
    item_columns: tuple[str, ...]
    biased: bool
    mean: float
    user_bias: tuple[float, ...]
    user_bias_default: float
    item_bias: tuple[float, ...]
    item_bias_default: float
    user_latent: tuple[tuple[float, ...], ...]  # [U][k]
    user_latent_default: float
    item_latent: tuple[tuple[float, ...], ...]  # [I][k]
    item_latent_default: float

    def __post_init__(self) -> None:
        if self.columns != self.user_columns + self.item_columns:
            raise IRError("MatrixFactorization reads the user columns, then the item columns")
        if len(self.user_latent) != len(self.user_columns) or len(self.item_latent) != len(
                self.item_columns):
            raise IRError("MatrixFactorization: one latent vector per user and per item")
        widths = {len(v) for v in (*self.user_latent, *self.item_latent)}
        if len(widths) > 1:
            raise IRError("MatrixFactorization: latent vectors differ in length")
        if self.biased and (len(self.user_bias) != len(self.user_columns)
                            or len(self.item_bias) != len(self.item_columns)):
            raise IRError("MatrixFactorization: one bias per user and per item")
        numbers = (self.mean, self.user_bias_default, self.item_bias_default,
                   self.user_latent_default, self.item_latent_default, *self.user_bias,
                   *self.item_bias, *(v for row in self.user_latent for v in row),
                   *(v for row in self.item_latent for v in row))
        if not all(math.isfinite(v) for v in numbers):
            raise IRError("MatrixFactorization: values must be finite numbers")

    @property
    def n_factors(self) -> int:
        rows = self.user_latent or self.item_latent
        return len(rows[0]) if rows else 0

    def table(self, rows: tuple[tuple[float, ...], ...]) -> np.ndarray:
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), self.n_factors)


def score(o: arithmetic.Ops, est: MatrixFactorization, users, items) -> object:
    """River's `predict_one` for the rows' one-hot `users` [N, U] and `items` [N, I]."""
    users = o.keep(users, "user")
    items = o.keep(items, "item")
    mean = None
    if est.biased:
        ub = np.asarray(est.user_bias, dtype=np.float64).reshape(-1, 1)
        ib = np.asarray(est.item_bias, dtype=np.float64).reshape(-1, 1)
        mean = o.add(o.const(est.mean), arithmetic.lookup(o, users, ub, est.user_bias_default))
        mean = o.add(mean, arithmetic.lookup(o, items, ib, est.item_bias_default))
    return arithmetic.factorization_score(o, users, items, mean, est.table(est.user_latent),
                                          est.user_latent_default, est.table(est.item_latent),
                                          est.item_latent_default)


@evaluates(MatrixFactorization)
def _matrix_factorization(est: MatrixFactorization, Z: np.ndarray) -> np.ndarray:
    n_users = len(est.user_columns)
    return score(NUMPY, est, Z[:, :n_users], Z[:, n_users:])[:, 0]
