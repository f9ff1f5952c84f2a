"""Hoeffding trees: River → IR → ONNX (onnxruntime, float64) against River itself.

Probe rows: the training stream, plus for every branch a row that reaches it with the split
feature exactly on the threshold and one ulp either side, with the feature removed, with an
unseen category, and with very large / small values.
"""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import onnxruntime
import pytest
from river import datasets, preprocessing, tree
from river.tree.nodes.branch import (
    DTBranch,
    NominalBinaryBranch,
    NominalMultiwayBranch,
    NumericBinaryBranch,
)

from estuary import ir
from estuary.converters.onnx import to_onnx
from estuary.converters.river_to_ir import to_ir
from estuary.errors import EmptyModelError, UnsupportedModelError
from estuary.rows import RowEncoder

try:
    from catalog_trees import CASES  # tests/ is on sys.path (conftest)
except ImportError:  # tests/ imported as a package
    from tests.catalog_trees import CASES

TOL = 1e-9


def nominal_stream(n: int = 1500, seed: int = 7):
    """Strings and numbers mixed; the label depends on both."""
    rng = random.Random(seed)
    for _ in range(n):
        x = {"color": rng.choice(["red", "green", "blue", "grey", "pink"]),
             "shape": rng.choice(["round", "square", "flat"]),
             "size": rng.gauss(0, 1), "weight": rng.uniform(-3, 3)}
        score = {"red": 1.0, "green": -1.0, "blue": 0.5}.get(x["color"], 0.0) + x["size"]
        if x["shape"] == "flat":
            score -= 1.5
        label = "a" if score > 0.5 else ("b" if score > -0.5 else "c")
        if rng.random() < 0.1:
            label = rng.choice("abc")
        yield x, label


def nominal_regression_stream(n: int = 1500, seed: int = 3):
    for x, label in nominal_stream(n, seed):
        yield x, {"a": 3.0, "b": 1.0, "c": -2.0}[label] + 0.5 * x["weight"]


def learn(model, stream, n: int | None = None) -> list[dict]:
    rows = []
    for x, y in itertools.islice(stream, n):
        model.learn_one(x, y)
        rows.append(x)
    return rows


def _tree_of(model):
    return model[-1] if hasattr(model, "steps") else model


def probe_rows(model, rows: list[dict]) -> list[dict]:
    """Rows aimed at every branch of the (unscaled) tree, plus generic adversarial rows."""
    t = _tree_of(model)
    out = list(rows)
    keys = sorted({k for r in rows for k in r}, key=str)
    for r in rows[:20]:
        for k in keys:
            out.append({j: v for j, v in r.items() if j != k})
            if isinstance(r.get(k), str):
                out.append({**r, k: "never-seen"})
            else:
                out.extend({**r, k: v} for v in (0.0, 1e100, -1e100, 1e-300, -1e-300))
    out.append({})
    if t is not model or not isinstance(t._root, DTBranch):
        return out
    reached: dict[int, tuple] = {}
    for r in rows:
        for node in t._root.walk(r):
            if isinstance(node, DTBranch) and id(node) not in reached:
                reached[id(node)] = (node, r)
    for node, r in reached.values():
        out.append({k: v for k, v in r.items() if k != node.feature})
        if isinstance(node, NumericBinaryBranch):
            thr = float(node.threshold)
            for v in (np.nextafter(thr, -np.inf), thr, np.nextafter(thr, np.inf)):
                out.append({**r, node.feature: float(v)})
        elif isinstance(node, NominalBinaryBranch):
            out.append({**r, node.feature: node.value})
            out.append({**r, node.feature: "never-seen"})
        elif isinstance(node, NominalMultiwayBranch):
            out.extend({**r, node.feature: v} for v in node._mapping)
            out.append({**r, node.feature: "never-seen"})
    return out


def export(model) -> tuple[ir.Model, onnxruntime.InferenceSession]:
    M = to_ir(model)
    snap = ir.Snapshot(M, ir.Provenance("0.26.1", "0.1.0"))
    return M, onnxruntime.InferenceSession(to_onnx(snap).SerializeToString())


def reference(model, M: ir.Model, rows: list[dict]):
    """River's outputs; rows on which River itself raises (e.g. OverflowError) are dropped."""
    kept, ref, labels = [], [], []
    for r in rows:
        try:
            if M.task == "classification":
                p = model.predict_proba_one(r)
                ref.append([p.get(c, 0.0) for c in M.classes])
                labels.append(M.classes.index(model.predict_one(r)))
            else:
                ref.append(model.predict_one(r))
        except (OverflowError, ValueError):
            continue
        kept.append(r)
    return kept, np.asarray(ref, dtype=np.float64), np.asarray(labels)


def check_parity(model, rows: list[dict]) -> dict:
    M, sess = export(model)
    kept, ref, labels = reference(model, M, probe_rows(model, rows))
    assert len(kept) >= 0.95 * len(probe_rows(model, rows))
    X = RowEncoder(M.schema).encode_many(kept)
    outs = sess.run(None, {"input": X})
    ev = ir.evaluate(M, X)
    if M.task == "classification":
        label, proba = outs
        assert (label == labels).all(), f"{(label != labels).sum()} labels differ"
        assert np.abs(proba - ref).max() <= TOL
        assert np.abs(ev["probabilities"] - ref).max() <= TOL
        assert (ev["label"] == labels).all()
        return {"rows": len(kept), "max_abs": float(np.abs(proba - ref).max())}
    (value,) = outs
    scale = np.maximum(1.0, np.abs(ref))  # River's unscaled linear leaves reach 1e21
    assert (np.abs(value - ref) / scale).max() <= TOL
    assert (np.abs(ev["value"] - ref) / scale).max() <= TOL
    return {"rows": len(kept), "max_abs": float(np.abs(value - ref).max())}


@pytest.mark.parametrize("case_id,dataset,factory", CASES, ids=[c[0] for c in CASES])
def test_catalog_case(case_id, dataset, factory):
    model = factory()
    rows = learn(model, getattr(datasets, dataset)())
    assert _tree_of(model).n_nodes > 1
    check_parity(model, rows)


@pytest.mark.parametrize("leaf_prediction", ["mc", "nb", "nba"])
@pytest.mark.parametrize("binary_split", [False, True])
def test_nominal_classifier(leaf_prediction, binary_split):
    model = tree.HoeffdingTreeClassifier(grace_period=30, delta=0.5, tau=0.5,
                                         leaf_prediction=leaf_prediction, binary_split=binary_split)
    rows = learn(model, nominal_stream())
    kinds = {type(n) for n in model._root.iter_dfs()}
    assert (NominalBinaryBranch if binary_split else NominalMultiwayBranch) in kinds
    check_parity(model, rows)


def test_unscaled_model_leaves_match_relatively():
    """Without scaling River's linear leaves reach ~1e21; the dot product's summation order
    (River's Rust VectorDict vs. ReduceSum) then shows at 1e-16 relative."""
    model = tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5, leaf_prediction="model")
    rows = learn(model, datasets.TrumpApproval())
    check_parity(model, rows)


@pytest.mark.parametrize("binary_split", [False, True])
def test_nominal_regressor(binary_split):
    # mean leaves only: River's linear leaf models cannot learn from string values
    model = tree.HoeffdingTreeRegressor(grace_period=30, delta=0.5, tau=0.5,
                                        leaf_prediction="mean", binary_split=binary_split)
    rows = learn(model, nominal_regression_stream())
    kinds = {type(n) for n in model._root.iter_dfs()}
    assert NominalBinaryBranch in kinds or NominalMultiwayBranch in kinds
    check_parity(model, rows)


def test_big_tree_has_more_than_100_nodes():
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.5, tau=0.5, leaf_prediction="nba")
    rows = learn(model, datasets.Bananas())
    assert model.n_nodes > 100
    M, _ = export(model)
    assert M.estimator.tree.n_leaves == model.n_leaves
    check_parity(model, rows)


@pytest.mark.parametrize("leaf_prediction", ["mc", "nb", "nba"])
def test_single_leaf_classifier(leaf_prediction):
    model = tree.HoeffdingTreeClassifier(grace_period=10_000, leaf_prediction=leaf_prediction)
    rows = learn(model, datasets.Phishing(), 300)
    assert model.n_nodes == 1
    check_parity(model, rows)


@pytest.mark.parametrize("leaf_prediction", ["mean", "model", "adaptive"])
def test_single_leaf_regressor(leaf_prediction):
    model = preprocessing.StandardScaler() | tree.HoeffdingTreeRegressor(
        grace_period=10_000, leaf_prediction=leaf_prediction)
    rows = learn(model, datasets.TrumpApproval(), 300)
    check_parity(model, rows)


def test_missing_routes_to_most_common_child():
    model = tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5, leaf_prediction="mc")
    learn(model, datasets.Phishing())
    M, sess = export(model)
    X = RowEncoder(M.schema).encode_many([{}])
    _, proba = sess.run(None, {"input": X})
    expected = model.predict_proba_one({})
    assert np.allclose(proba[0], [expected[c] for c in M.classes], rtol=0, atol=0)


def test_thresholds_and_json_round_trip():
    model = tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5, leaf_prediction="nb")
    learn(model, datasets.ImageSegments())
    M = to_ir(model)
    found = M.estimator.thresholds()
    expected: dict[str, set] = {}
    for node in model._root.iter_dfs():
        if isinstance(node, NumericBinaryBranch):
            expected.setdefault(node.feature, set()).add(float(node.threshold))
    assert {k: set(v) for k, v in found.items()} == expected
    assert all(math.isfinite(t) for v in found.values() for t in v)
    assert ir.from_json(ir.to_json(M)) == M


def test_nominal_thresholds_are_not_numeric():
    model = tree.HoeffdingTreeClassifier(grace_period=30, delta=0.5, tau=0.5, binary_split=True)
    learn(model, nominal_stream())
    found = to_ir(model).estimator.thresholds()
    assert not any("=" in c for c in found)


def test_empty_tree_is_refused():
    with pytest.raises(EmptyModelError):
        to_ir(tree.HoeffdingTreeClassifier())
    with pytest.raises(EmptyModelError):
        to_ir(tree.HoeffdingTreeRegressor())


def test_numeric_multiway_branch_is_refused():
    model = tree.HoeffdingTreeRegressor(
        grace_period=20, delta=0.5, tau=0.5, binary_split=False,
        splitter=tree.splitter.QOSplitter(allow_multiway_splits=True))
    learn(model, datasets.TrumpApproval())
    with pytest.raises(UnsupportedModelError, match="NumericMultiwayBranch"):
        to_ir(model)


def test_one_class_is_refused():
    model = tree.HoeffdingTreeClassifier()
    model.learn_one({"x": 1.0}, "only")
    with pytest.raises(EmptyModelError, match="only the class"):  # as GaussianNB (issue 18)
        to_ir(model)


def test_histogram_splitter_naive_bayes_is_refused():
    model = tree.HoeffdingTreeClassifier(leaf_prediction="nb",
                                         splitter=tree.splitter.HistogramSplitter())
    learn(model, datasets.Phishing(), 150)  # before the first split: the root has splitters
    with pytest.raises(UnsupportedModelError, match="HistogramSplitter"):
        to_ir(model)


def test_deactivated_leaves_fall_back_to_majority_class():
    """Memory management deactivates leaves (splitters dropped): River's nb leaves then use mc."""
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.5, tau=0.5, leaf_prediction="nba",
                                         max_size=0.2, memory_estimate_period=200)
    rows = learn(model, datasets.Bananas())
    assert model.n_inactive_leaves > 0 and model.n_active_leaves > 0
    check_parity(model, rows)


def test_memoised_most_common_child_is_rivers():
    """The extractor memoises subtree weights; it must pick River's own most common child."""
    from river import datasets

    from estuary.converters.river_to_ir.tree import _Flattener

    model = tree.HoeffdingTreeClassifier(grace_period=2, delta=0.9, tau=0.5)
    for x, y in datasets.ImageSegments():
        model.learn_one(x, y)
    flat = _Flattener(model, ())
    branches = [n for n in model._root.iter_dfs() if hasattr(n, "most_common_path")]
    assert len(branches) > 100
    assert [flat.most_common_child(b) for b in branches] == [
        b.most_common_path()[0] for b in branches]


def test_threshold_probes_reach_their_split():
    """Each split gets three probes built from a sample row whose path goes through that split."""
    from river import datasets

    from estuary.converters.river_to_ir import to_ir
    from estuary.ir.trees import first_visitors
    from estuary.parity.probes import probe_rows
    from estuary.rows import RowEncoder

    model = tree.HoeffdingTreeClassifier(grace_period=5, delta=0.5)
    rows = [x for x, _ in datasets.Phishing()]
    for x, y in datasets.Phishing():
        model.learn_one(x, y)
    model_ir = to_ir(model)
    structure = model_ir.estimator.tree
    Z = RowEncoder(model_ir.schema).encode_many(rows)
    first = first_visitors(structure, Z)
    for node, r in enumerate(first):
        if r < 0:
            continue
        path, i = [0], 0
        while structure.leaf[i] < 0:  # walk row r down the tree by hand
            x = Z[r, structure.feature[i]]
            left = structure.missing_left[i] if math.isnan(x) else x <= structure.threshold[i]
            i = structure.left[i] if left else structure.right[i]
            path.append(i)
        assert node in path
    numeric_splits = [i for i in structure.branches if not structure.onehot[i]]
    assert len(numeric_splits) > 10
    thresholds = [p for p in probe_rows(model_ir, rows) if p.tag == "threshold"]
    assert len(thresholds) == 3 * len(numeric_splits)
