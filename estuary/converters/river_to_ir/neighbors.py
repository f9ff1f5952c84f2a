"""River `neighbors` → IR NearestNeighbors: KNNClassifier and KNNRegressor over an exact search.

River 0.26.1 (neighbors/knn_*.py, lazy.py, ann/swinn.py; the Rust `lazy_search_euclidean`):
the default distance is `euclidean_distance_dict` over the union of both rows' keys (an absent
key is 0.0); the k nearest are sorted by (distance, window position), so the older point wins a
tie; a row at distance 0 from a stored point gets that point's target. LazySearch always scans
the window; SWINN scans it while it holds no more points than `warm_up`, then searches a graph
from a random seed point (approximate: refused). The search reads every key of the row, so the
row must reach the model closed (`compose.Select` in front), as for the Normalizer.
"""

from __future__ import annotations

from typing import Any

from river import compose, neighbors, preprocessing, utils
from river.neighbors.base import _euclidean_tuple_distance

from ...errors import UnsupportedModelError
from ...ir.neighbors import NearestNeighbors
from ..registry import Case, register_extractor, supported_models
from .base import (
    PHISHING_KEYS,
    TRUMP_KEYS,
    EstimatorIR,
    key_name,
    numeric_inputs,
    plain,
    require_closed,
    require_encoded,
    require_learned,
)

IMAGE_KEYS = ("region-centroid-col", "region-centroid-row", "short-line-density-5",
              "vedge-mean", "hedge-mean", "intensity-mean", "rawred-mean", "rawblue-mean",
              "rawgreen-mean", "exred-mean", "exgreen-mean", "value-mean", "saturation-mean",
              "hue-mean")


def _lazy(window: int) -> neighbors.LazySearch:
    # River's own unit-test engine: the default distance, KNN swaps in its tuple version
    return neighbors.LazySearch(window_size=window, dist_func=utils.math._euclidean_distance)


def _scaled(keys: tuple[str, ...], model: Any) -> Any:
    return compose.Select(*keys) | preprocessing.StandardScaler() | model


CLASSIFIER_CASES = (
    Case("select|scaler|knn", "Phishing", lambda: _scaled(PHISHING_KEYS, neighbors.KNNClassifier(
        n_neighbors=3, engine=_lazy(30)))),
    Case("select|knn-unweighted", "Phishing", lambda: compose.Select(*PHISHING_KEYS)
         | neighbors.KNNClassifier(n_neighbors=4, engine=_lazy(40), weighted=False)),
    Case("select|scaler|knn-swinn-softmax", "ImageSegments", lambda: _scaled(
        IMAGE_KEYS, neighbors.KNNClassifier(engine=neighbors.SWINN(
            dist_func=utils.math._euclidean_distance, maxlen=60, warm_up=100, seed=1),
            softmax=True))),
    Case("select|scaler|knn-unweighted-multiclass", "ImageSegments", lambda: _scaled(
        IMAGE_KEYS, neighbors.KNNClassifier(n_neighbors=6, engine=_lazy(50), weighted=False))),
)
REGRESSOR_CASES = (
    Case("select|scaler|knn-reg", "TrumpApproval", lambda: _scaled(
        TRUMP_KEYS, neighbors.KNNRegressor(n_neighbors=3, engine=_lazy(50)))),
    Case("select|scaler|knn-reg-weighted", "TrumpApproval", lambda: _scaled(
        TRUMP_KEYS, neighbors.KNNRegressor(engine=_lazy(30),
                                           aggregation_method="weighted_mean"))),
)


def _window(m: Any) -> list[tuple[dict, Any]]:
    """River's stored (x, y) pairs in window order (oldest first), if its search is exact."""
    nn = m._nn
    if nn.dist_func is not _euclidean_tuple_distance:
        raise UnsupportedModelError(m, supported_models(), reason=(
            "its search engine uses a custom distance function (arbitrary Python); use the "
            "default Euclidean distance"))
    if isinstance(nn, neighbors.LazySearch):
        return [entry[0] for entry in nn.window]
    if isinstance(nn, neighbors.SWINN):
        if len(nn) > nn.warm_up:
            raise UnsupportedModelError(m, supported_models(), reason=(
                f"SWINN holds {len(nn)} points, more than warm_up={nn.warm_up}: it searches its "
                "graph from a random seed point (approximate, and it moves River's random "
                "state); use neighbors.LazySearch, or a SWINN whose warm_up >= maxlen"))
        return [vertex.item for vertex in nn]
    raise UnsupportedModelError(m, supported_models(), reason=(
        f"its search engine {type(nn).__name__} is not an exact scan estuary knows "
        "(LazySearch, SWINN before warm-up)"))


def _inputs(m: Any) -> dict:
    nn = m._nn
    stored = nn.window if isinstance(nn, neighbors.LazySearch) else [(v.item,) for v in nn]
    return numeric_inputs(dict.fromkeys(k for entry in stored for k in entry[0][0]))


def _points(m: Any, window: list[tuple[dict, Any]], columns: tuple[str, ...],
            ctx: Any) -> tuple[tuple[float, ...], ...]:
    require_closed(m, ctx, "River's distance adds the square of every key of the row, also "
                   "keys it never stored, which an artifact cannot see")
    require_encoded(m, columns, ctx, ", which River's distance cannot subtract")
    rows = []
    for x, _ in window:
        named = {key_name(k): v for k, v in x.items()}
        if set(named) - set(columns):
            raise UnsupportedModelError(m, supported_models(), reason=(
                f"a stored point holds keys {sorted(set(named) - set(columns))} no column "
                "carries"))
        if not all(isinstance(v, int | float) for v in named.values()):
            raise UnsupportedModelError(m, supported_models(), reason=(
                "a stored point holds a value that is not a number, which River's distance "
                "cannot subtract; encode it (OrdinalEncoder) first"))
        rows.append(tuple(float(named.get(c, 0.0)) for c in columns))
    return tuple(rows)


@register_extractor(neighbors.KNNClassifier, inputs=_inputs, kind="estimator",
                    produces=(NearestNeighbors,), cases=CLASSIFIER_CASES)
def knn_classifier(m: neighbors.KNNClassifier, columns, ctx) -> EstimatorIR:
    """`predict_proba_one` over River's `classes` (a set: its iteration order is the dict's, so
    the labels' tie-break); votes 1/d (weighted) or 1, normalised by their total or softmax."""
    window = _window(m)
    require_learned(bool(window), "KNNClassifier")
    classes = tuple(m.classes)
    if len(classes) < 2:
        raise UnsupportedModelError(m, supported_models(), reason=(
            "it has seen one class only: learn a second class before export"))
    index = {c: i for i, c in enumerate(classes)}
    if any(y not in index for _, y in window):
        raise UnsupportedModelError(m, supported_models(), reason=(
            "its window holds a label its classes dropped (clean_up_classes): River raises "
            "KeyError there"))
    targets = tuple(tuple(1.0 if index[y] == i else 0.0 for i in range(len(classes)))
                    for _, y in window)
    est = NearestNeighbors(columns, _points(m, window, columns, ctx), targets,
                           min(m.n_neighbors, len(window)), bool(m.weighted),
                           "softmax" if m.softmax else "normalise")
    return EstimatorIR(est, "classification", tuple(plain(c) for c in classes))


@register_extractor(neighbors.KNNRegressor, inputs=_inputs, kind="estimator",
                    produces=(NearestNeighbors,), cases=REGRESSOR_CASES)
def knn_regressor(m: neighbors.KNNRegressor, columns, ctx) -> EstimatorIR:
    """`predict_one`: the neighbours' mean (`statistics.mean`) or Σ (y/d) / Σ (1/d)."""
    window = _window(m)
    require_learned(bool(window), "KNNRegressor")
    if m.aggregation_method == m._MEDIAN:
        raise UnsupportedModelError(m, supported_models(), reason=(
            "aggregation_method='median' sorts the neighbours' targets: no order statistic in "
            "the IR; use 'mean' or 'weighted_mean'"))
    targets = tuple((float(y),) for _, y in window)
    est = NearestNeighbors(columns, _points(m, window, columns, ctx), targets,
                           min(m.n_neighbors, len(window)),
                           m.aggregation_method == m._WEIGHTED_MEAN, "mean")
    return EstimatorIR(est, "regression")
