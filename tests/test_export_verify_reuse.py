"""Export + verify reuse: one onnxruntime session per artifact's bytes, and naive-Bayes tables in
a tree's ONNX only for the leaves that vote by naive Bayes (none for category terms no leaf has)."""

from __future__ import annotations

import onnx
from river import tree
from river.datasets import synth

import estuary
from estuary.converters.river_to_ir import to_ir


def _nba_tree():
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.9, tau=0.5,
                                         leaf_prediction="nba")
    rows = []
    for x, y in synth.Agrawal(seed=4, classification_function=2).take(3000):
        model.learn_one(x, y)
        rows.append(x)
    return model, rows


def test_a_session_is_made_once_per_artifact_bytes(tmp_path):
    model, rows = _nba_tree()
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows[:50])
    first, second = estuary.load(path), estuary.load(path)
    assert first.backend.session is second.backend.session
    model.learn_one(rows[0], 1)
    for x in rows[:200]:
        model.learn_one(x, 0)
    other = tmp_path / "other.onnx"
    estuary.export(model, other, sample=rows[:50])
    assert estuary.load(other).backend.session is not first.backend.session
    assert estuary.verify(model, other, rows[:50]).passed


def test_only_naive_bayes_leaves_carry_tables(tmp_path):
    model, rows = _nba_tree()
    est = to_ir(model).estimator
    n_nb, n_leaves = sum(est.naive_bayes), len(est.naive_bayes)
    assert 0 < n_nb < n_leaves  # a tree with both kinds of leaves
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows[:50])
    graph = onnx.load(path).graph
    # 3-D tables; the [1, 1, 1] scalars are constants shaped to their op's rank (onnx/broadcast.py)
    shapes = [tuple(t.dims) for t in graph.initializer if len(t.dims) == 3 and set(t.dims) != {1}]
    assert shapes and all(s[0] == n_nb for s in shapes)  # [naive-Bayes leaves, F, C]
    assert len(shapes) == 4  # gauss_on, mu, neg2var, log_sd: Agrawal's keys are all numeric
    report = estuary.verify(model, path, rows[:200])
    assert report.passed and report.max_abs_diff < 1e-12
