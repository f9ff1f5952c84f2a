"""TF.js export: the documented graph-model files, float32 parity in real @tensorflow/tfjs under
Node (probabilities within 1e-5 of River, labels 100 %), honest refusals, and the JS client
library's row encoding against estuary.rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import learned

import estuary
from estuary.converters.river_to_ir import to_ir
from estuary.converters.tfjs import MODEL_JSON, to_tfjs, write_tfjs
from estuary.errors import (
    ArtifactError,
    GoldenCheckError,
    InvalidInputError,
    OutOfRangeError,
    UnsupportedModelError,
)
from estuary.ir.artifact import METADATA_KEY, ArtifactMetadata
from estuary.parity import compare
from estuary.parity.probes import probe_rows
from estuary.rows import RowEncoder
from estuary.runtimes.node import js_dir, load_tfjs, request
from estuary.snapshot import take_snapshot

CLASSIFIERS = ["scaler|logreg", "logreg", "scaler|pa-clf", "scaler|perceptron", "scaler|softmax",
               "scaler|ovr-logreg", "scaler|ovr-pa", "gaussian_nb-phishing",
               "gaussian_nb-bananas", "gaussian_nb-image_segments",
               "scaler_gaussian_nb-phishing", "scaler_gaussian_nb-image_segments"]
REGRESSORS = ["scaler|linreg", "scaler|pa-reg", "discard|scaler|linreg",
              "union(scaler,onehot)|linreg", "union(scaler,onehot)|scaler|pa-reg"]
FLOAT32_MAX = float(np.finfo(np.float32).max)


def export_tfjs(case_id: str, tmp_path, n_sample: int = 50):
    model, rows = learned(case_id)
    snap = take_snapshot(model, rows[:n_sample])
    path = write_tfjs(snap, tmp_path / "model.tfjs")
    return model, rows, snap, path


def test_files_follow_the_graph_model_format(tmp_path):
    _, _, snap, path = export_tfjs("scaler|logreg", tmp_path)
    assert sorted(p.name for p in path.iterdir()) == ["group1-shard1of1.bin", MODEL_JSON]
    doc = json.loads((path / MODEL_JSON).read_text())
    assert doc["format"] == "graph-model"
    assert {"node", "versions"} <= set(doc["modelTopology"])
    ops = {n["op"] for n in doc["modelTopology"]["node"]}
    assert "Placeholder" in ops and "Const" in ops
    (group,) = doc["weightsManifest"]
    size = {"float32": 4, "int32": 4, "bool": 1}
    declared = sum(math.prod(w["shape"]) * size[w["dtype"]] for w in group["weights"])
    assert declared == (path / group["paths"][0]).stat().st_size
    text = doc["userDefinedMetadata"][METADATA_KEY]  # the metadata JSON string, byte for byte
    expected = ArtifactMetadata.from_snapshot(snap, precision="float32")
    assert text == expected.to_json() and ArtifactMetadata.from_json(text) == expected


def test_bytes_are_deterministic_and_a_mkstemp_file_is_replaced(tmp_path):
    model, rows = learned("scaler|softmax")
    snap = take_snapshot(model, rows[:10])
    assert to_tfjs(snap) == to_tfjs(take_snapshot(model, rows[:10]))
    target = tmp_path / "m.tfjs"
    target.write_bytes(b"")  # what tempfile.mkstemp leaves for the writer
    write_tfjs(snap, target)
    write_tfjs(snap, target)  # a previous .tfjs directory is replaced
    assert (target / MODEL_JSON).is_file()
    other = tmp_path / "photos.tfjs"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="not a TF.js model"):
        write_tfjs(snap, other)


@pytest.mark.parametrize("case_id", CLASSIFIERS)
def test_classifier_parity_within_1e_5(case_id, tmp_path):
    model, rows, _, path = export_tfjs(case_id, tmp_path)
    loaded = estuary.load(path)  # default runtime for .tfjs: tfjs-node; golden vectors re-run
    assert str(loaded.runtime).startswith("@tensorflow/tfjs (Node cpu) 4.")
    assert loaded.metadata.precision == "float32"
    report = compare(model, loaded, probe_rows(to_ir(model), rows))
    assert report.passed, report.to_text()
    assert report.label_agreement == 1.0
    assert report.max_abs_diff <= 1e-5, report.to_text()


@pytest.mark.parametrize("case_id", REGRESSORS)
def test_regressor_parity_and_overflow_is_inf(case_id, tmp_path):
    model, rows, _, path = export_tfjs(case_id, tmp_path)
    loaded = load_tfjs(path)
    loaded.check_golden()
    probes = [p.row for p in probe_rows(to_ir(model), rows)]
    probes = [r for r in probes if _river_accepts(model, r)]  # compose.Select needs every key
    # the range policy (rows.py): a row with a value float32 cannot hold (the ±1e300 probes) is
    # refused as a dict row; the input matrix still computes River's sign, ±inf
    beyond = [any(isinstance(v, float) and abs(v) > FLOAT32_MAX for v in r.values())
              for r in probes]
    assert any(beyond)
    with pytest.raises(OutOfRangeError, match="float32 range"):
        loaded.predict_one(next(r for r, b in zip(probes, beyond) if b))
    X = RowEncoder(loaded.metadata.schema, max_abs=math.inf).encode_many(probes)
    got = loaded.run(X)["value"]
    ref = np.array([model.predict_one(r) for r in probes])
    kept = [i for i, b in enumerate(beyond) if not b]  # dict rows within range: the same
    assert np.array_equal(np.array(loaded.predict_many([probes[i] for i in kept])), got[kept],
                          equal_nan=True)
    huge = np.abs(ref) > FLOAT32_MAX  # River's value has no float32: the artifact says ±inf
    assert huge.any() and np.array_equal(got[huge], np.sign(ref[huge]) * np.inf)
    scaled = np.abs(got[~huge] - ref[~huge]) / np.maximum(1.0, np.abs(ref[~huge]))
    assert scaled.max() <= 1e-6


def _river_accepts(model, row) -> bool:
    try:
        model.predict_one(row)
    except KeyError:
        return False
    return True


def test_sign_of_a_near_zero_decision_value_follows_river(tmp_path):
    # Perceptron on Bananas: at the zeros row z = 2.4e-9, float32 probabilities read [0.5, 0.5]
    model, rows, _, path = export_tfjs("scaler|perceptron", tmp_path)
    zeros = {k: 0.0 for k in rows[0]}
    assert load_tfjs(path).predict_one(zeros) == model.predict_one(zeros)


TREES = ["htc_mc_phishing", "htc_nba_phishing", "htc_nba_imagesegments", "scaler_htc_nba_bananas",
         "scaler_htr_model_trumpapproval", "htr_mean_chickweights_nominal_diet"]


@pytest.mark.parametrize("case_id", TREES)
def test_trees_route_exactly_on_thresholds_and_their_float64_neighbours(case_id, tmp_path):
    # the probes put every raw input on each split threshold and one float64 ulp either side:
    # float32 cannot tell those apart, the order keys can
    model, rows, snap, path = export_tfjs(case_id, tmp_path)
    loaded = load_tfjs(path)
    report = compare(model, loaded, probe_rows(to_ir(model), rows))
    assert report.passed, report.to_text()
    assert report.rows_by_tag.get("threshold", 0) >= 30
    if report.task == "classification":
        assert report.label_agreement == 1.0
    inputs = {n["name"]: n for n in json.loads((path / MODEL_JSON).read_text())[
        "modelTopology"]["node"] if n["op"] == "Placeholder"}
    width = 4 * len(snap.model.schema.columns) + 1
    assert inputs["keys"]["attr"]["shape"]["shape"]["dim"][1]["size"] == str(width)


def test_large_trees_gather_instead_of_multiplying_out(monkeypatch, tmp_path):
    # past a size, the split-combining and leaf-table MatMuls become gathers
    from estuary.converters.tfjs import tree_routing, trees

    monkeypatch.setattr(tree_routing, "MATMUL_SPLITS", 0)
    monkeypatch.setattr(tree_routing, "MATMUL_PICK", 0)
    monkeypatch.setattr(trees, "GATHER_LEAVES", 0)
    for case_id in ("htc_nba_imagesegments", "scaler_htr_model_trumpapproval"):
        (tmp_path / case_id).mkdir()
        model, rows, snap, path = export_tfjs(case_id, tmp_path / case_id)
        ops = [n["op"] for n in json.loads((path / MODEL_JSON).read_text())["modelTopology"]["node"]]
        assert ops.count("GatherV2") >= 2 and ops.count("Reshape") >= 1
        report = compare(model, load_tfjs(path), probe_rows(to_ir(model), rows))
        assert report.passed and report.rows_by_tag.get("threshold", 0) >= 30, report.to_text()


def test_a_threshold_float32_rounds_across_routes_as_river(tmp_path):
    # x = 0.1 and t = 0.1: float32(0.1) > 0.1, so a float32 tree would send x right; River, left
    from river import tree

    model = tree.HoeffdingTreeRegressor(grace_period=20, leaf_prediction="mean")
    rng = np.random.default_rng(3)
    for _ in range(2000):
        x = float(rng.uniform(0, 0.2))
        model.learn_one({"x": x}, 10.0 if x <= 0.1 else -10.0)
    snap = take_snapshot(model, [{"x": 0.05}])
    est = snap.model.estimator
    t = 0.1
    assert t in [est.tree.threshold[b] for b in est.tree.branches]  # River's TEBST rounds to 0.1
    loaded = load_tfjs(write_tfjs(snap, tmp_path / "t.tfjs"))
    below, above = math.nextafter(t, -math.inf), math.nextafter(t, math.inf)
    assert float(np.float32(t)) > t and model.predict_one({"x": t}) != model.predict_one({"x": above})
    for x in (below, t, above, float(np.float32(t))):
        assert loaded.predict_one({"x": x}) == pytest.approx(model.predict_one({"x": x}), rel=1e-6)


def test_order_keys_are_the_same_in_python_and_javascript(tmp_path):
    import subprocess

    from estuary.converters.tfjs import order_keys
    from estuary.runtimes.node import _node_binary

    rng = np.random.default_rng(5)
    values = np.concatenate([
        [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-300, -1e300, 1.0, -1.0, 0.1,
         float(np.finfo(np.float64).max), -float(np.finfo(np.float64).max)],
        rng.normal(0, 1e3, 50), rng.standard_cauchy(50) * 1e-200])
    X = values.reshape(-1, 2)
    script = tmp_path / "keys.mjs"
    script.write_text(
        f"import {{ orderKeys }} from {json.dumps((js_dir() / 'src' / 'estuary.js').as_uri())};\n"
        "const X = JSON.parse(process.argv[2]).map(Number);\n"
        "console.log(JSON.stringify(Array.from(orderKeys(Float64Array.from(X), X.length / 2, 2))));\n")
    as_json = json.dumps([repr(float(v)).replace("inf", "Infinity").replace("nan", "NaN")
                          for v in values])  # strings: Number() reads them exactly
    out = subprocess.run([_node_binary(), str(script), as_json], capture_output=True, text=True,
                         check=True).stdout
    js = np.array(json.loads(out), dtype=np.float32).reshape(X.shape[0], 4 * 2 + 1)
    assert np.array_equal(js, order_keys.encode(X))
    # the words order the numbers as float64 does (-0.0 and +0.0 alike)
    finite = np.sort(values[~np.isnan(values)])
    words = [tuple(w) for w in order_keys.words(order_keys.key64(finite))]
    assert all(a <= b for a, b in zip(words, words[1:]))
    assert all((a == b) == (x == y) for a, b, x, y in zip(words, words[1:], finite, finite[1:]))


def test_a_scaled_split_is_moved_onto_the_raw_input_exactly():
    # every raw x on a grid around each threshold: the key comparison agrees with the IR's routing
    from estuary.converters.tfjs import order_keys
    from estuary.converters.tfjs.tree_routing import tree_splits
    from estuary.ir.evaluate import gather, transform

    model, rows = learned("scaler_htc_nba_bananas")
    m = to_ir(model)
    est = m.estimator
    splits = tree_splits(m, est.columns, est.tree)
    assert splits.keyed.all()
    raw = m.schema.columns
    for b, node in enumerate(est.tree.branches):
        w = splits.words[b]  # back to the key: 22 + 21 + 21 bits
        key = (int(w[0]) << 42) | (int(w[1]) << 21) | int(w[2])
        T = order_keys.from_key64(np.array([key], dtype=np.uint64))[0]
        xs = [T]
        for _ in range(3):
            xs = [np.nextafter(xs[0], -np.inf), *xs, np.nextafter(xs[-1], np.inf)]
        X = np.full((len(xs), len(raw)), np.nan)
        X[:, splits.column[b]] = xs
        z = gather(transform(m.transform, (X, raw)), (est.columns[est.tree.feature[node]],))[:, 0]
        river_left = z <= est.tree.threshold[node]
        keys = order_keys.encode(X).astype(np.float64)
        F, r = len(raw), splits.column[b]
        mine = keys[:, [r, F + r, 2 * F + r]]
        key_left = np.array([tuple(k) <= tuple(w) for k in mine])
        assert np.array_equal(river_left, key_left), b
        assert river_left[:4].all() and not river_left[4:].any()


def test_non_monotone_splits_are_refused_and_nothing_is_written(tmp_path):
    import dataclasses

    # a scaler with a negative divisor reverses the order: no `x <= T` on the raw input
    model, rows = learned("scaler_htc_nba_bananas")
    snap = take_snapshot(model, rows[:5])
    scale = snap.model.transform.steps[0]
    flipped = dataclasses.replace(scale, divisor=tuple(-d for d in scale.divisor))
    bad = dataclasses.replace(snap, model=dataclasses.replace(
        snap.model, transform=dataclasses.replace(snap.model.transform, steps=(flipped,))))
    with pytest.raises(UnsupportedModelError, match="Select / Scale / OneHot.*ONNX"):
        write_tfjs(bad, tmp_path / "flipped.tfjs")
    assert not (tmp_path / "flipped.tfjs").exists()


@pytest.mark.parametrize("case_id", ["arf10_phishing", "arf_reg5_median", "arf_reg4_weighted_mean",
                                     "bagging3(htc)", "bagging3(scaler|logreg)",
                                     "bagging3-reg(scaler|linreg)"])
def test_ensembles_match_river_with_every_tree_routed_at_once(case_id, tmp_path):
    model, rows, snap, path = export_tfjs(case_id, tmp_path)
    report = compare(model, load_tfjs(path), probe_rows(to_ir(model), rows))
    assert report.passed, report.to_text()
    if report.task == "classification":
        assert report.label_agreement == 1.0
    ops = [n["op"] for n in json.loads((path / MODEL_JSON).read_text())["modelTopology"]["node"]]
    if "arf" in case_id or "htc" in case_id:  # one routing for every tree: one Relu
        assert ops.count("Relu") == 1 and report.rows_by_tag.get("threshold", 0) >= 30


def test_a_tampered_golden_vector_is_refused(tmp_path):
    _, _, snap, path = export_tfjs("logreg", tmp_path)
    doc = json.loads((path / MODEL_JSON).read_text())
    meta = json.loads(doc["userDefinedMetadata"][METADATA_KEY])
    meta["golden_outputs"][0] = [0.25, 0.75]
    doc["userDefinedMetadata"][METADATA_KEY] = json.dumps(meta)
    (path / MODEL_JSON).write_text(json.dumps(doc))
    with pytest.raises(GoldenCheckError):
        estuary.load(path)
    with pytest.raises(GoldenCheckError, match="do not reproduce"):  # the JS library refuses too
        request("load", kind="tfjs", path=str(path), check=True)


def test_js_row_encoding_matches_estuary_rows(tmp_path):
    model, rows, _, path = export_tfjs("union(scaler,onehot)|linreg", tmp_path)
    loaded = load_tfjs(path)
    probes = [p.row for p in probe_rows(to_ir(model), rows[:30])]
    bad = [{"time": "abc", "diet": 1}, {"time": 1.0, "diet": [1]}, {"time": True, "diet": 2},
           {"time": None, "diet": None}]
    bad += [{"time": 3.5e38, "diet": 1}]  # the range policy (±inf: test_js_checks, no JSON)
    encoded = loaded.backend.encode(probes + bad)
    encoder = loaded.encoder  # float32 artifact: the same range policy as the JS client
    refused = 0
    for row, js in zip(probes + bad, encoded):
        try:
            py = encoder.encode(row)
        except OutOfRangeError as e:  # ±inf, or beyond float32 (the ±1e300 probes): both refuse
            assert js["error"]["field"] == e.field, (row, js)
            assert js["error"]["message"] == str(e), (row, js)
            refused += 1
            continue
        except InvalidInputError:
            continue  # checked below
        assert "vector" in js, js
        vec = np.array([float(v) for v in js["vector"]])  # non-finite numbers come as "NaN"
        assert np.array_equal(vec, py, equal_nan=True), row
    assert refused >= 3
    assert encoded[len(probes)]["error"]["field"] == "time"
    assert "expected a number" in encoded[len(probes)]["error"]["message"]
    assert encoded[len(probes) + 1]["error"]["field"] == "diet"


def _synthetic(n_features: int, n_classes: int, n_rows: int = 600, seed: int = 7,
               spread: float = 3.0):
    """Rows {f0..fN} with a label that depends on them: data the catalogue has no width for
    (a small `spread` of the class centres: classes that overlap, probabilities far from 0/1)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, spread, (n_classes, n_features))
    labels = rng.integers(0, n_classes, n_rows)
    X = centres[labels] + rng.normal(0, 1 + np.arange(n_features) / 4, (n_rows, n_features))
    return [({f"f{j}": float(v) for j, v in enumerate(x)}, int(y)) for x, y in zip(X, labels)]


@pytest.mark.parametrize("n_features", [9, 23, 24, 30])  # one MatMul up to 23; Mul + Sum beyond
def test_linear_models_at_every_width(n_features, tmp_path):
    from river import linear_model, preprocessing

    data = _synthetic(n_features, 3)
    rows = [x for x, _ in data]
    for model in (preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                  preprocessing.StandardScaler() | linear_model.SoftmaxRegression()):
        for x, y in data:
            model.learn_one(x, y == 1 if "Logistic" in str(model) else y)
        path = write_tfjs(take_snapshot(model, rows[:20]), tmp_path / "m.tfjs")
        graph = json.loads((path / MODEL_JSON).read_text())["modelTopology"]
        ops = {n["op"] for n in graph["node"]}
        assert ("MatMul" in ops) == (n_features <= 23), ops
        loaded = load_tfjs(path)
        report = compare(model, loaded, probe_rows(to_ir(model), rows[:200]))
        assert report.passed and report.label_agreement == 1.0, report.to_text()
        assert report.max_abs_diff <= 1e-6, report.to_text()


@pytest.mark.parametrize("n_zero", [0, 30])  # the MatMul path, and Mul + Sum (32 columns)
def test_label_follows_the_float64_sign_of_z(n_zero, tmp_path):
    """z = a · (1 + 2^-40) - c is ±3 · 2^-40 on rows with a == c = ±3: float32 coefficients
    would make it 0 (label False both times); River says True, then False."""
    from river import linear_model

    model = linear_model.LogisticRegression()
    extra = {f"z{j}": 0.5 for j in range(n_zero)}
    model.learn_one({"a": 1.0, "c": 2.0, **extra}, True)
    model._weights.update({"a": 1.0 + 2.0 ** -40, "c": -1.0, **{k: 0.0 for k in extra}})
    model.intercept = 0.0
    rows = [{"a": v, "c": v, **extra} for v in (3.0, -3.0, 1e-3, -1e-3)]
    assert [model.predict_one(r) for r in rows] == [True, False, True, False]
    path = write_tfjs(take_snapshot(model, rows[:1]), tmp_path / "m.tfjs")
    loaded = load_tfjs(path)
    assert [loaded.predict_one(r) for r in rows] == [True, False, True, False]
    assert loaded.predict_one({}) is False  # every input missing: z is the intercept, 0


def test_every_input_missing_gives_the_intercepts_exactly(tmp_path):
    from river import linear_model, preprocessing

    for n_features in (23, 30):
        data = _synthetic(n_features, 4, seed=n_features)
        model = preprocessing.StandardScaler() | linear_model.SoftmaxRegression()
        for x, y in data:
            model.learn_one(x, y)
        path = write_tfjs(take_snapshot(model, [x for x, _ in data[:20]]), tmp_path / "s.tfjs")
        assert load_tfjs(path).predict_one({}) == model.predict_one({})


@pytest.mark.parametrize("n_classes, n_features, n_constant",
                         [(2, 9, 0), (4, 13, 0), (11, 5, 0), (3, 8, 40), (50, 4, 0)])
def test_gaussian_nb_at_every_shape(n_classes, n_features, n_constant, tmp_path):
    """Column chunks never straddle a MatMul block; constant columns (no density in any class)
    and 50 classes (two chunks per column) keep the precision."""
    from river import naive_bayes

    from estuary.converters.tfjs.naive_bayes import layout

    where = layout(n_features + n_constant, n_classes)
    terms = [t for t in where if t is not None]
    assert sorted((j, k) for j, ks, sign in terms if sign > 0 for k in ks) == \
        [(j, k) for j in range(n_features + n_constant) for k in range(n_classes)]
    for j, chunk, sign in terms:
        if sign < 0:  # a reference, with the class terms it is subtracted from: one block
            spots = [p for p, t in enumerate(where)
                     if t is not None and t[0] == j and set(t[1]) <= set(chunk)]
            assert len(spots) == len(chunk) + 1 and len({p // 48 for p in spots}) == 1
    data = _synthetic(n_features, n_classes, n_rows=max(600, 20 * n_classes), seed=n_classes,
                      spread=0.2 if n_constant else 3.0)
    data = [({**x, **{f"k{j}": 7.0 for j in range(n_constant)}}, y) for x, y in data]
    model = naive_bayes.GaussianNB()
    for x, y in data:
        model.learn_one(x, y)
    rows = [x for x, _ in data]
    rng = np.random.default_rng(0)  # constant in training, anything when predicting
    rows += [{**x, **{f"k{j}": float(rng.normal()) for j in range(n_constant)}} for x in rows[:100]]
    path = write_tfjs(take_snapshot(model, rows[:20]), tmp_path / "nb.tfjs")
    report = compare(model, load_tfjs(path), probe_rows(to_ir(model), rows[-200:]))
    assert report.passed and report.label_agreement == 1.0, report.to_text()
    assert report.max_abs_diff <= 1e-6, report.to_text()


def test_gaussian_nb_variance_float32_cannot_invert_is_refused(tmp_path):
    from river import naive_bayes

    model = naive_bayes.GaussianNB()
    for i in range(20):
        model.learn_one({"a": float(i % 5), "b": 1e-21 * (i % 3)}, i % 2)  # var(b) ~ 1e-42
    with pytest.raises(UnsupportedModelError, match=r"variance .* outside .*ONNX"):
        write_tfjs(take_snapshot(model, [{"a": 1.0, "b": 0.0}]), tmp_path / "tiny.tfjs")
    assert not (tmp_path / "tiny.tfjs").exists()


@pytest.mark.parametrize("case_id", ["bernoulli-nb", "scaler|bernoulli-nb"])
def test_bernoulli_nb_decides_x_above_threshold_on_the_float64_value(case_id, tmp_path):
    # each column's raw boundary (0, or the scaler's mean) and its float64 neighbours, and
    # ±1e-300: float32 cannot tell them from the boundary, the order keys can
    from estuary.converters.tfjs import order_keys
    from estuary.converters.tfjs.bernoulli import column_splits
    from estuary.parity.probes import Probe

    model, rows, snap, path = export_tfjs(case_id, tmp_path)
    splits = column_splits(snap.model, snap.model.estimator)
    raw = snap.model.schema.columns
    probes, flips = [], 0
    for j, (col, w) in enumerate(zip(splits.column, splits.words)):
        key = (int(w[0]) << 42) | (int(w[1]) << 21) | int(w[2])
        T = float(order_keys.from_key64(np.array([key], dtype=np.uint64))[0])
        at, above = ({**rows[j % len(rows)], raw[col]: v} for v in (T, math.nextafter(T, math.inf)))
        flips += model.predict_proba_one(at) != model.predict_proba_one(above)
        probes += [Probe(at, "threshold"), Probe(above, "threshold"),
                   Probe({**at, raw[col]: math.nextafter(T, -math.inf)}, "threshold"),
                   Probe({**at, raw[col]: 1e-300}, "extreme"),
                   Probe({**at, raw[col]: -1e-300}, "extreme")]
    assert flips >= len(splits.column) // 2  # River's answer changes across most boundaries
    report = compare(model, load_tfjs(path), probes)
    assert report.passed and report.label_agreement == 1.0, report.to_text()


@pytest.mark.parametrize("aggregation", ["median", "mean"])
def test_forest_of_linear_leaves_near_float32s_limit_is_not_nan(aggregation, tmp_path):
    # one member's product overflowing must not reach the others (inf · 0 = NaN in a MatMul),
    # and the median of two huge middle values must not overflow on the way
    import itertools

    from river import datasets, forest

    from estuary.parity.probes import Probe

    model = forest.ARFRegressor(n_models=6, seed=2, grace_period=20, leaf_prediction="model",
                                aggregation_method=aggregation)
    rows = []
    for x, y in itertools.islice(datasets.synth.Friedman(seed=1), 2000):
        model.learn_one(x, y)
        rows.append(x)
    path = write_tfjs(take_snapshot(model, rows[:20]), tmp_path / "arf.tfjs")
    probes = [Probe({**r, 0: v}, "extreme") for r in rows[:40:4] for v in (5.6e37, 8.5e37)]
    report = compare(model, load_tfjs(path), probes)
    assert report.passed, report.to_text()


def test_a_union_whose_first_branch_makes_the_column_unroutably_is_refused():
    # Union(Scale(x, divisor -1), Select x) → the tree reads the first branch's -x (River's
    # union: the first wins), not the raw x the second branch would give
    from estuary import ir
    from estuary.converters.tfjs.tree_routing import NotRoutable, tree_splits
    from estuary.ir.trees import TreeClassifier, TreeStructure

    schema = ir.FeatureSchema((ir.Feature("x", "x"),))
    first = ir.Chain((ir.Select(("x",)), ir.Scale(("x",), (0.0,), (-1.0,))))
    transform = ir.Chain((ir.Union((first, ir.Chain((ir.Select(("x",)),)))),))
    tree = TreeStructure(feature=(0, 0, 0), threshold=(0.5, 0, 0), left=(1, -1, -1),
                         right=(2, -1, -1), missing_left=(False,) * 3, leaf=(-1, 0, 1),
                         onehot=(False,) * 3)
    est = TreeClassifier(("x",), tree, ((1.0, 0.0), (0.0, 1.0)), (False, False))
    model = ir.Model(schema, transform, est, "classification", (0, 1))
    with pytest.raises(NotRoutable, match="Select / Scale / OneHot"):
        tree_splits(model, est.columns, tree)


def test_a_leaf_that_has_seen_no_class_gives_all_zeros_as_the_ir(tmp_path):
    import dataclasses
    import itertools

    from river import datasets, tree

    from estuary.ir.evaluate import evaluate, gather, transform
    from estuary.ir.trees import leaf_index

    model, rows = tree.HoeffdingTreeClassifier(grace_period=50), []
    for x, y in itertools.islice(datasets.Phishing(), 800):
        model.learn_one(x, y)
        rows.append(x)
    snap = take_snapshot(model, rows[:20])
    est = snap.model.estimator
    empty = next(i for i, nb in enumerate(est.naive_bayes) if not nb)  # a majority-class leaf
    assert any(est.naive_bayes)
    probs = list(est.class_probs)
    probs[empty] = (0.0,) * len(probs[empty])
    est = dataclasses.replace(est, class_probs=tuple(probs))
    m = dataclasses.replace(snap.model, estimator=est)
    path = write_tfjs(dataclasses.replace(snap, model=m, golden_inputs=(), golden_outputs=()),
                      tmp_path / "m.tfjs")
    X = np.array([[r.get(c, np.nan) for c in m.schema.columns] for r in rows], dtype=float)
    Z = gather(transform(m.transform, (X, m.schema.columns)), est.columns)
    X = X[leaf_index(est.tree, Z) == empty][:3]
    assert len(X) and (evaluate(m, X)["probabilities"] == 0).all()
    assert (load_tfjs(path).run(X)["probabilities"] == 0).all()


def test_a_young_forest_with_one_leaf_trees_is_batched_and_matches_river(tmp_path):
    # ARF after a few events: trees of one leaf next to trees that split, padded to one shape
    import itertools

    from river import datasets, forest

    model, rows = forest.ARFClassifier(n_models=5, seed=1, grace_period=20), []
    for x, y in itertools.islice(datasets.Phishing(), 60):
        model.learn_one(x, y)
        rows.append(x)
    snap = take_snapshot(model, rows[:20])
    leaves = [m.estimator.tree.n_leaves for m in snap.model.estimator.members]
    assert min(leaves) == 1 and max(leaves) > 1, leaves
    path = write_tfjs(snap, tmp_path / "arf.tfjs")
    ops = [n["op"] for n in json.loads((path / MODEL_JSON).read_text())["modelTopology"]["node"]]
    assert "BatchMatMulV2" in ops
    report = compare(model, load_tfjs(path), probe_rows(to_ir(model), rows))
    assert report.passed and report.label_agreement == 1.0, report.to_text()
