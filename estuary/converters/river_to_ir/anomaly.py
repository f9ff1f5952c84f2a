"""River anomaly detectors → IR (read from river 0.26.1's `river/anomaly/*.py`).

- HalfSpaceTrees: each padded tree folded at snapshot time into the constant its `_walk_score`
  gives along each path (see `ir.anomaly.HalfSpaceTrees`); River's split `value < threshold` is
  `value <= prev(threshold)` exactly in float64; a missing key follows River's `l_mass` rule.
- GaussianScorer, StandardAbsoluteDeviation: they score `y` alone (`score_one(x, y)` ignores x):
  the artifact's input is one numeric feature named `y`.
- OneClassSVM: `_raw_dot_one(x) - intercept`.
- ThresholdFilter, QuantileFilter: the wrapped detector plus River's `classify` with its
  threshold frozen (QuantileFilter: `quantile.get() or inf`, River's own falsy rule).
- LODA: each cut's projection terms in River's dict order and its histogram's bins with River's
  own density per bin.
- LocalOutlierFactor: its LazySearch window, with River's own k-distance and density of every
  stored point (the row must arrive closed: `compose.Select` in front).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from river import anomaly, compose, neighbors, preprocessing, utils

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.anomaly import (
    AnomalyFilter,
    HalfSpaceTrees,
    LinearScore,
    LocalOutlierFactor,
    Loda,
    UnivariateScore,
)
from ...ir.ensembles import Member
from ...ir.trees import TreeRegressor, TreeStructure
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import PHISHING_KEYS, EstimatorIR, key_name, numeric_inputs, require_learned
from .ensemble import member_ir
from .linear_model import weight_row
from .neighbors import _points, _window

TARGET = "y"  # the one input of the detectors that score the target


def _hst_nodes(m: anomaly.HalfSpaceTrees) -> list:
    return [node for nodes in m._tree_nodes for node in nodes]


def _hst_inputs(m: anomaly.HalfSpaceTrees) -> dict:
    return numeric_inputs(sorted({n.feature for n in _hst_nodes(m) if hasattr(n, "feature")},
                                 key=key_name))


class _Flat:
    """A padded tree flattened into `TreeStructure` arrays, node by node (pre-order)."""

    def __init__(self) -> None:
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.missing_left: list[bool] = []
        self.leaf: list[int] = []
        self.values: list[float] = []

    def add(self) -> int:
        for arr, v in ((self.feature, 0), (self.threshold, 0.0), (self.left, 0), (self.right, 0),
                       (self.missing_left, False), (self.leaf, -1)):
            arr.append(v)
        return len(self.leaf) - 1

    def structure(self) -> TreeStructure:
        return TreeStructure(tuple(self.feature), tuple(self.threshold), tuple(self.left),
                             tuple(self.right), tuple(self.missing_left), tuple(self.leaf),
                             (False,) * len(self.leaf))


def _fold(node: Any, depth: int, acc: int, m: anomaly.HalfSpaceTrees, index: dict,
          flat: _Flat) -> int:
    """River's `_walk_score` from `node` with `acc` summed so far: a leaf where the walk stops
    (r_mass below the size limit, or the tree's last level), else a split. Returns the node id."""
    i = flat.add()
    acc += node.r_mass * (1 << depth)  # whole numbers: River's float sum of them is exact
    if depth == m.height or node.r_mass < m.size_limit:
        flat.leaf[i] = len(flat.values)
        flat.values.append(float(acc))
        return i
    left, right = node.children
    flat.feature[i] = index[key_name(node.feature)]
    flat.threshold[i] = float(np.nextafter(float(node.threshold), -np.inf))  # x < t ⇔ x <= prev(t)
    flat.missing_left[i] = not left.l_mass < right.l_mass  # River: right only when strictly more
    flat.left[i] = _fold(left, depth + 1, acc, m, index, flat)
    flat.right[i] = _fold(right, depth + 1, acc, m, index, flat)
    return i


def _single_leaf(columns: tuple[str, ...], value: float) -> TreeRegressor:
    tree = TreeStructure((0,), (0.0,), (0,), (0,), (False,), (0,), (False,))
    return TreeRegressor(columns, tree, (value,), (False,))


HST_CASES = (
    Case("hst", "Phishing", lambda: anomaly.HalfSpaceTrees(n_trees=5, height=4, window_size=50,
                                                           seed=42)),
    Case("minmax|hst", "Bananas", lambda: preprocessing.MinMaxScaler()
         | anomaly.HalfSpaceTrees(n_trees=10, height=6, window_size=100, seed=7)),
    Case("hst-first-window", "Phishing", lambda: anomaly.HalfSpaceTrees(
        n_trees=3, height=3, window_size=5000, seed=1)),
)


@register_extractor(anomaly.HalfSpaceTrees, inputs=_hst_inputs, kind="estimator",
                    produces=(HalfSpaceTrees, TreeRegressor), cases=HST_CASES)
def half_space_trees(m: anomaly.HalfSpaceTrees, columns, ctx) -> EstimatorIR:
    require_learned(bool(m.trees), "HalfSpaceTrees")
    wanted = tuple(_hst_inputs(m))
    names = tuple(key_name(k) for k in wanted)
    missing = [n for n in names if n not in columns]
    if missing:
        raise UnsupportedModelError(m, supported_models(), reason=f"its trees split on {missing}, "
                                    "which no earlier step of the pipeline produces")
    index = {n: j for j, n in enumerate(names)}
    max_score = float(m._max_score)
    if m._first_window:  # River answers 0 until the first window is full: max/max = 1 exactly
        return EstimatorIR(HalfSpaceTrees(names, (_single_leaf(names, max_score),), max_score),
                           "anomaly")
    trees = []
    for root in m.trees:
        flat = _Flat()
        _fold(root, 0, 0, m, index, flat)
        trees.append(TreeRegressor(names, flat.structure(), tuple(flat.values),
                                   (False,) * len(flat.values)))
    return EstimatorIR(HalfSpaceTrees(names, tuple(trees), max_score), "anomaly")


# ------------------------------------------------------------------ detectors of y


UNIVARIATE_CASES = (
    Case("gaussian-scorer", "TrumpApproval.y", lambda: anomaly.GaussianScorer(grace_period=50)),
    Case("gaussian-scorer-window", "TrumpApproval.y",
         lambda: anomaly.GaussianScorer(window_size=100, grace_period=10)),
    Case("gaussian-scorer-grace", "TrumpApproval.y",
         lambda: anomaly.GaussianScorer(grace_period=10_000)),
)
SAD_CASES = (Case("sad", "TrumpApproval.y", lambda: anomaly.StandardAbsoluteDeviation()),)


def _target_inputs(m: Any) -> dict:
    return numeric_inputs([TARGET])


def _only_target(m: Any, columns: tuple[str, ...]) -> tuple[str, ...]:
    if TARGET not in columns:
        raise UnsupportedModelError(m, supported_models(), reason=f"{type(m).__name__} scores "
                                    "the target y alone (score_one(x, y)): export it on its own "
                                    "or inside an anomaly filter, not behind other steps")
    return (TARGET,)


@register_extractor(anomaly.GaussianScorer, inputs=_target_inputs, kind="estimator",
                    produces=(UnivariateScore,), cases=UNIVARIATE_CASES)
def gaussian_scorer(m: anomaly.GaussianScorer, columns, ctx) -> EstimatorIR:
    cols = _only_target(m, columns)
    g = m.gaussian
    if g.n_samples < m.grace_period:  # River: `return 0` whatever y is
        return EstimatorIR(UnivariateScore(cols, 0.0, 1.0, "gaussian", 0.0), "anomaly")
    mu, sigma = float(g.mu), float(g.sigma)
    if sigma == 0.0:  # cdf's ZeroDivisionError → 0.0: 2 · |0 - 0.5| = 1 for every y
        return EstimatorIR(UnivariateScore(cols, mu, 1.0, "gaussian", 1.0), "anomaly")
    return EstimatorIR(UnivariateScore(cols, mu, sigma, "gaussian"), "anomaly")


@register_extractor(anomaly.StandardAbsoluteDeviation, inputs=_target_inputs, kind="estimator",
                    produces=(UnivariateScore,), cases=SAD_CASES)
def standard_absolute_deviation(m: anomaly.StandardAbsoluteDeviation, columns,
                                ctx) -> EstimatorIR:
    cols = _only_target(m, columns)
    center = m.sub_stat.get()
    require_learned(center is not None, "StandardAbsoluteDeviation")
    scale = m.variance.get() ** 0.5 + 1e-10  # River's own expression, evaluated once
    return EstimatorIR(UnivariateScore(cols, float(center), float(scale), "deviation"), "anomaly")


# ------------------------------------------------------------------ one-class SVM


def _svm_inputs(m: anomaly.OneClassSVM) -> dict:
    return numeric_inputs(m._weights)


SVM_CASES = (Case("scaler|one-class-svm", "Phishing", lambda: preprocessing.StandardScaler()
                  | anomaly.OneClassSVM(nu=0.2)),)


@register_extractor(anomaly.OneClassSVM, inputs=_svm_inputs, kind="estimator",
                    produces=(LinearScore, ir.Linear), cases=SVM_CASES)
def one_class_svm(m: anomaly.OneClassSVM, columns, ctx) -> EstimatorIR:
    require_learned(bool(m._weights) or m.intercept != m.intercept_init, "OneClassSVM")
    lin = ir.Linear(columns, (weight_row(m._weights, columns),), (float(m.intercept),), "identity")
    return EstimatorIR(LinearScore(columns, lin), "anomaly")


# ------------------------------------------------------------------ filters


def _filter_inputs(m: Any) -> dict:
    inner = m.anomaly_detector
    return extractor_for(inner).inputs(inner)


def _filter(m: Any, threshold: float, columns, ctx) -> EstimatorIR:
    chain, inner = member_ir(m.anomaly_detector, columns, ctx)
    if inner.task != "anomaly":
        raise UnsupportedModelError(m, supported_models(), reason="it wraps a model that is not "
                                    "an anomaly detector")
    member = Member(chain, inner.estimator)
    frozen = None if threshold == math.inf else float(threshold)  # None: River's math.inf
    return EstimatorIR(AnomalyFilter(tuple(columns), member, frozen), "anomaly")


FILTER_CASES = (
    Case("threshold-filter(minmax|hst)", "Bananas", lambda: anomaly.ThresholdFilter(
        preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(n_trees=5, height=5,
                                                              window_size=100, seed=3),
        threshold=0.9)),
)
QUANTILE_CASES = (
    Case("quantile-filter(scaler|one-class-svm)", "Phishing", lambda: anomaly.QuantileFilter(
        preprocessing.StandardScaler() | anomaly.OneClassSVM(nu=0.2), q=0.95)),
    Case("minmax|quantile-filter(hst)", "Bananas", lambda: preprocessing.MinMaxScaler()
         | anomaly.QuantileFilter(anomaly.HalfSpaceTrees(n_trees=5, height=5, window_size=100,
                                                         seed=5), q=0.9)),
)


@register_extractor(anomaly.ThresholdFilter, inputs=_filter_inputs, kind="estimator",
                    produces=(AnomalyFilter,), cases=FILTER_CASES)
def threshold_filter(m: anomaly.ThresholdFilter, columns, ctx) -> EstimatorIR:
    return _filter(m, m.threshold, columns, ctx)


@register_extractor(anomaly.QuantileFilter, inputs=_filter_inputs, kind="estimator",
                    produces=(AnomalyFilter,), cases=QUANTILE_CASES)
def quantile_filter(m: anomaly.QuantileFilter, columns, ctx) -> EstimatorIR:
    return _filter(m, m.quantile.get() or math.inf, columns, ctx)  # River's `or math.inf`


# ------------------------------------------------------------------ refused, with the reason


def _lof_window(m: anomaly.LocalOutlierFactor) -> list[dict]:
    """The stored rows, oldest first (LOF stores each x as a 1-tuple in its engine)."""
    from river import neighbors as river_neighbors

    if not isinstance(m._nn, river_neighbors.LazySearch):
        raise UnsupportedModelError(m, supported_models(), reason=(
            f"its search engine {type(m._nn).__name__} is not LazySearch (an exact scan): "
            "an approximate search's neighbours depend on its graph and random state"))
    _window(m)  # refuses a custom distance function
    return [entry[0][0] for entry in m._nn.window]


def _lof_inputs(m: anomaly.LocalOutlierFactor) -> dict:
    return numeric_inputs(dict.fromkeys(k for x in _lof_window(m) for k in x))


LOF_CASES = (
    Case("select|scaler|lof", "Phishing", lambda: compose.Select(*PHISHING_KEYS)
         | preprocessing.StandardScaler() | anomaly.LocalOutlierFactor(
             n_neighbors=8, engine=neighbors.LazySearch(
                 window_size=120, dist_func=utils.math._euclidean_distance))),
    Case("select|lof", "Bananas", lambda: compose.Select("1", "2") | anomaly.LocalOutlierFactor(
        n_neighbors=5, engine=neighbors.LazySearch(window_size=80,
                                                   dist_func=utils.math._euclidean_distance))),
)


@register_extractor(anomaly.LocalOutlierFactor, inputs=_lof_inputs, kind="estimator",
                    produces=(LocalOutlierFactor,), cases=LOF_CASES)
def local_outlier_factor(m: anomaly.LocalOutlierFactor, columns, ctx) -> EstimatorIR:
    window = _lof_window(m)
    require_learned(len(window) >= 2, "LocalOutlierFactor (two stored points at least)")
    points = _points(m, [(x, None) for x in window], tuple(columns), ctx)
    cache: dict = {}
    kdist = tuple(float(m._k_distance(x, cache)) for x in window)  # River's own, per point
    lrd = tuple(float(m._local_reachability_density(*m._neighborhood(x, cache), cache))
                for x in window)
    if not all(math.isfinite(v) for v in (*kdist, *lrd)):
        raise UnsupportedModelError(m, supported_models(), reason=(
            "a stored point has no neighbour of its own yet (infinite density): learn more rows"))
    return EstimatorIR(LocalOutlierFactor(tuple(columns), points, m.n_neighbors, kdist, lrd),
                       "anomaly")


def _loda_inputs(m: anomaly.LODA) -> dict:
    return numeric_inputs(sorted({f for p in m.projections_ for f in p}, key=key_name))


def _loda_bins(m: anomaly.LODA, h: Any) -> tuple:
    """(left, right, log density) of each bin, in River's order: River's own `_density` at the
    bin's right edge (its density is one value over the bin) through `log(max(p, 1e-12))`."""
    return tuple((float(b.left), float(b.right),
                  math.log(max(m._density(h, b.right), 1e-12))) for b in h.data)


LODA_CASES = (
    Case("loda", "Phishing", lambda: anomaly.LODA(n_random_cuts=10, seed=42)),
    Case("minmax|loda", "Bananas", lambda: preprocessing.MinMaxScaler()
         | anomaly.LODA(n_bins=8, n_random_cuts=25, seed=1)),
)


@register_extractor(anomaly.LODA, inputs=_loda_inputs, kind="estimator", produces=(Loda,),
                    cases=LODA_CASES)
def loda(m: anomaly.LODA, columns, ctx) -> EstimatorIR:
    require_learned(bool(m.projections_), "LODA")
    names = tuple(key_name(k) for k in _loda_inputs(m))
    missing = [n for n in names if n not in columns]
    if missing:
        raise UnsupportedModelError(m, supported_models(), reason=f"its projections read "
                                    f"{missing}, which no earlier step of the pipeline produces")
    index = {n: j for j, n in enumerate(names)}
    terms = tuple(tuple((index[key_name(f)], float(w)) for f, w in p.items())
                  for p in m.projections_)
    bins = tuple(_loda_bins(m, h) for h in m.histograms_)
    return EstimatorIR(Loda(names, terms, bins, math.log(1e-12)), "anomaly")


