"""River naive Bayes → IR GaussianNB.

River's `GaussianNB.joint_log_likelihood` adds, for every key present in x, log(1e-9 + pdf) where
pdf is 0 when the class has no Gaussian for that key or the Gaussian has no positive variance
(`proba.Gaussian.__call__`). Each (class, column) is frozen as (mean, variance) with variance 0
for "no usable Gaussian", so every column reaching the model is covered, even one only the
scaler in front knows (River then adds log(1e-9) to every class, and so does the IR).
"""

from __future__ import annotations

import math

from river import compose, naive_bayes, preprocessing, proba, stats
from river.naive_bayes import gaussian as river_gaussian

from ... import ir
from ...errors import EmptyModelError, UnsupportedModelError
from ...ir.naive_bayes import BernoulliNB as BernoulliNBNode
from ...ir.naive_bayes import GaussianNB as GaussianNBNode
from ..registry import Case, register_extractor, supported_models
from .base import (
    ENCODE_CLOSED,
    PHISHING_KEYS,
    EstimatorIR,
    key_name,
    numeric_inputs,
    plain,
    require_closed,
    require_encoded,
    require_learned,
)


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



GAUSSIAN_CASES = (
    Case("gaussian_nb-phishing", "Phishing", naive_bayes.GaussianNB),
    Case("gaussian_nb-bananas", "Bananas", naive_bayes.GaussianNB),
    Case("gaussian_nb-image_segments", "ImageSegments", naive_bayes.GaussianNB),
    Case("scaler_gaussian_nb-phishing", "Phishing",
         lambda: preprocessing.StandardScaler() | naive_bayes.GaussianNB()),
    Case("scaler_gaussian_nb-image_segments", "ImageSegments",
         lambda: preprocessing.StandardScaler() | naive_bayes.GaussianNB()),
)
BERNOULLI_CASES = (
    Case("bernoulli-nb", "Phishing", naive_bayes.BernoulliNB),
    Case("scaler|bernoulli-nb", "ImageSegments",
         lambda: preprocessing.StandardScaler() | naive_bayes.BernoulliNB(alpha=0.5)),
)
MULTINOMIAL_CASES = (
    Case("select|multinomial-nb", "Phishing", lambda: compose.Select(*PHISHING_KEYS)
        | naive_bayes.MultinomialNB()),
    Case("union(select,select)|multinomial-nb", "ImageSegments", lambda: (
        compose.Select("region-centroid-col", "intensity-mean")
        + compose.Select("region-centroid-row", "saturation-mean", "hue-mean"))
        | preprocessing.MinMaxScaler() | naive_bayes.MultinomialNB(alpha=0.3)),
)


@register_extractor(naive_bayes.GaussianNB, inputs=_gaussian_inputs, kind="estimator",
                    produces=(GaussianNBNode,), cases=GAUSSIAN_CASES)
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


# ------------------------------------------------------------------------------ discrete models


def _class_order(m, what: str) -> tuple:
    require_learned(bool(m.class_counts), what)
    if len(m.class_counts) < 2:
        raise EmptyModelError(f"{what} has seen only the class {next(iter(m.class_counts))!r}: a "
                              "classifier needs two classes to export; learn more data first")
    return tuple(m.class_counts)


@register_extractor(naive_bayes.BernoulliNB, inputs=lambda m: numeric_inputs(m.feature_counts),
                    kind="estimator", produces=(BernoulliNBNode,), cases=BERNOULLI_CASES)
def bernoulli_nb(m: naive_bayes.BernoulliNB, columns: tuple[str, ...], ctx) -> EstimatorIR:
    """River sums over its vocabulary (`feature_counts`), not over x: unknown keys add nothing,
    a vocabulary term absent from x adds log(1e-9 + (1 - p)). The terms are River's own floats."""
    classes = _class_order(m, "BernoulliNB")
    vocab = {key_name(f): f for f in m.feature_counts}
    log_priors, log_on, log_off = [], [], []
    for c in classes:
        log_priors.append(math.log(m.p_class(c)))
        on, off = [], []
        for col in columns:
            if col in vocab:
                p = m.p_feature_given_class(vocab[col], c)
                on.append(math.log(10e-10 + p))
                off.append(math.log(10e-10 + (1.0 - p)))
            else:
                on.append(0.0)
                off.append(0.0)
        log_on.append(tuple(on))
        log_off.append(tuple(off))
    est = BernoulliNBNode(columns, tuple(log_priors), tuple(log_on), tuple(log_off),
                          float(m.true_threshold))
    return EstimatorIR(est, "classification", tuple(plain(c) for c in classes))


# River adds frequency · log(alpha / (total_c + alpha · n_terms)) for every key it never learned.
MULTINOMIAL_REFUSAL = ("River adds an out-of-vocabulary term for keys it never learned, also keys "
                       "an artifact cannot see")


@register_extractor(naive_bayes.MultinomialNB, inputs=lambda m: numeric_inputs(m.feature_counts),
                    kind="estimator", produces=(ir.Linear,), cases=MULTINOMIAL_CASES)
def multinomial_nb(m: naive_bayes.MultinomialNB, columns: tuple[str, ...], ctx) -> EstimatorIR:
    """River's `joint_log_likelihood`: jll_c = log p(c) + Σ_f x_f · log p(f | c), p(f | c) =
    (count_fc + alpha) / (total_c + alpha · n_terms) (the out-of-vocabulary term for a key it
    never learned, which an artifact sees only if the row reaches it closed); then
    `exp(jll - logsumexp(jll))`: a Linear model with the log priors as intercepts under River's
    softmax (the two normalisations differ by a few ulps)."""
    classes = _class_order(m, "MultinomialNB")
    require_closed(m, ctx, MULTINOMIAL_REFUSAL)
    require_encoded(m, columns, ctx, ", whose values River would count as frequencies",
                    ENCODE_CLOSED)
    keys = {key_name(f): f for f in m.feature_counts}
    weights = tuple(tuple(math.log(m.p_feature_given_class(keys.get(col, col), c))
                          for col in columns) for c in classes)
    priors = tuple(math.log(m.p_class(c)) for c in classes)
    return EstimatorIR(ir.Linear(columns, weights, priors, "softmax"), "classification", classes)


COMPLEMENT_CASES = (
    Case("select|complement-nb", "Phishing", lambda: compose.Select(*PHISHING_KEYS)
        | naive_bayes.ComplementNB()),
    Case("select|minmax|complement-nb", "ImageSegments", lambda: compose.Select(
        "region-centroid-col", "region-centroid-row", "intensity-mean", "hue-mean",
        "saturation-mean") | preprocessing.MinMaxScaler() | naive_bayes.ComplementNB(alpha=0.5)),
)


@register_extractor(naive_bayes.ComplementNB, inputs=lambda m: numeric_inputs(m.feature_counts),
                    kind="estimator", produces=(ir.Linear,), cases=COMPLEMENT_CASES)
def complement_nb(m: naive_bayes.ComplementNB, columns: tuple[str, ...], ctx) -> EstimatorIR:
    """River's `joint_log_likelihood`: jll_c = Σ_f x_f · -log(cc_cf / Σ_g cc_cg) over the row's
    keys, cc_cf = total_f + alpha - count_cf (alpha for a key it never learned, which an
    artifact sees only if the row reaches it closed: a `compose.Select` in front), no prior;
    then `exp(jll - logsumexp(jll))`. That is River's own maths for a Linear model with no
    intercept and a softmax (exp(z - max) / Σ; the two differ by a few ulps), so it is one."""
    classes = _class_order(m, "ComplementNB")
    require_learned(bool(m.feature_counts), "ComplementNB")
    require_closed(m, ctx, "River adds a term for every key it never learned (cc.get(f, "
                   "alpha)), also keys an artifact cannot see")
    weights = []
    for c in classes:
        cc = {key_name(f): m.feature_totals[f] + m.alpha - counts.get(c, 0)
              for f, counts in m.feature_counts.items()}
        total = sum(cc.values())
        weights.append(tuple(-math.log(cc.get(col, m.alpha) / total) for col in columns))
    linear = ir.Linear(columns, tuple(weights), tuple(0.0 for _ in classes), "softmax")
    return EstimatorIR(linear, "classification", classes)
