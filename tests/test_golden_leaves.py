"""Golden rows per tree leaf (issue 18): the golden vectors hold a row inside every leaf's region
(built from the split thresholds on its path, checked with the IR evaluator), so an edited leaf
value or threshold anywhere in an exported tree fails the check on load, where the 8 sample
rows reached only a few leaves."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from river import datasets, preprocessing, tree

import estuary
from estuary import integrity
from estuary.errors import GoldenCheckError
from estuary.ir.evaluate import gather
from estuary.ir.evaluate import transform as ir_transform
from estuary.ir.trees import leaf_index
from estuary.snapshot import N_GOLDEN, take_snapshot


def learned(model, dataset=datasets.Bananas):
    rows = []
    for x, y in dataset():
        model.learn_one(x, y)
        rows.append(x)
    return model, rows


@pytest.fixture(scope="module")
def deep_tree():
    return learned(tree.HoeffdingTreeClassifier(grace_period=20, delta=0.1,
                                                leaf_prediction="mc"))


def reached_leaves(snap, rows_in) -> set[int]:
    model = snap.model
    X = np.array([[np.nan if v is None else v for v in r] for r in rows_in], dtype=np.float64)
    Z = gather(ir_transform(model.transform, (X, model.schema.columns)), model.estimator.columns)
    return set(leaf_index(model.estimator.tree, Z).tolist())


@pytest.mark.parametrize("build", [
    lambda: tree.HoeffdingTreeClassifier(grace_period=20, delta=0.1, leaf_prediction="mc"),
    lambda: preprocessing.StandardScaler() | tree.HoeffdingTreeClassifier(
        grace_period=20, delta=0.1, leaf_prediction="nba"),
], ids=["ht", "scaler|ht-nba"])
def test_golden_rows_reach_every_leaf(build):
    model, rows = learned(build())
    snap = take_snapshot(model, rows[:20])
    n_leaves = snap.model.estimator.tree.n_leaves
    assert n_leaves >= 10
    assert reached_leaves(snap, snap.golden_inputs) == set(range(n_leaves))
    assert len(snap.golden_inputs) == N_GOLDEN + n_leaves
    # the 8 rows golden vectors had before reach only a few of them
    assert len(reached_leaves(snap, snap.golden_inputs[:N_GOLDEN])) < n_leaves // 2


def test_regressor_leaves_are_covered_too():
    model, rows = learned(tree.HoeffdingTreeRegressor(grace_period=20, delta=0.1,
                                                      leaf_prediction="mean"),
                          datasets.TrumpApproval)
    snap = take_snapshot(model, rows[:20])
    n_leaves = snap.model.estimator.tree.n_leaves
    assert n_leaves >= 3
    assert reached_leaves(snap, snap.golden_inputs) == set(range(n_leaves))


@pytest.mark.parametrize("fmt", ["pmml", "mlmodel", "tfjs"])
def test_every_format_reproduces_the_leaf_rows(deep_tree, fmt, tmp_path):
    model, rows = deep_tree  # the float32 formats too: leaf rows keep clear of thresholds
    loaded = estuary.export(model, tmp_path / f"m.{fmt}", sample=rows[:20]).path
    assert len(estuary.load(loaded).metadata.golden_inputs) > 30


def _edit_leaf(path, leaf: int, probs: np.ndarray) -> None:
    """Reverse the class probabilities of `leaf` in the ONNX leaf table, then stamp a fresh
    SHA-256 (what an attacker outside a store does): only the golden check can notice."""
    m = onnx.load(str(path))
    hits = 0
    for init in m.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.shape == probs.shape and np.array_equal(arr, probs):
            arr = arr.copy()
            arr[leaf] = arr[leaf][::-1]
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
            hits += 1
    assert hits == 1
    path.write_bytes(m.SerializeToString())
    path.write_bytes(re.sub(rb"sha256:[0-9a-f]{64}", integrity.PLACEHOLDER.encode(),
                            path.read_bytes(), count=1))
    assert integrity.stamp(path)


def test_an_edited_leaf_the_old_rows_never_reached_is_refused(deep_tree, tmp_path):
    model, rows = deep_tree
    snap = take_snapshot(model, rows[:20])
    est = snap.model.estimator
    probs = np.asarray(est.class_probs, dtype=np.float64)
    old = reached_leaves(snap, snap.golden_inputs[:N_GOLDEN])
    # a leaf no old row reached, whose vote the edit flips (its top class changes)
    target = next(leaf for leaf in range(est.tree.n_leaves)
                  if leaf not in old and abs(probs[leaf][0] - probs[leaf][1]) > 0.2)

    full = estuary.write_snapshot(snap, tmp_path / "full.onnx").path
    _edit_leaf(full, target, probs)
    with pytest.raises(GoldenCheckError, match="do not reproduce"):
        estuary.load(full)

    # the same edit on an artifact holding only the 8 rows of before loads silently
    eight = dataclasses.replace(snap, golden_inputs=snap.golden_inputs[:N_GOLDEN],
                                golden_outputs=snap.golden_outputs[:N_GOLDEN],
                                golden_labels=snap.golden_labels[:N_GOLDEN])
    before = estuary.write_snapshot(eight, tmp_path / "eight.onnx").path
    _edit_leaf(before, target, probs)
    loaded = estuary.load(before)
    assert loaded.metadata.golden_inputs == snap.golden_inputs[:N_GOLDEN]
