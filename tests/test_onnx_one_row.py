"""The one-row ONNX path: the schema-specialised encoder writes what RowEncoder writes (or
raises what it raises), and pre-bound predict_one / predict_proba_one answer as the batch path."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from river import compose, linear_model, preprocessing, tree

import estuary
from estuary.errors import ArtifactError, InvalidInputError
from estuary.ir import Feature, FeatureSchema
from estuary.rows import RowEncoder
from estuary.rows_one import compile_row_encoder
from estuary.runtimes.onnx_one import OnnxModel

ODD = [float("nan"), "1.5", "", [1], (1, 2), {"a": 1}, {1}, 10**400, 10**5000, b"x", None,
       np.float32(0.5), np.int8(-3), np.nan, True, complex(1, 2), object(), float("inf"),
       -float("inf"), 1e300, 2**1023 * 2 - 1]
GOOD = [0.0, -0.0, 1.5, -1e308, 5e-324, 3, -7, 2**60, False, np.float64(2.5), "a", "b", 1, 2.0]


def _schema(rng: random.Random) -> FeatureSchema:
    features = []
    for i in range(rng.randint(1, 6)):
        key = rng.choice([f"f{i}", i, ("t", i)]) if rng.random() < 0.3 else f"f{i}"
        name = str(key)
        if rng.random() < 0.5:
            features.append(Feature(name, key))
        else:
            cats = tuple(rng.sample(["a", "b", 1, 2.0, True, "x"], rng.randint(1, 4)))
            if any(str(c) == str(d) for c in cats for d in cats if c is not d):
                cats = ("a", "b")
            features.append(Feature(name, key, "categorical", cats))
    return FeatureSchema(tuple(features))


def _row(rng: random.Random, schema: FeatureSchema) -> dict:
    row = {}
    for f in schema.features:
        roll = rng.random()
        if roll < 0.2:
            continue
        key = f.name if roll < 0.3 else f.key  # RowEncoder reads a feature by key, then name
        row[key] = rng.choice(ODD) if roll > 0.9 else rng.choice(GOOD)
    return row


def _outcome(fn):
    try:
        return "ok", fn()
    except Exception as e:  # compare the exact error both encoders give
        return type(e).__name__, str(e)


@pytest.mark.parametrize("seed", range(30))
def test_specialised_encoder_writes_or_raises_as_row_encoder(seed):
    rng = random.Random(seed)
    schema = _schema(rng)
    encoder = RowEncoder(schema)
    buffer = np.full(encoder.n_columns, 123.0)  # stale values from an earlier row
    compiled = compile_row_encoder(encoder, buffer)
    view = memoryview(buffer)
    for _ in range(200):
        row = _row(rng, schema)
        kind, expected = _outcome(lambda row=row: encoder.encode(row))
        got_kind, got = _outcome(lambda row=row: (compiled(row, view), buffer.copy())[1])
        assert got_kind == kind, (row, expected, got)
        if kind == "ok":
            assert np.array_equal(np.isnan(got), np.isnan(expected))
            keep = ~np.isnan(expected)
            assert np.array_equal(got[keep].view(np.int64), expected[keep].view(np.int64)), row
        else:
            assert got == expected
    assert _outcome(lambda: compiled([1.0], view)) == _outcome(lambda: encoder.encode([1.0]))


def three_models(tmp_path_factory, seed: int) -> tuple[dict, list[dict]]:
    """A classifier with a categorical feature, a tree classifier and a regressor, learned on
    400 random rows (from `seed`) and exported; loaded by name, and the rows."""
    rng = random.Random(seed)
    rows = [{"x": rng.uniform(-2, 2), "y": rng.uniform(0, 5), "c": rng.choice("pqr")}
            for _ in range(400)]
    clf = (compose.Select("x", "y") | preprocessing.StandardScaler()) + \
        (compose.Select("c") | preprocessing.OneHotEncoder())
    clf |= linear_model.LogisticRegression()
    ht = tree.HoeffdingTreeClassifier(grace_period=20)
    reg = compose.Select("x", "y") | preprocessing.StandardScaler() | \
        linear_model.LinearRegression()
    for r in rows:
        clf.learn_one(r, r["x"] > 0)
        ht.learn_one(r, r["c"] if r["x"] > 0 else "z")
        reg.learn_one(r, 2 * r["x"] - r["y"])
    out = {}
    for name, model in (("clf", clf), ("ht", ht), ("reg", reg)):
        path = tmp_path_factory.mktemp(name) / "m.onnx"
        estuary.export(model, path, sample=rows[:50])
        out[name] = estuary.load(path)
    return out, rows


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """`three_models`, and rows to predict one by one."""
    out, rows = three_models(tmp_path_factory, seed=3)
    probes = rows[:100] + [{}, {"x": 0.0}, {"c": "unseen"}, {"x": 2, "y": True}]
    return out, probes


def test_one_row_answers_equal_the_batch_path(models):
    loaded, rows = models
    for name, model in loaded.items():
        assert isinstance(model, OnnxModel) and model._shapes is not None, name
        labels = [model.predict_many([x])[0] for x in rows]
        assert [model.predict_one(x) for x in rows] == labels
        assert all(type(a) is type(b) for a, b in zip(map(model.predict_one, rows), labels))
        if model.is_classifier:  # ORT's kernels may round a 1-row batch apart from a 100-row
            for x in rows:
                p = model.predict_proba_many([x])[0]
                got = model.predict_proba_one(x)
                assert list(got) == list(model.classes)
                assert np.array_equal(np.array(list(got.values())), p)
                assert all(type(v) is float for v in got.values())


def test_one_row_refuses_as_the_batch_path(models):
    loaded, _ = models
    clf = loaded["clf"]
    with pytest.raises(InvalidInputError, match="NaN is not a value"):
        clf.predict_proba_one({"x": float("nan")})
    with pytest.raises(InvalidInputError, match="expected a number, got str"):
        clf.predict_one({"x": "1"})
    with pytest.raises(InvalidInputError, match="a row must be a dict"):
        clf.predict_one([1.0])
    assert clf.predict_proba_one({"x": 0.5}) == clf.predict_proba_one({"x": 0.5, "x2": "junk"})


def in_threads(work, offsets: list[int]) -> None:
    """Runs `work(offset)` in one thread per offset, at once, and waits for them all."""
    threads = [threading.Thread(target=work, args=(o,)) for o in offsets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_threads_each_get_their_own_binding(models):
    loaded, rows = models
    model = loaded["ht"]
    expected = [model.predict_proba_many([x])[0].tolist() for x in rows]
    failures = []

    def work(offset):
        for i in range(300):
            k = (i + offset) % len(rows)
            if list(model.predict_proba_one(rows[k]).values()) != expected[k]:
                failures.append(k)

    in_threads(work, [t * 17 for t in range(4)])
    assert failures == []


def test_an_out_of_range_label_is_an_artifact_error(models):
    loaded, rows = models
    model = loaded["clf"]
    bound = model._bound()
    model._check_label(len(model.classes) - 1)
    with pytest.raises(ArtifactError, match="label index outside"):
        model._check_label(len(model.classes))
    assert bound is not None and bound is model._bound()  # one binding per thread, reused


def test_a_replaced_backend_run_takes_the_batch_path(models):
    """A wrapper (or a test standing in for a broken runtime) that replaces `backend.run` is
    honoured: its outputs go through the batch path's contract checks."""
    loaded, rows = models
    model = loaded["clf"]
    expected = model.predict_proba_one(rows[0])
    model.backend.run = lambda X: {"probabilities": np.array([[0.5, 0.5]]),
                                   "label": np.array([2])}
    try:
        assert model._bound() is None
        with pytest.raises(ArtifactError, match=r"outside 0\.\.1"):
            model.predict_proba_one(rows[0])
    finally:
        del model.backend.run
    assert model.predict_proba_one(rows[0]) == expected
