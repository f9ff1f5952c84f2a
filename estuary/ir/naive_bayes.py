"""Naive Bayes IR nodes and their numpy evaluation.

`GaussianNB` holds River's `naive_bayes.GaussianNB` state as plain numbers: one log prior per
class and, per (class, column), the mean and variance of the Gaussian River would evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import evaluates
from .nodes import Estimator, IRError, ir_node


@ir_node
@dataclass(frozen=True)
class GaussianNB(Estimator):
    """jll_c = log_prior_c + Σ over present columns j of log(epsilon + pdf_cj(x_j)), then softmax.

    pdf_cj is the normal density with `means[c][j]` and `variances[c][j]`. A variance of 0 means
    River has no usable Gaussian there (feature never seen for that class, a single sample, or
    zero spread): the density is 0, so a present value adds log(epsilon). A missing column (NaN)
    adds nothing. Probabilities are River's `exp(jll - logsumexp(jll))`.
    """

    columns: tuple[str, ...]
    log_priors: tuple[float, ...]  # [C]
    means: tuple[tuple[float, ...], ...]  # [C][F]
    variances: tuple[tuple[float, ...], ...]  # [C][F], >= 0; 0 = no usable Gaussian
    epsilon: float = 1e-9

    def __post_init__(self) -> None:
        n_classes = len(self.log_priors)
        if len(self.means) != n_classes or len(self.variances) != n_classes:
            raise IRError("GaussianNB: log_priors, means and variances differ in length")
        for m_row, v_row in zip(self.means, self.variances, strict=True):
            if len(m_row) != len(self.columns) or len(v_row) != len(self.columns):
                raise IRError("GaussianNB: a means/variances row does not match the columns")
            if any(not v >= 0.0 for v in v_row):
                raise IRError("GaussianNB: variances must be >= 0 (0 marks no usable Gaussian)")
        if not self.epsilon > 0.0:
            raise IRError("GaussianNB: epsilon must be > 0")


def gaussian_nb_arrays(est: GaussianNB) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """means [C, F], sigmas [C, F] (1.0 where unusable, to keep the arithmetic finite), usable."""
    shape = (len(est.log_priors), len(est.columns))
    means = np.asarray(est.means, dtype=np.float64).reshape(shape)
    variances = np.asarray(est.variances, dtype=np.float64).reshape(shape)
    usable = variances > 0.0
    sigmas = np.sqrt(np.where(usable, variances, 1.0))  # sqrt is correctly rounded, as math.sqrt
    return np.where(usable, means, 0.0), sigmas, usable


def joint_log_likelihood(est: GaussianNB, Z: np.ndarray) -> np.ndarray:
    """[N, C] joint log-likelihoods, summed column by column as River sums over keys."""
    means, sigmas, usable = gaussian_nb_arrays(est)
    total = np.zeros((Z.shape[0], len(est.log_priors)))
    for j in range(len(est.columns)):
        total += arithmetic.gaussian_log_term(NUMPY, Z[:, j:j + 1], means[:, j], sigmas[:, j],
                                              usable[:, j], est.epsilon)
    return np.asarray(est.log_priors) + total


def river_softmax(jll: np.ndarray) -> np.ndarray:
    """River's naive-Bayes probabilities (`arithmetic.logsumexp_softmax`)."""
    return arithmetic.logsumexp_softmax(NUMPY, jll)


@evaluates(GaussianNB)
def _gaussian_nb(est: GaussianNB, Z: np.ndarray) -> np.ndarray:
    return river_softmax(joint_log_likelihood(est, Z))


@ir_node
@dataclass(frozen=True)
class BernoulliNB(Estimator):
    """River's `naive_bayes.BernoulliNB`: jll_c = log_prior_c + Σ_j (log_on[c][j] if x_j >
    threshold else log_off[c][j]) over every column, then River's (scipy logsumexp) softmax.

    A missing column (NaN) takes `log_off`, as River does for a vocabulary term absent from x; a
    column outside River's vocabulary has both terms 0. The terms are River's own
    `log(1e-9 + p)` and `log(1e-9 + (1 - p))`, computed at extraction.
    """

    columns: tuple[str, ...]
    log_priors: tuple[float, ...]  # [C]
    log_on: tuple[tuple[float, ...], ...]  # [C][F]
    log_off: tuple[tuple[float, ...], ...]  # [C][F]
    threshold: float = 0.0

    def __post_init__(self) -> None:
        n_classes = len(self.log_priors)
        if len(self.log_on) != n_classes or len(self.log_off) != n_classes:
            raise IRError("BernoulliNB: log_priors, log_on and log_off differ in length")
        for on, off in zip(self.log_on, self.log_off, strict=True):
            if len(on) != len(self.columns) or len(off) != len(self.columns):
                raise IRError("BernoulliNB: a log_on/log_off row does not match the columns")


@evaluates(BernoulliNB)
def _bernoulli_nb(est: BernoulliNB, Z: np.ndarray) -> np.ndarray:
    shape = (len(est.log_priors), len(est.columns))
    on = np.asarray(est.log_on, dtype=np.float64).reshape(shape)
    off = np.asarray(est.log_off, dtype=np.float64).reshape(shape)
    terms = arithmetic.bernoulli_term(NUMPY, Z[:, None, :], est.threshold, on, off)
    return river_softmax(np.asarray(est.log_priors) + terms.sum(axis=2))
