"""GaussianNB (alone and after a StandardScaler): River → IR → ONNX, parity with River in float64."""

from __future__ import annotations

import math

import numpy as np
import onnxruntime
import pytest
from river import datasets, naive_bayes, preprocessing

from estuary import ir
from estuary.converters.onnx import to_onnx
from estuary.converters.river_to_ir import to_ir
from estuary.errors import EmptyModelError, UnsupportedModelError
from estuary.rows import RowEncoder

try:
    from catalog_nb import CASES
except ImportError:  # tests/ imported as a package
    from tests.catalog_nb import CASES

TOLERANCE = 1e-9
EXTREMES = (1e300, -1e300, 1e-300, -1e-300, 0.0)


def learn(model, stream):
    for x, y in stream:
        model.learn_one(x, y)
    return model


def export(model):
    M = to_ir(model)
    snap = ir.Snapshot(M, ir.Provenance("0.26.1", "0.1.0"))
    proto = to_onnx(snap)
    sess = onnxruntime.InferenceSession(proto.SerializeToString(),
                                        providers=["CPUExecutionProvider"])
    return M, snap, sess


def adversarial_rows(rows: list[dict], keys: list) -> list[dict]:
    """Each key removed, all keys removed, zeros, extremes, an unknown key."""
    out = [{k: v for k, v in r.items() if k != key} for r in rows[:10] for key in keys]
    out += [{}, {"never-seen": 1.0}, {**rows[0], "never-seen": 3.0}]
    for v in EXTREMES:
        out.append({k: v for k in keys})
        out += [{**rows[1], k: v} for k in keys]
    return out


def compare(model, rows: list[dict]) -> tuple[float, float]:
    """Max |p_onnx - p_river| and label agreement; the numpy evaluator is held to the same bar."""
    M, _, sess = export(model)
    X = RowEncoder(M.schema).encode_many(rows)
    label, proba = sess.run(None, {"input": X})
    river_p = np.array([[model.predict_proba_one(r).get(c, 0.0) for c in M.classes] for r in rows])
    river_y = [model.predict_one(r) for r in rows]
    assert np.isfinite(river_p).all()
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)
    diff = float(np.abs(proba - river_p).max())
    agree = float(np.mean([M.classes[i] == y for i, y in zip(label, river_y, strict=True)]))
    ev = ir.evaluate(M, X)
    assert float(np.abs(ev["probabilities"] - river_p).max()) <= TOLERANCE
    assert [M.classes[i] for i in ev["label"]] == river_y
    return diff, agree


@pytest.mark.parametrize("case_id, dataset, factory", CASES, ids=[c[0] for c in CASES])
def test_catalog_case_matches_river(case_id, dataset, factory):
    data = list(getattr(datasets, dataset)())
    model = learn(factory(), data)
    rows = [x for x, _ in data][::7]  # every 7th row keeps the suite fast
    rows += adversarial_rows(rows, list(data[0][0]))
    diff, agree = compare(model, rows)
    assert agree == 1.0
    assert diff <= TOLERANCE, f"{case_id}: max abs diff {diff}"


def _alternating(n: int) -> list:
    """Phishing events with the classes interleaved, so two classes appear from event 2 on."""
    data = list(datasets.Phishing())
    pos = [e for e in data if e[1]]
    neg = [e for e in data if not e[1]]
    return [e for pair in zip(pos, neg, strict=False) for e in pair][:n]


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("scaled", [False, True], ids=["alone", "scaled"])
def test_early_model_with_single_sample_classes(n, scaled):
    """One sample per class → zero variance → River's density is 0, log(1e-9) per present key."""
    model = naive_bayes.GaussianNB()
    if scaled:
        model = preprocessing.StandardScaler() | model
    events = _alternating(n)
    learn(model, events)
    rows = [x for x, _ in _alternating(40)]
    rows += adversarial_rows(rows, list(events[0][0]))
    diff, agree = compare(model, rows)
    assert agree == 1.0 and diff <= TOLERANCE


def test_feature_seen_for_some_classes_only():
    """River: a key a class never saw adds log(1e-9) to that class; the IR marks variance 0."""
    model = learn(naive_bayes.GaussianNB(), [
        ({"a": 1.0, "b": 2.0}, "x"), ({"a": 2.0, "b": 3.0}, "x"), ({"a": 5.0}, "y"),
        ({"a": 6.0}, "y"), ({"c": 1.0}, "z"), ({}, "w"),
    ])
    M = to_ir(model)
    assert M.classes == ("x", "y", "z", "w")
    assert M.estimator.variances[1] == (0.25, 0.0, 0.0)  # "y" never saw "b"; "c" has one sample
    rows = [{"a": 1.5, "b": 2.5}, {"b": 2.5}, {"a": 5.5}, {"c": 1.0}, {}, {"d": 1.0},
            {"a": 1.0, "b": 100.0, "c": 3.0}, {"a": 1e300, "b": -1e300, "c": 1e-300}]
    diff, agree = compare(model, rows)
    assert agree == 1.0 and diff <= TOLERANCE


def test_scaler_key_unknown_to_naive_bayes():
    """A key only the scaler knows reaches GaussianNB and costs every class log(1e-9)."""
    scaler = preprocessing.StandardScaler()
    for x in ({"a": 1.0, "b": 3.0}, {"a": 2.0, "b": 5.0}):
        scaler.learn_one(x)
    model = scaler | naive_bayes.GaussianNB()
    for x, y in [({"a": 1.0}, 0), ({"a": 2.0}, 0), ({"a": 4.0}, 1), ({"a": 6.0}, 1)]:
        model.learn_one(x, y)
    assert "b" in to_ir(model).estimator.columns
    diff, agree = compare(model, [{"a": 1.5, "b": 4.0}, {"b": 4.0}, {"a": 5.0}, {}])
    assert agree == 1.0 and diff <= TOLERANCE


def test_empty_and_single_class_models_refuse_to_export():
    with pytest.raises(EmptyModelError, match="learned nothing"):
        to_ir(naive_bayes.GaussianNB())
    with pytest.raises(EmptyModelError, match="learned nothing"):
        to_ir(preprocessing.StandardScaler() | naive_bayes.GaussianNB())
    one = learn(naive_bayes.GaussianNB(), list(datasets.Phishing())[:1])
    with pytest.raises(EmptyModelError, match="only the class"):
        to_ir(one)


def test_overflowed_variance_matches_river():
    """Values near the float limit overflow River's variance to inf: its density is then 0."""
    model = learn(naive_bayes.GaussianNB(), [({"a": 1.0}, 0), ({"a": 2.0}, 0), ({"a": 1.0}, 1),
                                             ({"a": 1e308}, 1), ({"a": -1e308}, 1)])
    assert math.isinf(model.gaussians[1]["a"]._var.get())
    diff, agree = compare(model, [{"a": 1.5}, {"a": 0.0}, {"a": 1e300}, {}])
    assert agree == 1.0 and diff <= TOLERANCE


def test_non_finite_mean_is_refused():
    model = learn(naive_bayes.GaussianNB(), [({"a": 1.0}, 0), ({"a": 2.0}, 0), ({"a": 1.0}, 1),
                                             ({"a": 3.0}, 1)])
    model.gaussians[1]["a"]._var.mean._mean = math.inf  # River itself would answer NaN
    with pytest.raises(UnsupportedModelError, match="infinite or NaN mean"):
        to_ir(model)


def test_ir_round_trip_and_deterministic_bytes():
    model = learn(preprocessing.StandardScaler() | naive_bayes.GaussianNB(),
                  list(datasets.Bananas())[:500])
    M, snap, _ = export(model)
    assert ir.from_json(ir.to_json(M)) == M
    assert M.estimator.epsilon == 1e-9
    a = to_onnx(snap).SerializeToString(deterministic=True)
    b = to_onnx(ir.Snapshot(to_ir(model), snap.provenance)).SerializeToString(deterministic=True)
    assert a == b


def test_river_ddof_is_read_from_the_state():
    """River 0.26 builds its Gaussians with ddof=0; a ddof=1 state must be honoured too."""
    model = learn(naive_bayes.GaussianNB(), list(datasets.Bananas())[:300])
    for per_class in model.gaussians.values():
        for g in per_class.values():
            g._var.ddof = 1
    rows = [x for x, _ in list(datasets.Bananas())[300:400]]
    diff, agree = compare(model, rows)
    assert agree == 1.0 and diff <= TOLERANCE
