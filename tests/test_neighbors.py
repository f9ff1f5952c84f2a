"""NearestNeighbors (River's KNNClassifier / KNNRegressor): River's tie order, its rule for a
row at distance 0, absent keys, overflowing distances, and the refusals, in onnxruntime."""

from __future__ import annotations

import functools

import pytest
from river import compose, datasets, neighbors, utils

import estuary
from estuary.converters.river_to_ir import to_ir
from estuary.errors import UnsupportedModelError


def _lazy(window: int = 10) -> neighbors.LazySearch:
    return neighbors.LazySearch(window_size=window, dist_func=utils.math._euclidean_distance)


def _learn(model, rows):
    for x, y in rows:
        model.learn_one(dict(x), y)
    return model


def _onnx(model, tmp_path, sample):
    path = tmp_path / "knn.onnx"
    estuary.export(model, path, sample=sample, format="onnx")
    return estuary.load(path)


TIES = [({"a": 1.0, "b": 0.0}, "p"), ({"a": -1.0, "b": 0.0}, "q"), ({"a": 1.0, "b": 0.0}, "r"),
        ({"a": -1.0, "b": 0.0}, "s"), ({"a": 0.0, "b": 2.0}, "p")]
QUERIES = [{"a": 0.0, "b": 0.0}, {"a": -0.0, "b": 0.0}, {"a": 1.0, "b": 0.0},
           {"a": -1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}, {"a": 0.5, "b": 1.0},
           {"a": 3.0, "b": -2.0}, {"a": 0.0, "b": 2.0}]


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
def test_ties_absent_keys_and_distance_zero_are_river_s(weighted, k, tmp_path):
    """Four points at distance 1 from the origin: River keeps the older ones (window order),
    and breaks equal votes by its class order; a stored point gets its own label alone.
    (An absent key would count as 0.0, but River's Select, which closes the row, raises on
    one: no reference.)"""
    model = _learn(compose.Select("a", "b") | neighbors.KNNClassifier(
        n_neighbors=k, engine=_lazy(), weighted=weighted), TIES)
    loaded = _onnx(model, tmp_path, QUERIES)
    got = loaded.predict_proba_many(QUERIES)
    classes = list(loaded.metadata.classes)
    for row, x in zip(got, QUERIES, strict=True):
        want = model.predict_proba_one(dict(x))
        assert [want[c] for c in classes] == pytest.approx(list(row), abs=1e-15, rel=1e-15)
    assert loaded.predict_many(QUERIES) == [model.predict_one(dict(x)) for x in QUERIES]


@pytest.mark.parametrize("aggregation", ["mean", "weighted_mean"])
def test_regressor_with_distances_that_overflow(aggregation, tmp_path):
    """Every distance inf (a value of 1e300 squared): River keeps the window's first k and,
    weighted, falls back to their mean (Σ 1/d is 0)."""
    rows = [({"a": float(i), "b": float(i % 3)}, 10.0 * i) for i in range(12)]
    model = _learn(compose.Select("a", "b") | neighbors.KNNRegressor(
        n_neighbors=3, engine=_lazy(8), aggregation_method=aggregation), rows)
    queries = [{"a": 1e300, "b": 0.0}, {"a": -1e300, "b": 1.0}, {"a": 5.0, "b": 2.0},
               {"a": 4.5, "b": 0.0}, {"a": 7.25, "b": 0.5}]
    got = _onnx(model, tmp_path, queries).predict_many(queries)
    want = [model.predict_one(dict(x)) for x in queries]
    assert got == pytest.approx(want, rel=1e-12)
    assert got[0] == 50.0  # the window holds targets 40 .. 110: the first three, 40, 50, 60


def test_an_open_row_is_refused():
    model = _learn(neighbors.KNNClassifier(engine=_lazy()), TIES)
    with pytest.raises(UnsupportedModelError, match=r"compose\.Select"):
        to_ir(model)


def test_swinn_after_its_warm_up_is_refused_and_before_it_exported():
    rows = list(datasets.Phishing().take(60))
    keys = tuple(rows[0][0])
    swinn = neighbors.SWINN(dist_func=utils.math._euclidean_distance, maxlen=100, warm_up=40,
                            seed=1)
    model = _learn(compose.Select(*keys) | neighbors.KNNClassifier(engine=swinn), rows)
    with pytest.raises(UnsupportedModelError, match="random seed point"):
        to_ir(model)
    before = neighbors.SWINN(dist_func=utils.math._euclidean_distance, maxlen=50, warm_up=50)
    model = _learn(compose.Select(*keys) | neighbors.KNNClassifier(engine=before), rows)
    assert len(to_ir(model).estimator.points) == 50


def test_a_custom_distance_and_the_median_are_refused():
    manhattan = functools.partial(utils.math.minkowski_distance, p=1)
    model = _learn(compose.Select("a", "b") | neighbors.KNNClassifier(
        engine=neighbors.LazySearch(window_size=10, dist_func=manhattan)), TIES)
    with pytest.raises(UnsupportedModelError, match="custom distance"):
        to_ir(model)
    rows = [({"a": float(i)}, float(i)) for i in range(5)]
    model = _learn(compose.Select("a") | neighbors.KNNRegressor(
        engine=_lazy(), aggregation_method="median"), rows)
    with pytest.raises(UnsupportedModelError, match="median"):
        to_ir(model)


def test_raw_categories_are_refused():
    rows = [({"a": 1.0, "c": "x"}, True), ({"a": 2.0, "c": "y"}, False)]
    model = _learn(compose.Select("a", "c") | neighbors.KNNClassifier(engine=_lazy()), rows)
    with pytest.raises(UnsupportedModelError, match="not a number"):
        to_ir(model)
