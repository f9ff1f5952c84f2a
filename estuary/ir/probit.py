"""The `Probit` IR estimator and its numpy evaluation: River's `linear_model.AdPredictor`, a
Gaussian belief per key frozen at snapshot time. The arithmetic is
`ir.arithmetic.probit_probabilities` (normal CDF through `Ops.erf`)."""

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
class Probit(Estimator):
    """p(True) = Φ((bias_mean + Σ means_j) / sqrt(base_variance + Σ variances_j)) over the
    active columns (present and non-zero), clamped to [1e-12, 1 - 1e-12]; probabilities
    [1 - p, p]. `base_variance` is the bias's variance plus β².

    >>> Probit(("ad=1", "site=2"), (0.3, -0.1), (0.5, 0.9), bias_mean=0.0, base_variance=1.01)
    """

    columns: tuple[str, ...]
    means: tuple[float, ...]
    variances: tuple[float, ...]
    bias_mean: float
    base_variance: float

    def __post_init__(self) -> None:
        if not len(self.columns) == len(self.means) == len(self.variances):
            raise IRError("Probit: columns, means and variances differ in length")
        if not all(math.isfinite(v) for v in (*self.means, self.bias_mean)):
            raise IRError("Probit: means must be finite")
        if not all(v > 0 and math.isfinite(v) for v in (*self.variances, self.base_variance)):
            raise IRError("Probit: variances must be finite and > 0")

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """means [F, 1], variances [F, 1] (float64)."""
        return (np.asarray(self.means, dtype=np.float64).reshape(-1, 1),
                np.asarray(self.variances, dtype=np.float64).reshape(-1, 1))


def probabilities(o: arithmetic.Ops, est: Probit, x) -> object:
    means, variances = est.tables()
    return arithmetic.probit_probabilities(o, x, means, variances, est.bias_mean,
                                           est.base_variance)


@evaluates(Probit)
def _probit(est: Probit, Z: np.ndarray) -> np.ndarray:
    return probabilities(NUMPY, est, Z)
