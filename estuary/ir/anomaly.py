"""Anomaly-detector IR: River's `score_one` as frozen tables, and the formulas every target runs.

- `HalfSpaceTrees`: River's `_walk_score` adds `r_mass · 2^depth` at each node of the row's path
  and stops below a node whose `r_mass < size_limit`. At snapshot time the masses are fixed, so the
  sum along each path is a constant: one `TreeRegressor` per HST tree whose leaves are those
  stopping nodes, holding the path's sum (whole numbers, exact in float64 and float32), then
  `1 - total / max_score` (`mass_score`).
- `UnivariateScore`: the detectors that score the target `y` alone (`GaussianScorer`,
  `StandardAbsoluteDeviation`): z = (y - center) / scale, then |z| or 2·|Φ(z) - 0.5|.
- `LinearScore`: `OneClassSVM.score_one` = (w·x + b) - b, River's own operation order.
- `AnomalyFilter`: a detector (its own transforms and estimator) and River's `classify`
  (`score >= threshold`, the threshold frozen at snapshot time): outputs the score and
  `is_anomaly` (1.0 / 0.0).
- `Loda`: per cut, a projection added up in River's order and its histogram's bins in River's
  order (`ordered_projection`, `bin_log_density`, `loda_score`).
- `LocalOutlierFactor`: the stored window with River's own k-distances and densities; the k (+1)
  nearest by `Ops.nearest` with River's distance-0 rule (`lof_score`).

The formulas are written once here over `arithmetic.Ops`, like those of `ir.arithmetic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY, Ops
from .ensembles import Member, member_output, member_split_probes, member_thresholds
from .evaluate import ESTIMATOR_EVALUATORS, evaluates
from .nodes import Estimator, IRError, Linear, ir_node
from .trees import TreeRegressor, split_probes

UNIVARIATE_KINDS = ("deviation", "gaussian")
DBL_MAX = float(np.finfo(np.float64).max)


# --------------------------------------------------------------------------------- formulas


def absolute(o: Ops, v: Any) -> Any:
    """|v| (exact: a sign flip)."""
    v = o.keep(v, "v")
    return o.where(o.less(v, o.const(0.0)), o.sub(o.const(0.0), v), v)


def mass_score(o: Ops, total: Any, max_score: float) -> Any:
    """River's HST: `1 - score / self._max_score`."""
    return o.sub(o.const(1.0), o.div(total, o.const(max_score)))


def univariate_score(o: Ops, y: Any, center: float, scale: float, kind: str) -> Any:
    """SAD: |(y - center) / scale|; GaussianScorer: 2 · |norm_cdf((y - mu) / sigma) - 0.5|."""
    z = o.keep(o.div(o.sub(y, o.const(center)), o.const(scale)), "z")
    if kind == "deviation":
        return absolute(o, z)
    return o.mul(o.const(2.0), absolute(o, o.sub(arithmetic.norm_cdf(o, z), o.const(0.5))))


def linear_score(o: Ops, value: Any, intercept: float) -> Any:
    """OneClassSVM: River's `_raw_dot_one(x) - intercept`, where `value` = w·x + intercept."""
    return o.sub(value, o.const(intercept))


def anomaly_flag(o: Ops, score: Any, threshold: float | None) -> Any:
    """River's filters' `classify`: 1.0 where `score >= threshold`, else 0.0 (NaN: 0.0). A
    threshold of None is River's `math.inf` (QuantileFilter before its quantile exists): only a
    score of +inf, i.e. one above the largest double, is flagged."""
    score = o.keep(score, "score")
    if threshold is None:
        return o.where(o.greater(score, o.const(DBL_MAX)), o.const(1.0), o.const(0.0))
    below = o.where(o.less(score, o.const(threshold)), o.const(0.0), o.const(1.0))
    return o.where(o.is_nan(score), o.const(0.0), below)


def ordered_projection(o: Ops, x: Any, terms: tuple[tuple[int, float], ...]) -> Any:
    """River's LODA projection `sum(w * x.get(f, 0.0) for f, w in projection.items())`: the
    products added left to right in the projection's own order (a missing key is 0.0).
    `x` is a list of per-column values (`column(o, x, j)` picks them)."""
    z = None
    for j, w in terms:
        xj = o.keep(x[j], f"x{j}")
        term = o.mul(o.const(w), o.where(o.is_nan(xj), o.const(0.0), xj))
        z = term if z is None else o.add(z, term)
    return z


def bin_log_density(o: Ops, z: Any, bins: tuple[tuple[float, float, float], ...],
                    outside: float) -> Any:
    """River's `LODA._density` then `log(max(p, 1e-12))`: the first bin (in River's order) with
    z <= right gives its value if z >= left, else `outside` (a gap); past every bin `outside`."""
    z = o.keep(z, "z")
    value = o.const(outside)
    for left, right, log_p in reversed(bins):
        inside = o.where(o.less(z, o.const(left)), o.const(outside), o.const(log_p))
        value = o.where(o.greater(z, o.const(right)), value, inside)
    return value


def loda_score(o: Ops, logs: list[Any], n_cuts: int) -> Any:
    """River's `score = 0.0; score -= log(...)` over the cuts, then `score / n_random_cuts`."""
    total = o.const(0.0)
    for v in logs:
        total = o.sub(total, v)
    return o.div(total, o.const(float(n_cuts)))


def lof_score(o: Ops, d: Any, k: int, kdist: np.ndarray, lrd: np.ndarray) -> Any:
    """River's LocalOutlierFactor.score_one from the distances d [N, W] to the stored points:
    the k + 1 nearest, the first dropped when it is at distance 0 (else the first k); their
    reach distances max(d, k-distance); lrd(x) = 1 / (mean reach + 1e-10); score = Σ lrd(o) /
    (n · lrd(x)), 0 where that is not finite (as River, also with no neighbour at all).
    `kdist`, `lrd` [W]: River's own k-distance and density of each stored point."""
    d = o.keep(d, "distance")
    exact = o.keep(o.equal(o.max_classes(o.sub(o.const(0.0), d)), o.const(0.0)), "exact")
    chosen = o.keep(o.where(exact, o.sub(o.nearest(d, k + 1), o.nearest(d, 1)),
                            o.nearest(d, k)), "chosen")
    kd = o.const(np.asarray(kdist, dtype=np.float64).reshape(1, -1))
    reach = o.where(o.greater(d, kd), d, kd)
    picked = o.keep(o.greater(chosen, o.const(0.0)), "picked")
    n = o.keep(o.sum_classes(chosen), "n")
    total = o.sum_classes(o.where(picked, reach, o.const(0.0)))
    lrd_x = o.div(o.const(1.0), o.add(o.div(total, n), o.const(1e-10)))
    neighbours = o.matmul(chosen, np.asarray(lrd, dtype=np.float64).reshape(-1, 1))
    score = o.keep(o.div(neighbours, o.mul(n, lrd_x)), "lof")
    finite = o.equal(o.sub(score, score), o.const(0.0))  # NaN and ±inf give NaN
    return o.where(finite, score, o.const(0.0))


# --------------------------------------------------------------------------------- nodes


@ir_node
@dataclass(frozen=True)
class HalfSpaceTrees(Estimator):
    """score = 1 - (Σ_t trees[t](x)) / max_score, trees summed in River's order. Each tree's
    splits are River's `x < threshold` written as `x <= prev(threshold)` (the float64 just
    below); a missing key goes to the child whose `l_mass` is not smaller (River's rule). In the
    first window River answers 0: one single-leaf tree worth `max_score`."""

    columns: tuple[str, ...]
    trees: tuple[TreeRegressor, ...]
    max_score: float

    def __post_init__(self) -> None:
        if not self.trees or not self.max_score > 0:
            raise IRError("HalfSpaceTrees: no trees, or max_score is not > 0")
        if any(t.columns != self.columns or any(t.model) for t in self.trees):
            raise IRError("HalfSpaceTrees: a tree reads other columns or has model leaves")

    def thresholds(self) -> dict[str, tuple[float, ...]]:
        """Each split as River writes it (t) and as the IR does (prev(t)): the probes one ulp
        around both cover River's split point and one ulp either side."""
        out: dict[str, set[float]] = {}
        for t in self.trees:
            for c, values in t.thresholds().items():
                out.setdefault(c, set()).update(
                    v for p in values for v in (p, float(np.nextafter(p, np.inf))))
        return {c: tuple(sorted(v)) for c, v in out.items()}

    def split_probes(self, Z: np.ndarray) -> list[tuple[str, float, int]]:
        """Every split at the IR's prev(t) and at River's t (probes go one ulp around each)."""
        return [(c, v, row) for t in self.trees for c, p, row in split_probes(t.tree, self.columns, Z)
                for v in (p, float(np.nextafter(p, np.inf)))]


@ir_node
@dataclass(frozen=True)
class UnivariateScore(Estimator):
    """A score of the one column `y` (`univariate_score`), or River's `constant` answer while it
    gives one (GaussianScorer in its grace period: 0; a zero sigma: 1)."""

    columns: tuple[str, ...]
    center: float
    scale: float
    kind: str
    constant: float | None = None

    def __post_init__(self) -> None:
        if len(self.columns) != 1 or self.kind not in UNIVARIATE_KINDS:
            raise IRError(f"UnivariateScore: one column and a kind in {UNIVARIATE_KINDS}")


@ir_node
@dataclass(frozen=True)
class LinearScore(Estimator):
    """`linear` (identity link, one output) minus its own intercept: OneClassSVM's score."""

    columns: tuple[str, ...]
    linear: Linear

    def __post_init__(self) -> None:
        if self.linear.link != "identity" or len(self.linear.intercepts) != 1:
            raise IRError("LinearScore: the linear part must be one identity output")
        if self.linear.columns != self.columns:
            raise IRError("LinearScore: the linear part reads other columns")


@ir_node
@dataclass(frozen=True)
class AnomalyFilter(Estimator):
    """River's ThresholdFilter / QuantileFilter: the detector's score and `score >= threshold`
    (None: River's `math.inf`, which the IR's finite numbers cannot hold)."""

    columns: tuple[str, ...]
    detector: Member
    threshold: float | None

    def thresholds(self) -> dict[str, tuple[float, ...]]:
        return member_thresholds((self.detector,))

    def split_probes(self, Z: np.ndarray) -> list[tuple[str, float, int]]:
        return member_split_probes((self.detector,), self.columns, Z)


@ir_node
@dataclass(frozen=True)
class Loda(Estimator):
    """River's LODA.score_one: per cut, the projection (`terms`: (column, weight) in River's
    dict order), then the log of its histogram's density (`bins`: (left, right, log density)
    in River's order; `outside` = log(1e-12) for a gap or beyond), summed as River subtracts
    them, over the number of cuts."""

    columns: tuple[str, ...]
    terms: tuple[tuple[tuple[int, float], ...], ...]
    bins: tuple[tuple[tuple[float, float, float], ...], ...]
    outside: float

    def __post_init__(self) -> None:
        if not self.terms or len(self.terms) != len(self.bins):
            raise IRError("Loda: no cuts, or cuts and histograms differ in number")
        if any(not 0 <= j < len(self.columns) for cut in self.terms for j, _ in cut):
            raise IRError("Loda: a projection reads a column that is not there")


@ir_node
@dataclass(frozen=True)
class LocalOutlierFactor(Estimator):
    """River's LocalOutlierFactor over its window at snapshot time: `points` [W][F] in window
    order (an absent key 0.0), each point's k-distance and density computed by River itself,
    and `lof_score` on the Euclidean distances (`arithmetic.knn_distances`)."""

    columns: tuple[str, ...]
    points: tuple[tuple[float, ...], ...]
    k: int
    kdist: tuple[float, ...]
    lrd: tuple[float, ...]

    def __post_init__(self) -> None:
        W = len(self.points)
        if not W or len(self.kdist) != W or len(self.lrd) != W or self.k < 1:
            raise IRError("LocalOutlierFactor: no points, or their tables differ in length")


def lof_outputs(o: Ops, est: LocalOutlierFactor, x: Any) -> Any:
    d = arithmetic.knn_distances(o, x, np.asarray(est.points, dtype=np.float64))
    return lof_score(o, d, est.k, np.asarray(est.kdist), np.asarray(est.lrd))


# --------------------------------------------------------------------------------- numpy


def _score(values: Any) -> np.ndarray:
    """A detector's score as [N] (an evaluator may hand a dict with `value`)."""
    return np.asarray(values["value"] if isinstance(values, dict) else values).reshape(-1)


@evaluates(HalfSpaceTrees)
def _half_space_trees(est: HalfSpaceTrees, Z: np.ndarray) -> np.ndarray:
    total = np.zeros(Z.shape[0])
    for t in est.trees:
        total = total + _score(ESTIMATOR_EVALUATORS[TreeRegressor](t, Z))
    return mass_score(NUMPY, total, est.max_score)


@evaluates(UnivariateScore)
def _univariate(est: UnivariateScore, Z: np.ndarray) -> np.ndarray:
    if est.constant is not None:
        return np.full(Z.shape[0], est.constant)
    return univariate_score(NUMPY, Z[:, 0], est.center, est.scale, est.kind)


@evaluates(LinearScore)
def _linear_score(est: LinearScore, Z: np.ndarray) -> np.ndarray:
    value = _score(ESTIMATOR_EVALUATORS[Linear](est.linear, Z))
    return linear_score(NUMPY, value, est.linear.intercepts[0])


@evaluates(AnomalyFilter)
def _filter(est: AnomalyFilter, Z: np.ndarray) -> dict[str, np.ndarray]:
    score = _score(member_output(est.detector, est.columns, Z))
    return {"value": score, "is_anomaly": anomaly_flag(NUMPY, score, est.threshold)}


@evaluates(Loda)
def _loda(est: Loda, Z: np.ndarray) -> np.ndarray:
    x = [Z[:, j] for j in range(Z.shape[1])]
    logs = [bin_log_density(NUMPY, ordered_projection(NUMPY, x, terms), bins, est.outside)
            for terms, bins in zip(est.terms, est.bins, strict=True)]
    return loda_score(NUMPY, logs, len(est.terms))


@evaluates(LocalOutlierFactor)
def _lof(est: LocalOutlierFactor, Z: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return lof_outputs(NUMPY, est, Z).reshape(-1)
