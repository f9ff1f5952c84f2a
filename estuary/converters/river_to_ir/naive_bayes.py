"""River naive Bayes → IR GaussianNB.

River's `GaussianNB.joint_log_likelihood` adds, for every key present in x, log(1e-9 + pdf) where
pdf is 0 when the class has no Gaussian for that key or the Gaussian has no positive variance
(`proba.Gaussian.__call__`). Each (class, column) is frozen as (mean, variance) with variance 0
for "no usable Gaussian", so every column reaching the model is covered, even one only the
scaler in front knows (River then adds log(1e-9) to every class, and so does the IR).
"""

from __future__ import annotations

import math

from river import naive_bayes, proba, stats
from river.naive_bayes import gaussian as river_gaussian

from ...errors import EmptyModelError, UnsupportedModelError
from ...ir.naive_bayes import GaussianNB as GaussianNBNode
from ..registry import register_extractor, supported_models
from .base import EstimatorIR, key_name, numeric_inputs, plain, require_learned


def _gaussian_inputs(m: naive_bayes.GaussianNB) -> dict:
    keys: dict = {}
    for per_class in m.gaussians.values():
        keys.update(numeric_inputs(per_class))
    return keys


def _mean_variance(m: naive_bayes.GaussianNB, g: object) -> tuple[float, float]:
    """What `proba.Gaussian.__call__` uses: mu and variance = S / (n - ddof), or variance 0."""
    if type(g) is not proba.Gaussian or type(g._var) is not stats.Var:
        raise UnsupportedModelError(m, supported_models(),
                                    reason=f"a per-feature distribution is {type(g).__name__}")
    var = g._var
    n, ddof = var.mean.n, var.ddof
    if not n > ddof:
        return 0.0, 0.0
    mu, variance = float(var.mean._mean), float(var._S / (n - var.ddof))
    # River's test `variance > 0` makes a NaN variance "no usable Gaussian"; an infinite one
    # gives sigma = inf and a density of exactly 0 for every finite x, which is the same thing.
    if not (variance > 0.0 and math.isfinite(variance)):
        return 0.0, 0.0
    if not math.isfinite(mu):  # River's own log-likelihood is NaN then
        raise UnsupportedModelError(m, supported_models(),
                                    reason="a Gaussian has an infinite or NaN mean")
    return mu, variance


@register_extractor(naive_bayes.GaussianNB, inputs=_gaussian_inputs, kind="estimator",
                    produces=(GaussianNBNode,))
def gaussian_nb(m: naive_bayes.GaussianNB, columns: tuple[str, ...], ctx) -> EstimatorIR:
    """Classes in `class_counts` order (River's probability dict order)."""
    require_learned(bool(m.class_counts), "GaussianNB")
    if len(m.class_counts) < 2:
        only = next(iter(m.class_counts))
        raise EmptyModelError(
            f"GaussianNB has seen only the class {only!r}: a classifier needs two classes to "
            "export; call learn_one on more data before export")
    log_priors, means, variances = [], [], []
    for c in m.class_counts:
        per_class = {key_name(k): g for k, g in m.gaussians.get(c, {}).items()}
        stats_ = [_mean_variance(m, per_class[col]) if col in per_class else (0.0, 0.0)
                  for col in columns]
        log_priors.append(math.log(m.p_class(c)))
        means.append(tuple(mu for mu, _ in stats_))
        variances.append(tuple(v for _, v in stats_))
    est = GaussianNBNode(columns, tuple(log_priors), tuple(means), tuple(variances),
                         epsilon=river_gaussian._PDF_EPS)
    return EstimatorIR(est, "classification", tuple(plain(c) for c in m.class_counts))
