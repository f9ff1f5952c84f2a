"""Clusterers (issue 14): River's `predict_one` and its distances from the frozen centres, in the
real runtimes. The catalogue cases (KMeans, STREAMKMeans, DBSTREAM, DenStream) run through the
parity suite; here: ties (River's `min` keeps the first centre), DenStream's -1, rows with keys
no centre holds (skipped, River's model left as it was), the API, and the refusals."""

from __future__ import annotations

import collections
import copy
import functools
import sys

import numpy as np
import pytest
from conftest import learned
from river import cluster, compose, datasets

import estuary
from estuary.converters.river_to_ir.base import PHISHING_KEYS
from estuary.converters.river_to_ir.cluster import CLUSTREAM_REFUSAL
from estuary.errors import EmptyModelError, UnsupportedModelError
from estuary.parity.reference import CLUSTER_DISTANCES

FORMATS = {"onnx": ".onnx", "pmml": ".pmml", "tfjs": ".tfjs", "coreml": ".mlmodel"}
FLOAT32 = {"tfjs", "coreml"}  # Core ML: float32 neural-network layers
# dyadic centres: every difference, square and sum below is exact in float32 and float64
CENTRES = ({"a": 0.0, "b": 0.0}, {"a": 2.0, "b": 0.0}, {"a": 0.0, "b": 2.0})
TIES = [{"a": 1.0, "b": 0.0}, {"a": 1.0, "b": 1.0}, {"a": 2.0, "b": 2.0}, {"a": 0.0, "b": 1.0}]
FIRST_OF_TIE = [0, 0, 1, 0]  # River's min over its centres' dict order


def with_centres(model, centres=CENTRES):
    """`model` (KMeans, or STREAMKMeans through its inner KMeans) holding exactly `centres`."""
    inner = model._kmeans if isinstance(model, cluster.STREAMKMeans) else model
    for i, c in enumerate(centres):
        inner.centers[i] = collections.defaultdict(inner.centers[i].default_factory, c)
    if isinstance(model, cluster.STREAMKMeans):
        model.centers = inner.centers
    return model


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("make", [lambda: cluster.KMeans(n_clusters=3, seed=1),
                                  lambda: cluster.STREAMKMeans(n_clusters=3, seed=1)],
                         ids=["kmeans", "streamkmeans"])
def test_the_first_centre_wins_a_tie_in_every_format(make, fmt, tmp_path):
    model = with_centres(make())
    assert [model.predict_one(dict(x)) for x in TIES] == FIRST_OF_TIE
    path = tmp_path / f"model{FORMATS[fmt]}"
    estuary.export(model, path, sample=TIES, format=fmt)
    loaded = estuary.load(path)
    assert loaded.predict_many(TIES) == FIRST_OF_TIE
    river = [CLUSTER_DISTANCES[type(model).__name__](model, x, (0, 1, 2)) for x in TIES]
    got = loaded.distances_many(TIES)
    if fmt in FLOAT32:  # sums of squares exact in float32; the root is float32's
        assert np.allclose(got, river, rtol=1e-7, atol=0)
    else:
        assert np.array_equal(got, np.array(river))
    report = estuary.verify(model, path, TIES)
    assert report.passed and report.label_agreement == 1.0, report.to_text()


@pytest.mark.parametrize("fmt", ["onnx", "pmml"])  # TF.js refuses: see the refusals below
def test_denstream_answers_minus_one_when_every_distance_overflows(fmt, tmp_path):
    model, rows = learned("denstream")
    far = {"1": 1e300, "2": 0.5}
    assert model.predict_one(dict(far)) == -1  # sqrt((1e300)²) is inf: nothing is nearer
    path = tmp_path / f"model{FORMATS[fmt]}"
    estuary.export(model, path, sample=rows[:20], format=fmt)
    loaded = estuary.load(path)
    assert loaded.classes[0] == -1
    assert loaded.predict_many([far, rows[0]]) == [-1, model.predict_one(dict(rows[0]))]
    assert loaded.distances_many([far])[0, 0] == sys.float_info.max  # the pseudo-centre




@pytest.mark.parametrize("fmt", ["onnx", "pmml", "tfjs"])
def test_manhattan_kmeans(fmt, tmp_path):
    """p = 1 (Core ML refuses it: no exact rank in its float32 layers)."""
    model, rows = manhattan()
    path = tmp_path / f"model{FORMATS[fmt]}"
    estuary.export(model, path, sample=rows[:50], format=fmt)
    report = estuary.verify(model, path, rows)
    assert report.passed and report.label_agreement == 1.0, report.to_text()
    assert len(set(estuary.load(path).predict_many(rows))) == 3


@functools.cache
def _manhattan() -> tuple:
    model = compose.Select(*PHISHING_KEYS) | cluster.KMeans(n_clusters=3, p=1, seed=1, mu=0.5,
                                                            sigma=0.3, halflife=0.1)
    rows = [x for x, _ in datasets.Phishing()]
    for x in rows:
        model.learn_one(dict(x))
    return model, rows


def manhattan() -> tuple:
    model, rows = _manhattan()
    return model, [dict(x) for x in rows]


def test_rows_with_keys_no_centre_holds_are_skipped_and_river_keeps_its_centres(tmp_path):
    model, rows = learned("kmeans")
    before = copy.deepcopy({i: dict(c) for i, c in model.centers.items()})
    path = tmp_path / "model.onnx"
    estuary.export(model, path, sample=rows[:20])
    report = estuary.verify(model, path, rows[:50])
    assert report.passed and report.label_agreement == 1.0
    assert any("draws a random centre coordinate" in s for s in report.skipped_examples)
    assert {i: dict(c) for i, c in model.centers.items()} == before
    # the artifact ignores the unknown key, as for every other model
    loaded = estuary.load(path)
    assert loaded.predict_one({**rows[0], "new key": 5.0}) == loaded.predict_one(rows[0])


def test_loaded_model_answers_with_rivers_ids_and_distances(tmp_path):
    model, rows = learned("scaler|kmeans")
    path = tmp_path / "model.onnx"
    estuary.export(model, path, sample=rows[:20])
    loaded = estuary.load(path)
    assert loaded.metadata.task == "cluster" and loaded.classes == (0, 1, 2, 3, 4)
    assert loaded.predict_many(rows) == [model.predict_one(dict(x)) for x in rows]
    d = loaded.distances_many(rows[:10])
    assert d.shape == (10, 5)
    river = [CLUSTER_DISTANCES["Pipeline"](model, x, loaded.classes) for x in rows[:10]]
    assert np.allclose(d, river, rtol=1e-13, atol=0)
    with pytest.raises(estuary.errors.WrongTaskError, match="predict_one"):
        loaded.predict_proba_one(rows[0])


def test_refusals_say_why(tmp_path):
    young = cluster.STREAMKMeans(chunk_size=10, n_clusters=2)
    for x in ({"a": 1.0}, {"a": 2.0}):
        young.learn_one(x)
    with pytest.raises(EmptyModelError, match="STREAMKMeans"):
        estuary.export(young, tmp_path / "a.onnx")
    fractional = cluster.KMeans(n_clusters=2, p=1.5, seed=1)
    fractional.learn_one({"a": 1.0})
    with pytest.raises(UnsupportedModelError, match="whole number"):
        estuary.export(fractional, tmp_path / "b.onnx")
    fresh = cluster.DenStream()
    fresh.learn_one({"a": 1.0})
    with pytest.raises(EmptyModelError, match="DenStream"):
        estuary.export(fresh, tmp_path / "c.onnx")
    stream = cluster.CluStream(max_micro_clusters=3, seed=1)
    for i in range(5):
        stream.learn_one({"a": float(i)})
    with pytest.raises(UnsupportedModelError) as e:
        estuary.export(stream, tmp_path / "d.onnx")
    assert CLUSTREAM_REFUSAL in str(e.value)
    model, rows = manhattan()
    with pytest.raises(UnsupportedModelError, match="p=1 has no exact rank"):
        estuary.export(model, tmp_path / "e.mlmodel", sample=rows[:5])
    denstream = learned("denstream")[0]
    with pytest.raises(UnsupportedModelError, match="float32 cannot hold"):
        estuary.export(denstream, tmp_path / "f.tfjs")
    with pytest.raises(UnsupportedModelError, match="float32 layers cannot hold"):
        estuary.export(denstream, tmp_path / "g.mlmodel")
    assert not any(tmp_path.iterdir())
