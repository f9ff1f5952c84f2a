"""Anomaly detectors (issue 14): HalfSpaceTrees' folded mass profiles at River's split points and
one ulp either side, far-away rows, missing keys (River's l_mass rule) and the first window;
GaussianScorer / SAD score `y`; filters' flags equal River's classify in ONNX and PMML; the
refusals say why; the Learner learns detectors without labels."""

from __future__ import annotations

import numpy as np
import pytest
from river import anomaly, datasets, preprocessing

import estuary
from estuary import ir
from estuary.converters.river_to_ir import to_ir
from estuary.converters.river_to_ir.learning import learn, learning_mode, scored_row
from estuary.demo import anomaly_stream
from estuary.ir.anomaly import HalfSpaceTrees
from estuary.online import Learner, Store

FORMATS = ("onnx", "pmml", "tfjs", "coreml")


def hst(window: int = 100, n: int = 700):
    model = anomaly.HalfSpaceTrees(n_trees=6, height=5, window_size=window, seed=11)
    rows = [x for x, _ in anomaly_stream(n, seed=5)]
    for x in rows:
        model.learn_one(x)
    return model, rows


def split_rows(model) -> list[dict]:
    """Rows on every split point of every tree and one ulp either side, the other key at the
    first row's value, and rows with that key missing."""
    out = []
    for nodes in model._tree_nodes:
        for node in nodes:
            if not hasattr(node, "threshold"):
                continue
            t = node.threshold
            other = "b" if node.feature == "a" else "a"
            for v in (np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf)):
                out.append({node.feature: float(v), other: 0.5})
                out.append({node.feature: float(v)})
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_hst_on_split_points_far_rows_and_missing_keys(fmt, tmp_path):
    model, rows = hst()
    path = tmp_path / f"hst.{fmt if fmt != 'coreml' else 'mlmodel'}"
    estuary.export(model, path, sample=rows[:50], format=fmt)
    loaded = estuary.load(path)
    far = -1e300 if loaded.metadata.precision == "float64" else -1e30  # float32: ±3.4e38 at most
    probes = split_rows(model) + [{"a": 1e9, "b": -1e9}, {"a": far}, {}, {"b": 0.5}]
    got = loaded.score_many(probes)
    want = np.array([model.score_one(x) for x in probes])
    if loaded.metadata.precision == "float64":
        assert got.tolist() == want.tolist()  # River's bits
    else:  # exact routing and sums; 1 - total / max in float32 or as a double GLM
        assert np.abs(got - want).max() <= 1e-6
    # the rows really straddle splits: River's own scores differ across one ulp somewhere
    assert len(set(want.tolist())) > 10
    report = estuary.verify(model, path, rows[:200])
    assert report.passed and report.rows_by_tag["threshold"] > 0, report.to_text()


def test_hst_ir_folds_river_walk_exactly():
    model, rows = hst()
    est = to_ir(model).estimator
    assert isinstance(est, HalfSpaceTrees) and len(est.trees) == 6
    assert est.max_score == model._max_score
    # x < t is x <= prev(t): every IR threshold is the float just below one of River's
    river_thresholds = {n.threshold for nodes in model._tree_nodes for n in nodes
                        if hasattr(n, "threshold")}
    for t in est.trees:
        for i in t.tree.branches:
            assert float(np.nextafter(t.tree.threshold[i], np.inf)) in river_thresholds
    X = estuary.rows.RowEncoder(to_ir(model).schema).encode_many(rows)
    assert ir.evaluate(to_ir(model), X)["score"].tolist() == [model.score_one(x) for x in rows]


def test_hst_missing_key_follows_l_mass():
    model, _ = hst()
    root = model.trees[0]
    left, right = root.children
    tree = to_ir(model).estimator.trees[0].tree
    assert tree.missing_left[0] == (not left.l_mass < right.l_mass)


def test_first_window_scores_zero_everywhere(tmp_path):
    model, rows = hst(window=5000, n=300)
    assert model._first_window
    for fmt in ("onnx", "pmml"):
        path = tmp_path / f"m.{fmt}"
        estuary.export(model, path, sample=rows[:20], format=fmt)
        assert estuary.load(path).score_many(rows[:50] + [{}]).tolist() == [0.0] * 51


def test_unlearned_hst_is_refused(tmp_path):
    with pytest.raises(estuary.EstuaryError) as e:
        estuary.export(anomaly.HalfSpaceTrees(), tmp_path / "m.onnx", format="onnx")
    assert "call learn_one" in str(e.value)


def gaussian_rows() -> list[dict]:
    return [{"y": y} for _, y in datasets.TrumpApproval()]


@pytest.mark.parametrize("factory", [lambda: anomaly.GaussianScorer(grace_period=30),
                                     lambda: anomaly.GaussianScorer(window_size=50),
                                     anomaly.StandardAbsoluteDeviation],
                         ids=["gaussian", "gaussian-window", "sad"])
@pytest.mark.parametrize("fmt", ["onnx", "pmml", "coreml"])
def test_detectors_of_y(factory, fmt, tmp_path):
    model = factory()
    rows = gaussian_rows()
    assert learning_mode(model) == "target"
    for r in rows:
        learn(model, {}, r["y"])
    path = tmp_path / f"m{estuary.converters.registry.FORMATS[fmt].suffix}"
    estuary.export(model, path, sample=rows[:30], format=fmt)
    loaded = estuary.load(path)
    assert [f.name for f in loaded.metadata.schema.features] == ["y"]
    far = [{"y": 1e6}, {"y": -1e6}, {"y": 0.0}]
    got = loaded.score_many(rows + far)
    want = np.array([model.score_one(None, r["y"]) for r in rows + far])
    # Core ML's Scaler multiplies by 1/scale: an ulp from River's division, relative
    scale = np.maximum(1.0, np.abs(want)) if fmt == "coreml" else 1.0
    assert (np.abs(got - want) <= 1e-12 * scale).all()
    assert loaded.score_one({"y": 40.0}) == pytest.approx(model.score_one(None, 40.0), abs=1e-12)
    if fmt == "coreml":  # |.| without a comparison: River's sign around the centre, exactly 0
        assert loaded.metadata.precision == "float64"
        centre = float(to_ir(model).estimator.center)
        near = [{"y": float(v)} for v in (centre, *(np.nextafter(centre, d) for d in (-np.inf, np.inf)),
                                          centre + 1e-9, centre - 1e-9, 1e300, -1e300)]
        got = loaded.score_many(near)
        want = np.array([model.score_one(None, r["y"]) for r in near])
        assert (got >= 0).all()
        assert (np.abs(got - want) <= 1e-12 * np.maximum(1.0, np.abs(want))).all()
        assert (got[want == 0.0] == 0.0).all()


@pytest.mark.parametrize("fmt", ["onnx", "pmml"])
def test_filter_flags_are_rivers_classify(fmt, tmp_path):
    model = preprocessing.MinMaxScaler() | anomaly.QuantileFilter(
        anomaly.HalfSpaceTrees(n_trees=5, height=5, window_size=100, seed=5), q=0.9)
    stream = anomaly_stream(900, seed=9)
    for x, _ in stream[:700]:
        model.learn_one(x)
    rows = [x for x, _ in stream[700:]]
    path = tmp_path / f"m.{fmt}"
    estuary.export(model, path, sample=rows[:30], format=fmt)
    loaded = estuary.load(path)
    last = model["QuantileFilter"]
    flags = [bool(last.classify(model.score_one(x))) for x in rows]
    assert 0 < sum(flags) < len(flags)
    out = loaded.run(loaded.encoder.encode_many(rows))
    assert out["is_anomaly"].dtype == np.int64 and out["is_anomaly"].astype(bool).tolist() == flags
    assert [loaded.classify_one(x) for x in rows[:20]] == flags[:20]
    report = estuary.verify(model, path, rows)
    assert report.passed and report.label_agreement == 1.0


def test_quantile_filter_before_any_quantile_flags_nothing(tmp_path):
    model = anomaly.QuantileFilter(anomaly.OneClassSVM(), q=0.9)  # quantile.get() is None: inf
    model.anomaly_detector.learn_one({"a": 1.0})
    path = tmp_path / "m.onnx"
    estuary.export(model, path, format="onnx")
    assert to_ir(model).estimator.threshold is None  # River's `or math.inf`
    assert model.classify(model.score_one({"a": 1e300})) is False
    assert estuary.load(path).classify_one({"a": 1e300}) is False


@pytest.mark.parametrize("fmt, reason", [
    ("tfjs", "a float32 score within float32 rounding of it would flip"),
    ("coreml", "could flip rows within float32 rounding of it")])
def test_filters_are_refused_in_float32_formats(fmt, reason, tmp_path):
    model = anomaly.ThresholdFilter(anomaly.HalfSpaceTrees(seed=1), threshold=0.9)
    learn(model, {"a": 0.2}, None)
    with pytest.raises(estuary.UnsupportedModelError) as e:
        estuary.export(model, tmp_path / "m", format=fmt)
    assert reason in str(e.value)


def lof(window: int = 60, k: int = 6):
    from river import compose, neighbors, utils

    model = compose.Select("1", "2") | anomaly.LocalOutlierFactor(
        n_neighbors=k, engine=neighbors.LazySearch(window_size=window,
                                                   dist_func=utils.math._euclidean_distance))
    rows = [x for x, _ in datasets.Bananas()][:400]
    for x in rows:
        model.learn_one(x)
    return model, rows


def test_lof_in_onnx_stored_points_duplicates_and_far_rows(tmp_path):
    model, rows = lof()
    last = model["LocalOutlierFactor"]
    stored = [entry[0][0] for entry in last._nn.window]
    probes = (stored[:20]  # distance 0 to a stored point: River drops it from the neighbours
              + rows[:40] + [{"1": 1e6, "2": -1e6}, {"1": 0.0, "2": 0.0}, {"1": 3.0, "2": 3.0}])
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows[:30], format="onnx")
    got = estuary.load(path).score_many(probes)
    want = np.array([model.score_one(dict(x)) for x in probes])
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()
    assert estuary.verify(model, path, rows).passed


@pytest.mark.parametrize("fmt", ["pmml", "tfjs", "coreml"])
def test_lof_elsewhere_is_refused_with_the_reason(fmt, tmp_path):
    model, rows = lof()
    with pytest.raises(estuary.UnsupportedModelError) as e:
        estuary.export(model, tmp_path / "m", sample=rows[:5], format=fmt)
    assert "needs the k nearest stored points of each row" in str(e.value)


def test_lof_on_an_open_row_is_refused(tmp_path):
    model = anomaly.LocalOutlierFactor()  # no Select in front: River's distance reads any key
    for x in ({"a": 0.1}, {"a": 0.3}, {"a": 0.2}):
        model.learn_one(x)
    with pytest.raises(estuary.UnsupportedModelError) as e:
        estuary.export(model, tmp_path / "m.onnx", format="onnx")
    assert "put compose.Select(<keys>) in front of it" in str(e.value)


def edge_rows(model) -> list[dict]:
    """Rows whose projection lands exactly on a histogram's bin edge and one ulp of x either
    side (Bananas' two features: LODA projects one feature per cut, z = w * x)."""
    out = []
    for projection, h in zip(model.projections_, model.histograms_):
        (feature, w), = projection.items()
        for b in h.data:
            for edge in (b.left, b.right):
                x0 = edge / w
                near = [x0, *(float(np.nextafter(x0, d)) for d in (-np.inf, np.inf))]
                hit = [x for x in near if w * x == edge]
                for x in hit[:1]:
                    out += [{feature: x}, {feature: float(np.nextafter(x, -np.inf))},
                            {feature: float(np.nextafter(x, np.inf))}]
    return out


@pytest.mark.parametrize("fmt", ["onnx", "pmml"])
def test_loda_on_bin_edges_is_rivers_to_the_bit(fmt, tmp_path):
    model = anomaly.LODA(n_bins=8, n_random_cuts=20, seed=3)
    rows = [x for x, _ in datasets.Bananas()][:1500]
    for x in rows:
        model.learn_one(x)
    probes = edge_rows(model)
    assert len(probes) > 100
    probes += [{"1": 1e9, "2": -1e9}, {}, {"1": 0.0}]
    path = tmp_path / f"m.{fmt}"
    estuary.export(model, path, sample=rows[:30], format=fmt)
    got = estuary.load(path).score_many(probes)
    want = [model.score_one(x) for x in probes]
    assert got.tolist() == want
    assert len(set(want)) > 20  # the edges do move rows between bins


@pytest.mark.parametrize("fmt", ["tfjs", "coreml"])
def test_loda_is_refused_in_float32_formats(fmt, tmp_path):
    model = anomaly.LODA(seed=1)
    model.learn_one({"a": 0.1, "b": 0.2})
    with pytest.raises(estuary.UnsupportedModelError) as e:
        estuary.export(model, tmp_path / "m", format=fmt)
    assert "moves rows across River's bin edges" in str(e.value)


def test_learner_snapshots_a_detector_that_learns_without_labels(tmp_path):
    model = anomaly.HalfSpaceTrees(n_trees=4, height=4, window_size=50, seed=2)
    stream = anomaly_stream(300, seed=1)
    with Learner(model, store=Store(tmp_path), formats=["onnx", "pmml"]) as learner:
        for x, y in stream:
            learner.learn_one(x, y)  # y (the anomaly label) is ignored: River's learn_one(x)
        assert learner.recent()[-1] == scored_row("unsupervised", stream[-1][0], None)
        result = learner.snapshot().result()
    assert result.published, result.summary()
    version = Store(tmp_path).open(result.version)
    assert version.manifest.task == "anomaly"
    loaded = estuary.load(version.path / "model.onnx")
    rows = [x for x, _ in stream[-20:]]
    assert loaded.score_many(rows).tolist() == [model.score_one(x) for x in rows]


def test_learner_of_a_y_detector_keeps_y_rows_and_a_metric(tmp_path):
    from river import metrics

    model = anomaly.GaussianScorer(grace_period=10)
    rows = gaussian_rows()[:200]
    with Learner(model, store=Store(tmp_path), formats=["onnx"],
                 metric=metrics.MAE()) as learner:
        for r in rows:
            learner.learn_one({}, r["y"])
        assert learner.recent()[-1] == {"y": rows[-1]["y"]}
        result = learner.snapshot().result()
    assert result.published, result.summary()
    # prequential: River's score_one(x, y) before learning y, as a fresh copy computes it
    fresh, mae = anomaly.GaussianScorer(grace_period=10), metrics.MAE()
    for r in rows:
        mae.update(r["y"], fresh.score_one(None, r["y"]))
        fresh.learn_one(None, r["y"])
    assert learner.metric.get() == mae.get() > 0
