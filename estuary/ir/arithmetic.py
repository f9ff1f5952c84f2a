"""River's arithmetic, written once: the formulas every target computes, over abstract `Ops`.

m2cgen's lesson: a target should know operations, never models. Each formula here is River's own
operation order (read from river 0.26.1), written against a small set of element-wise and
per-class operations. A target supplies an `Ops` for its own values (numpy arrays here; ONNX
tensor names, PMML expressions and TF.js graph tensors in the converters) and gets River's maths
with nothing to re-derive. A float32 target that must compute differently to stay exact (TF.js
order keys, Core ML's double pre-scaler) rewrites a block in its own package and says so there.

Values are "class vectors" where a formula works per class: [N, K] for tensors, a list of K
scalar expressions for PMML. `o.where` may take a plain Python bool as its condition (every
target folds it away); PMML also takes a tuple of them (one per class), ONNX a numpy mask.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

SIGMOID_CLAMP = 30.0  # River's `utils.math.sigmoid`: exactly 0 below -30, exactly 1 above 30
SQRT_TAU = math.sqrt(2.0 * math.pi)  # River's `utils.math.norm_pdf` divides by this


class Ops(Protocol):
    """What a target must offer. Comparisons with a missing (NaN) operand are false."""

    def const(self, value: Any) -> Any: ...
    def add(self, a: Any, b: Any) -> Any: ...
    def sub(self, a: Any, b: Any) -> Any: ...
    def mul(self, a: Any, b: Any) -> Any: ...
    def div(self, a: Any, b: Any) -> Any: ...
    def exp(self, a: Any) -> Any: ...
    def log(self, a: Any) -> Any: ...
    def log1p(self, a: Any) -> Any: ...
    def sqrt(self, a: Any) -> Any: ...
    def floor(self, a: Any) -> Any: ...  # the forecasts' season index (step - 1) mod m
    def erf(self, a: Any) -> Any: ...  # a target without a float64 kernel uses reference_erf
    def sigmoid(self, z: Any) -> Any: ...  # 1 / (1 + exp(-z)); a target may use its kernel
    def less(self, a: Any, b: Any) -> Any: ...
    def greater(self, a: Any, b: Any) -> Any: ...
    def equal(self, a: Any, b: Any) -> Any: ...
    def is_nan(self, a: Any) -> Any: ...
    def where(self, condition: Any, a: Any, b: Any) -> Any: ...
    def matmul(self, x: Any, W: np.ndarray) -> Any: ...  # x [N, S] · W [S, T] (a constant)
    def column(self, x: Any, j: int) -> Any: ...  # column j of x [N, S], as [N, 1] / a scalar
    # per row, 1.0 at the k smallest of d [N, W] (equal values: the lower index first), else 0.0;
    # only targets that emit `NearestNeighbors` offer it
    def nearest(self, d: Any, k: int) -> Any: ...
    def max_classes(self, v: Any) -> Any: ...  # per row, kept as a [N, 1] / scalar value
    def sum_classes(self, v: Any) -> Any: ...
    def concat_classes(self, parts: Sequence[Any]) -> Any: ...
    def keep(self, v: Any, hint: str) -> Any: ...  # a value used more than once (PMML: a field)


def reference_sigmoid(o: Ops, z: Any) -> Any:
    """1 / (1 + exp(-z)), River's operation order; targets without a sigmoid kernel use it."""
    return o.div(o.const(1.0), o.add(o.const(1.0), o.exp(o.sub(o.const(0.0), z))))


ERF_CUTOFF = 6.0  # |x| beyond: math.erf is ±1.0 exactly (erfc(6) = 2e-17)
ERF_TERMS = 120  # the series below has converged to a double's precision at |x| = 6


def reference_erf(o: Ops, x: Any) -> Any:
    """erf(x) = 2/√π · exp(-x²) · Σ_n (2x²)^n · x / (1·3·…·(2n+1)), on x clamped to ±6 (where
    erf is ±1 in double). Every term has x's sign, so nothing cancels: a few ulps of error
    (≤ 1e-15 absolute, measured against math.erf), for targets whose erf kernel is float32 only
    (onnxruntime has no double Erf)."""
    x = o.keep(o.where(o.greater(x, o.const(ERF_CUTOFF)), o.const(ERF_CUTOFF),
                       o.where(o.less(x, o.const(-ERF_CUTOFF)), o.const(-ERF_CUTOFF), x)), "x")
    two_x2 = o.keep(o.mul(o.const(2.0), o.mul(x, x)), "2x²")
    term, total = x, x
    for n in range(1, ERF_TERMS):
        term = o.keep(o.div(o.mul(term, two_x2), o.const(2.0 * n + 1.0)), f"term{n}")
        total = o.add(total, term)
    scale = o.mul(o.const(2.0 / math.sqrt(math.pi)), o.exp(o.sub(o.const(0.0), o.mul(x, x))))
    return o.mul(scale, total)


def norm_cdf(o: Ops, t: Any) -> Any:
    """River's `utils.math.norm_cdf`: 0.5 * (1 + erf(t / sqrt(2)))."""
    return o.mul(o.const(0.5), o.add(o.const(1.0), o.erf(o.div(t, o.const(math.sqrt(2.0))))))


# --------------------------------------------------------------------------------- links


def clamped_sigmoid(o: Ops, z: Any) -> Any:
    """River's `utils.math.sigmoid`: exactly 0 below -30 and 1 above 30."""
    z = o.keep(z, "z")
    high = o.where(o.greater(z, o.const(SIGMOID_CLAMP)), o.const(1.0), o.sigmoid(z))
    return o.where(o.less(z, o.const(-SIGMOID_CLAMP)), o.const(0.0), high)


def sigmoid_rank(o: Ops, z: Any) -> Any:
    """A key that orders classes as River's clamped sigmoids do (ties beyond ±30 stay ties)
    but can be compared in any precision: targets that take labels from z use it."""
    z = o.keep(z, "z")
    top = o.where(o.greater(z, o.const(SIGMOID_CLAMP)), o.const(SIGMOID_CLAMP + 1.0), z)
    return o.where(o.less(z, o.const(-SIGMOID_CLAMP)), o.const(-SIGMOID_CLAMP - 1.0), top)


@dataclass(frozen=True)
class Scores:
    """A link's result. `values` are final unless `normalise`: then probabilities are
    values / their per-row sum (a target with a sum normaliser, PMML's `simplemax`, uses it).
    `complementary`: binary [1 - p, p], where a target may derive the second from the first."""

    kind: str  # "value" | "probabilities"
    values: Any
    normalise: bool = False
    complementary: bool = False


def identity_link(o: Ops, z: Any) -> Scores:
    return Scores("value", z)


def binary_link(o: Ops, z: Any) -> Scores:
    """River's LogisticRegression: p = sigmoid(z) for classes[1], 1 - p for classes[0]."""
    p = o.keep(clamped_sigmoid(o, z), "sigmoid")
    return Scores("probabilities", o.concat_classes([o.sub(o.const(1.0), p), p]),
                  complementary=True)


def softmax_link(o: Ops, z: Any) -> Scores:
    """River's `utils.math.softmax`: exp(z - max), divided by its sum."""
    z = o.keep(z, "z")
    return Scores("probabilities", o.exp(o.sub(z, o.keep(o.max_classes(z), "max(z)"))),
                  normalise=True)


def ovr_link(o: Ops, z: Any) -> Scores:
    """River's OneVsRestClassifier: clamped sigmoids divided by their total, uniform (1/K) when
    the total is 0. Ones divided by their sum are exactly 1/K, so both cases are one division."""
    p = o.keep(clamped_sigmoid(o, z), "sigmoid")
    total = o.keep(o.sum_classes(p), "sum(sigmoid)")
    return Scores("probabilities", o.where(o.greater(total, o.const(0.0)), p, o.const(1.0)),
                  normalise=True)


LINKS: dict[str, Callable[[Ops, Any], Scores]] = {
    "identity": identity_link,
    "sigmoid": binary_link,
    "softmax": softmax_link,
    "ovr_sigmoid": ovr_link,
}


def link(o: Ops, name: str, z: Any) -> Scores:
    """Apply River's link `name` to the decision values z [N, K]."""
    rule = LINKS.get(name)
    if rule is None:
        raise ValueError(f"unknown link {name!r}; estuary knows {sorted(LINKS)}")
    return rule(o, z)


def normalised(o: Ops, scores: Scores) -> Any:
    """The final values of `scores`: divided by their sum where the link asks for it."""
    if not scores.normalise:
        return scores.values
    values = o.keep(scores.values, "scores")
    return o.div(values, o.sum_classes(values))


# --------------------------------------------------------------------------------- element-wise


def fill_missing(o: Ops, x: Any, fill: Any) -> Any:
    """River's `StatImputer.transform_one`: a missing value (None; NaN in an artifact) becomes
    the frozen statistic `fill`; a present value passes unchanged."""
    x = o.keep(x, "x")
    return o.where(o.is_nan(x), fill, x)


def l2_normalize(o: Ops, x: Any) -> Any:
    """River's `Normalizer.transform_one` (order 2): every present value divided by
    `np.linalg.norm` of the row's values, i.e. sqrt(x · x) over the present ones; a missing
    value stays missing. River raises on a zero norm (ZeroDivisionError): no reference there."""
    x = o.keep(x, "x")
    present = o.keep(o.where(o.is_nan(x), o.const(0.0), x), "present")
    norm = o.keep(o.sqrt(o.sum_classes(o.mul(present, present))), "norm")
    return o.div(x, norm)


def project(o: Ops, x: Any, W: np.ndarray, first: Any = None) -> Any:
    """River's random projections and feature hashing: out_t = Σ_s W[s, t] · x_s over the
    present x_s (an absent key adds nothing; River's sums skip the zero weights its sparse maps
    do not hold, which adds the same zeros here). With `first` (each target's first source,
    as the caller gathers it), a target none of whose sources is present is missing, as River's
    FeatureHasher leaves out a bucket no key of the row falls in: then every source is missing,
    `first` too."""
    x = o.keep(x, "x")
    out = o.matmul(o.where(o.is_nan(x), o.const(0.0), x), W)
    if first is None:
        return out
    present = o.matmul(o.where(o.is_nan(x), o.const(0.0), o.const(1.0)),
                       (np.asarray(W) != 0).astype(np.float64))
    return o.where(o.greater(present, o.const(0.0)), out, first)


def lookup(o: Ops, onehot: Any, table: np.ndarray, default: float) -> Any:
    """River's `Agg.transform_one`: the statistic of the row's group, `default` (a fresh
    statistic's value) for a group it has not met. `onehot` [N, m] holds the group's one-hot
    columns, `table` [m, 1] the values: s · v picks one value exactly (0 · v adds zeros) and
    (1 - Σ s) · default is 0 or the default. A missing group is missing (River raises)."""
    onehot = o.keep(onehot, "group")
    seen = o.matmul(onehot, np.ones_like(table))
    return o.add(o.matmul(onehot, table), o.mul(o.sub(o.const(1.0), seen), o.const(default)))


PROBIT_CLAMP = 1e-12  # AdPredictor keeps p within [1e-12, 1 - 1e-12]


def probit_probabilities(o: Ops, x: Any, means: np.ndarray, variances: np.ndarray,
                         bias_mean: float, base_variance: float) -> Any:
    """River's `AdPredictor.predict_proba_one`: over the active keys (present and non-zero),
    m = bias mean + Σ means, v = (bias variance + β²) + Σ variances; p = Φ(m / sqrt(v)) kept
    within [1e-12, 1 - 1e-12]; [1 - p, p] for [False, True]. `means`, `variances` are [F, 1]."""
    x = o.keep(x, "x")
    active = o.keep(o.where(o.is_nan(x), o.const(0.0),
                            o.where(o.equal(x, o.const(0.0)), o.const(0.0), o.const(1.0))),
                    "active")
    m = o.add(o.const(bias_mean), o.matmul(active, means))
    v = o.add(o.const(base_variance), o.matmul(active, variances))
    p = o.keep(norm_cdf(o, o.div(m, o.sqrt(v))), "Φ")
    p = o.where(o.greater(p, o.const(1.0 - PROBIT_CLAMP)), o.const(1.0 - PROBIT_CLAMP), p)
    p = o.keep(o.where(o.less(p, o.const(PROBIT_CLAMP)), o.const(PROBIT_CLAMP), p), "p")
    return o.concat_classes([o.sub(o.const(1.0), p), p])


def binarize(o: Ops, x: Any, threshold: float) -> Any:
    """River's `Binarizer.transform_one`: 1 where x > threshold, else 0 (River's `bool`, which
    every later step reads as 1 / 0); a missing key stays missing (River leaves it out)."""
    x = o.keep(x, "x")
    step = o.where(o.greater(x, o.const(threshold)), o.const(1.0), o.const(0.0))
    return o.where(o.is_nan(x), x, step)


# --------------------------------------------------------------------------------- naive Bayes


def gaussian_log_term(o: Ops, x: Any, mean: Any, sigma: Any, usable: Any, epsilon: float) -> Any:
    """River's GaussianNB term for one (class, column): log(eps + pdf(x)), where
    pdf = exp((-0.5 * z) * z) / sqrt(2π) / sigma, z = (x - mean) / sigma; log(eps) where there
    is no usable Gaussian; 0 where x is missing (an absent key adds nothing)."""
    if usable is False:  # known when the artifact is written: no density to compute
        return o.where(o.is_nan(x), o.const(0.0), o.const(math.log(epsilon)))
    z = o.keep(o.div(o.sub(x, mean), sigma), "z")
    pdf = o.div(o.div(o.exp(o.mul(o.mul(o.const(-0.5), z), z)), o.const(SQRT_TAU)), sigma)
    term = o.where(usable, o.log(o.add(o.const(epsilon), pdf)), o.const(math.log(epsilon)))
    return o.where(o.is_nan(x), o.const(0.0), term)


def bernoulli_term(o: Ops, x: Any, threshold: float, on: Any, off: Any) -> Any:
    """River's BernoulliNB term: `on` when x > threshold, else `off` (a missing key is off)."""
    hit = o.where(o.greater(x, o.const(threshold)), on, off)
    return o.where(o.is_nan(x), off, hit)


def leaf_gaussian_term(o: Ops, x: Any, mean: Any, neg2var: Any, half_log_tau: float,
                       log_sd: Any) -> Any:
    """River's `Gaussian.log_pdf` in a Hoeffding-tree leaf: (x - mu)² / (-2 var) - log √(2π) -
    log σ. The caller keeps it only where finite (River skips a term that is not)."""
    d = o.keep(o.sub(x, mean), "d")
    return o.sub(o.sub(o.div(o.mul(d, d), neg2var), o.const(half_log_tau)), log_sd)


def logsumexp_softmax(o: Ops, jll: Any) -> Any:
    """River's naive-Bayes probabilities: exp(jll - logsumexp(jll)) with scipy's logsumexp (the
    maximum split off, counted `m` times, log1p of the rest)."""
    jll = o.keep(jll, "jll")
    top = o.keep(o.max_classes(jll), "max(jll)")
    is_max = o.keep(o.equal(jll, top), "is_max")
    m = o.keep(o.sum_classes(o.where(is_max, o.const(1.0), o.const(0.0))), "n_max(jll)")
    rest = o.sum_classes(o.where(is_max, o.const(0.0), o.exp(o.sub(jll, top))))
    lse = o.keep(o.add(o.add(o.log1p(o.div(rest, m)), o.log(m)), top), "logsumexp(jll)")
    return o.exp(o.sub(jll, lse))


def vote_softmax(o: Ops, votes: Any, present: Any) -> Any:
    """River's `do_naive_bayes_prediction` normalisation in a tree leaf: classes the leaf has
    not seen take no part (probability 0); the rest get exp(vote - (top + log Σ exp(v - top)))."""
    votes = o.keep(o.where(present, votes, o.const(-math.inf)), "votes")
    top = o.keep(o.max_classes(votes), "max(votes)")
    lse = o.keep(o.add(top, o.log(o.sum_classes(o.exp(o.sub(votes, top))))), "logsumexp(votes)")
    return o.where(present, o.exp(o.sub(votes, lse)), o.const(0.0))


# --------------------------------------------------------------------------------- ensembles


def ensemble_probabilities(o: Ops, total: Any) -> Any:
    """River's bagging / ARF vote: the members' weighted probabilities, summed, divided by their
    total; left as they are (all 0) when the total is 0."""
    total = o.keep(total, "votes")
    s = o.keep(o.sum_classes(total), "sum(votes)")
    positive = o.keep(o.greater(s, o.const(0.0)), "voted")
    return o.where(positive, o.div(total, o.where(positive, s, o.const(1.0))), total)


# --------------------------------------------------------------------------------- forecasts


def step_mod(o: Ops, step: Any, m: int) -> Any:
    """(step - 1) mod m for a whole step >= 1: River's `h % m` with h = step - 1, as
    h - m · floor(h / m) (exact for the whole numbers a horizon holds)."""
    h = o.keep(o.sub(step, o.const(1.0)), "h")
    return o.sub(h, o.mul(o.const(float(m)), o.floor(o.div(h, o.const(float(m))))))


def pick(o: Ops, index: Any, values: Sequence[Any], other: Any) -> Any:
    """values[index] where index is one of 0..len-1 (a whole number), else `other`: a chain of
    equalities, so a lookup any target can write."""
    out = other
    for j in range(len(values) - 1, -1, -1):
        out = o.where(o.equal(index, o.const(float(j))), values[j], out)
    return out


def holt_winters(o: Ops, step: Any, level: float, trend: float | None,
                 season: Sequence[float], multiplicative: bool) -> Any:
    """River's `HoltWinters.forecast`, row `step` = h + 1: op(level + (h + 1) · trend,
    season[-m + h % m]) with op = · or +; no trend adds nothing, no season leaves the sum as it
    is (River's `· 1` / `+ 0`). `season` holds season[-m + j] for j = 0..m-1."""
    step = o.keep(step, "step")
    if trend is None:  # River adds the int 0: level itself, for every row
        base = o.add(o.mul(step, o.const(0.0)), o.const(level))
    else:
        base = o.add(o.const(level), o.mul(step, o.const(trend)))
    if not season:
        return base
    s = pick(o, o.keep(step_mod(o, step, len(season)), "season index"),
             [o.const(v) for v in season], o.const(math.nan))
    base = o.keep(base, "level + trend")
    return o.mul(base, s) if multiplicative else o.add(base, s)


@dataclass(frozen=True)
class Lag:
    """One lag feature River's SNARIMAX builds: key `name` = `source`[index] (source "y": the
    differenced series, "e": the errors), most recent first."""

    name: str
    source: str
    index: int


def unrolled_forecasts(o: Ops, lags: Sequence[Lag], y_diff: Sequence[float],
                       errors: Sequence[float], y_hist: Sequence[float],
                       coeffs: Sequence[tuple[int, int]], offset: Sequence[float] | None,
                       divisor: Sequence[float] | None, weights: Sequence[float],
                       intercept: float, horizon: int) -> list[Any]:
    """River's `SNARIMAX.forecast(horizon)` on a frozen state, unrolled: step t builds the lag
    features from the series (earlier steps' predictions first), skipping a lag the series is
    too short for (River's IndexError break); the regressor (scaler, then dot product and
    intercept) predicts the differenced value; `undiff` subtracts c · y_hist[t - 1] for each
    coefficient until the history runs out; errors ahead are 0. Returns the `horizon`
    forecasts."""
    series = {"y": [o.const(v) for v in y_diff], "e": [o.const(v) for v in errors]}
    hist = [o.const(v) for v in y_hist]
    out = []
    for t in range(horizon):
        dot = None
        for j, lag in enumerate(lags):
            values = series[lag.source]
            if lag.index >= len(values):
                continue
            v = values[lag.index]
            if offset is not None and divisor is not None:
                v = (o.const(0.0) if divisor[j] == 0 else
                     o.div(o.sub(v, o.const(offset[j])), o.const(divisor[j])))
            term = o.mul(v, o.const(weights[j]))
            dot = term if dot is None else o.add(dot, term)
        pred = o.keep(o.add(dot if dot is not None else o.const(0.0), o.const(intercept)),
                      f"pred{t + 1}")
        total = pred
        for lag_t, c in coeffs:
            if not lag_t:
                continue
            if lag_t - 1 >= len(hist):
                break
            total = o.sub(total, o.mul(o.const(float(c)), hist[lag_t - 1]))
        forecast = o.keep(total, f"forecast{t + 1}")
        series["y"].insert(0, pred)
        series["e"].insert(0, o.const(0.0))
        hist.insert(0, forecast)
        out.append(forecast)
    return out


def forecast_at(o: Ops, step: Any, forecasts: Sequence[Any]) -> Any:
    """forecasts[step - 1] for a step within 1..len, NaN beyond (the horizon fixed at export)."""
    step = o.keep(step, "step")
    return pick(o, o.sub(step, o.const(1.0)), forecasts,
                o.add(o.mul(step, o.const(0.0)), o.const(math.nan)))


# --------------------------------------------------------------------------------- reco


def factorization_score(o: Ops, users: Any, items: Any, mean: float | None,
                        user_latent: np.ndarray, user_default: float,
                        item_latent: np.ndarray, item_default: float) -> Any:
    """River's `BiasedMF` / `FunkMF.predict_one` after the biases: [mean +] u · v, where u and v
    are the user's and the item's latent vectors looked up exactly from their one-hot columns
    (`users` [N, U] · `user_latent` [U, k]); a user or item River has not met gets the default
    vector (every factor `user_default` / `item_default`; see the extractor for River's random
    initialisers). `mean` is the global mean plus both biases, computed by the caller."""
    u = lookup(o, users, user_latent, user_default)
    v = lookup(o, items, item_latent, item_default)
    dot = o.sum_classes(o.mul(u, v))
    return dot if mean is None else o.add(mean, dot)


# --------------------------------------------------------------------------------- multi-output


def encoded_labels(o: Ops, p: Any, values: np.ndarray) -> Any:
    """River's `MultiClassEncoder.predict_proba_one`: the label combination whose code has the
    highest probability p (`max(enc_probas, key=get)`: the first maximum in class order) gives
    each target {bool(v): p, not bool(v): 1 - p}. `p` [N, K] are the codes' probabilities,
    `values` [K, T] 1.0 where the code's value for the target is truthy. Returns [P(False),
    P(True)] per target, side by side. The first maximum is picked exactly: a code is the first
    if it is a maximum and no earlier code is (a strictly upper-triangular count)."""
    p = o.keep(p, "p(code)")
    top = o.keep(o.max_classes(p), "p(max)")
    is_max = o.keep(o.where(o.equal(p, top), o.const(1.0), o.const(0.0)), "is_max")
    k = values.shape[0]
    earlier = o.matmul(is_max, np.triu(np.ones((k, k)), 1))
    first = o.keep(o.where(o.equal(earlier, o.const(0.0)), is_max, o.const(0.0)), "first")
    rest = o.keep(o.sub(o.const(1.0), top), "1 - p(max)")
    out = []
    for t in range(values.shape[1]):
        column = values[:, t:t + 1]
        truthy = (bool(column.all()) if column.all() or not column.any() else  # known here
                  o.keep(o.greater(o.matmul(first, column), o.const(0.5)), "v"))
        out += [o.where(truthy, rest, top), o.where(truthy, top, rest)]
    return o.concat_classes(out)


# --------------------------------------------------------------------------------- clusters


def centre_distances(o: Ops, x: Any, centres: np.ndarray, p: int, root: bool) -> Any:
    """River's distance from the row x [N, F] to each centre of `centres` [K, F], as [N, K]:
    Σ_j |c_kj - x_j|^p summed column by column in the estimator's column order (River sums
    over the centre's keys), a missing x_j counting as 0.0 (River's `x.get(k, 0)`):
    `cluster.KMeans.predict_one` (no root). With `root` (p = 2), its square root:
    `utils.vectordict.euclidean_distance_dict` (STREAMKMeans, DBSTREAM, DenStream). The
    column is picked, not multiplied out (x · e_j), so a huge value elsewhere in the row
    cannot turn a float32 target's 0 · inf into NaN."""
    x = o.keep(o.where(o.is_nan(x), o.const(0.0), x), "x")
    total = None
    for j in range(centres.shape[1]):
        d = o.keep(o.sub(o.const(centres[:, j].reshape(1, -1)), o.column(x, j)), "diff")
        term = minkowski_term(o, d, p)
        total = term if total is None else o.add(total, term)
    return o.sqrt(total) if root else total


def minkowski_term(o: Ops, d: Any, p: int) -> Any:
    """|d| ** p for a whole p >= 1: d · d for 2 (River's `abs(d) ** 2` rounds the same), |d|
    for 1, a product of |d| otherwise (within an ulp or two of River's `pow`)."""
    if p == 2:
        return o.mul(d, d)
    size = o.keep(o.where(o.less(d, o.const(0.0)), o.sub(o.const(0.0), d), d), "|diff|")
    out = size
    for _ in range(p - 1):
        out = o.mul(out, size)
    return out


# --------------------------------------------------------------------------------- neighbours


def knn_distances(o: Ops, x: Any, points: np.ndarray) -> Any:
    """River's `euclidean_distance_dict` from the row to each stored point [W, F]: sqrt of the
    summed squared differences, a key absent on either side counting as 0.0 (River adds the
    other side's value squared). Summed column by column in schema order, as River sums over the
    row's keys when the row holds them in that order (an absent key River adds last: the same
    terms, at most an ulp apart)."""
    x = o.keep(o.where(o.is_nan(x), o.const(0.0), x), "x")
    n_features = points.shape[1]
    total = None
    for f in range(n_features):
        diff = o.keep(o.sub(o.column(x, f), o.const(points[:, f].reshape(1, -1))), "diff")
        term = o.mul(diff, diff)
        total = term if total is None else o.add(total, term)
    return o.sqrt(total)


def knn_outputs(o: Ops, d: Any, targets: np.ndarray, k: int, weighted: bool,
                aggregation: str) -> Any:
    """River's KNNClassifier / KNNRegressor on the distances d [N, W] to the stored points,
    whose targets [W, C] are one-hot classes or values (C = 1). The k nearest are River's
    (distance, then window position); a row at distance 0 from a stored point gets that
    point's target (the first such point). Otherwise, aggregation:
    - "normalise": class votes (1/d each when weighted, else 1) divided by their total;
    - "softmax": River's `utils.math.softmax` of those votes;
    - "mean": the neighbours' mean target, or with `weighted` Σ (y/d) / Σ (1/d) (the mean when
      Σ (1/d) is 0)."""
    d = o.keep(d, "distance")

    def total(weights: Any) -> Any:
        """weights [N, W] · targets; into one column as a sum of products: that MatMul came
        out 1.2e-6 off in onnxruntime-web 1.30 (wasm) on TrumpApproval's targets."""
        if targets.shape[1] == 1:
            return o.sum_classes(o.mul(weights, o.const(targets.reshape(1, -1))))
        return o.matmul(weights, targets)

    exact = o.keep(o.equal(o.max_classes(o.sub(o.const(0.0), d)), o.const(0.0)), "exact")
    at = total(o.nearest(d, 1))  # a 0/1 row picks one target exactly
    chosen = o.keep(o.greater(o.nearest(d, k), o.const(0.0)), "chosen")
    inverse = o.keep(o.where(chosen, o.div(o.const(1.0), d), o.const(0.0)), "1/d")
    if aggregation == "mean":
        out = o.keep(o.div(total(o.where(chosen, o.const(1.0), o.const(0.0))),
                           o.const(float(k))), "mean")
    if aggregation == "mean" and weighted:
        # River falls back to the mean when Σ 1/d is 0 (every distance overflowed to inf)
        y_over_d = o.div(o.const(targets.reshape(1, -1)), d)
        total = o.keep(o.sum_classes(inverse), "sum(1/d)")
        out = o.where(o.equal(total, o.const(0.0)), out,
                      o.div(o.sum_classes(o.where(chosen, y_over_d, o.const(0.0))), total))
    elif aggregation != "mean":
        votes = total(inverse if weighted else o.where(chosen, o.const(1.0), o.const(0.0)))
        scores = (softmax_link(o, votes) if aggregation == "softmax"
                  else Scores("probabilities", votes, normalise=True))
        out = normalised(o, scores)
    return o.where(exact, at, out)


# --------------------------------------------------------------------------------- votes


def first_max(o: Ops, v: Any, width: int) -> Any:
    """1.0 at the first maximum of each row of v [N, K] (River's `max(d, key=d.get)` keeps the
    first), 0.0 elsewhere: a maximum is first when the maxima up to it number exactly one."""
    is_max = o.where(o.equal(v, o.max_classes(o.keep(v, "v"))), o.const(1.0), o.const(0.0))
    upto = np.triu(np.ones((width, width)))  # [i, k] = 1 where i <= k: whole counts, exact
    count = o.matmul(o.keep(is_max, "is_max"), upto)
    return o.where(o.equal(count, o.const(1.0)), is_max, o.const(0.0))


def vote_count(o: Ops, probs: Sequence[Any], places: Sequence[np.ndarray], soft: bool) -> Any:
    """River's OneVsOne / Voting vote (`ir.votes.VoteCount`), one-hot [N, C]. Hard: each
    member's label (first maximum of its probabilities) is one vote, placed among the C classes
    by `places[j]` [K_j, C]; the key votes · (J + 1) + (J - first voter) makes the most voted
    class win and, on a tie, the one voted first (River's insertion-ordered dict and Counter).
    Soft: the placed probabilities are added member by member (River's `Counter.update`) and
    the first maximum in class order wins."""
    total, first, seen = None, None, None
    n_members = len(probs)
    for j, (p, place) in enumerate(zip(probs, places, strict=True)):
        ballot = o.matmul(p if soft else first_max(o, p, place.shape[0]), place)  # exact
        ballot = o.keep(ballot, f"ballot{j}")
        total = ballot if total is None else o.add(total, ballot)
        if soft:
            continue
        if first is None:  # the first member votes first for its class
            first = o.where(o.greater(ballot, o.const(0.0)), o.const(0.0),
                            o.const(float(n_members)))
            seen = ballot
            continue
        fresh = o.where(o.greater(seen, o.const(0.0)), o.const(0.0), ballot)
        first = o.keep(o.where(o.greater(fresh, o.const(0.0)), o.const(float(j)), first),
                       f"first{j}")
        seen = o.keep(o.add(seen, ballot), f"seen{j}")
    width = places[0].shape[1]
    if soft:
        return first_max(o, total, width)
    key = o.add(o.mul(total, o.const(float(n_members + 1))),
                o.sub(o.const(float(n_members)), first))
    return first_max(o, key, width)


# --------------------------------------------------------------------------------- graph targets


class GraphOps:
    """Ops for a target that builds a graph (ONNX, TF.js): one node per operation, the node
    types named by the target in `NODE_TYPES`. `g` offers `op(type, *inputs)`, `const(value)` and
    `reduce(type, x, axis, keep)`. An operation missing from the table uses River's formula."""

    NODE_TYPES: dict[str, str] = {}

    def __init__(self, g: Any) -> None:
        self.g = g

    def _node(self, operation: str, *inputs: Any) -> Any:
        return self.g.op(self.NODE_TYPES[operation], *inputs)

    def const(self, value: Any) -> Any:
        return self.g.const(value)

    def add(self, a, b):
        return self._node("add", a, b)

    def sub(self, a, b):
        return self._node("sub", a, b)

    def mul(self, a, b):
        return self._node("mul", a, b)

    def div(self, a, b):
        return self._node("div", a, b)

    def exp(self, a):
        return self._node("exp", a)

    def log(self, a):
        return self._node("log", a)

    def log1p(self, a):
        return self._node("log1p", a)

    def sqrt(self, a):
        return self._node("sqrt", a)

    def floor(self, a):
        return self._node("floor", a)

    def erf(self, a):
        return self._node("erf", a) if "erf" in self.NODE_TYPES else reference_erf(self, a)

    def sigmoid(self, z):
        return self._node("sigmoid", z) if "sigmoid" in self.NODE_TYPES else reference_sigmoid(
            self, z)

    def less(self, a, b):
        return self._node("less", a, b)

    def greater(self, a, b):
        return self._node("greater", a, b)

    def equal(self, a, b):
        return self._node("equal", a, b)

    def is_nan(self, a):
        return self._node("is_nan", a)

    def where(self, condition, a, b):
        if isinstance(condition, bool):
            return a if condition else b
        return self._node("where", condition, a, b)

    def matmul(self, x, W):
        return self._node("matmul", x, self.g.const(W))

    def column(self, x, j):
        return self.g.gather_columns(x, [j])

    def max_classes(self, v):
        return self.g.reduce(self.NODE_TYPES["max"], v, -1, True)

    def sum_classes(self, v):
        return self.g.reduce(self.NODE_TYPES["sum"], v, -1, True)

    def concat_classes(self, parts):
        raise NotImplementedError

    def keep(self, v, hint: str):
        return v


# --------------------------------------------------------------------------------- numpy


class NumpyOps:
    """The formulas on numpy arrays in float64: what `ir.evaluate` runs."""

    def const(self, value: Any) -> Any:
        return np.float64(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)

    def add(self, a, b):
        return np.add(a, b)

    def sub(self, a, b):
        return np.subtract(a, b)

    def mul(self, a, b):
        return np.multiply(a, b)

    def div(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.divide(a, b)

    def exp(self, a):
        with np.errstate(over="ignore"):
            return np.exp(a)

    def log(self, a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    def log1p(self, a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(a)

    def sqrt(self, a):
        with np.errstate(invalid="ignore"):
            return np.sqrt(a)

    def floor(self, a):
        return np.floor(a)

    def erf(self, a):
        return np.vectorize(math.erf, otypes=[np.float64])(a)  # River's own erf (libm)

    def sigmoid(self, z):
        with np.errstate(over="ignore"):
            return reference_sigmoid(self, z)

    def less(self, a, b):
        with np.errstate(invalid="ignore"):
            return np.less(a, b)

    def greater(self, a, b):
        with np.errstate(invalid="ignore"):
            return np.greater(a, b)

    def equal(self, a, b):
        return np.equal(a, b)

    def is_nan(self, a):
        return np.isnan(a)

    def where(self, condition, a, b):
        if isinstance(condition, bool):
            return a if condition else b
        with np.errstate(invalid="ignore"):
            return np.where(condition, a, b)

    def matmul(self, x, W):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(x, dtype=np.float64) @ np.asarray(W, dtype=np.float64)

    def nearest(self, d, k):
        order = np.argsort(d, axis=-1, kind="stable")[..., :k]  # stable: lower index first
        mask = np.zeros(np.shape(d))
        np.put_along_axis(mask, order, 1.0, axis=-1)
        return mask

    def column(self, x, j):
        return np.asarray(x, dtype=np.float64)[:, j:j + 1]

    def max_classes(self, v):
        return np.max(v, axis=-1, keepdims=True)

    def sum_classes(self, v):
        return np.sum(v, axis=-1, keepdims=True)

    def concat_classes(self, parts):
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts], axis=-1)

    def keep(self, v, hint: str):
        return v


NUMPY = NumpyOps()
