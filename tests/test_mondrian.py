"""AMF (River's aggregated Mondrian forests) as plain tree ensembles: every leaf holds River's
aggregate along its path; rows missing keys take River's `most_common_path`; in onnxruntime."""

from __future__ import annotations

import random

import numpy as np
import pytest
from river import datasets, forest

import estuary
from estuary.converters.river_to_ir import to_ir
from estuary.errors import EmptyModelError
from estuary.ir.trees import leaf_index


def _learned(model, dataset, n):
    rows = []
    for x, y in dataset.take(n):
        model.learn_one(x, y)
        rows.append(x)
    return model, rows


def _holey(rows, seed=0):
    """The rows with a random subset of their keys removed (an absent key in River)."""
    rng = random.Random(seed)
    return [{k: v for k, v in x.items() if rng.random() < 0.5} for x in rows]


@pytest.mark.parametrize("use_aggregation", [True, False])
def test_classifier_rows_with_absent_keys(use_aggregation, tmp_path):
    model, rows = _learned(forest.AMFClassifier(n_estimators=4, use_aggregation=use_aggregation,
                                                seed=7), datasets.Phishing(), 400)
    path = tmp_path / "amf.onnx"
    estuary.export(model, path, sample=rows[:20], format="onnx")
    loaded = estuary.load(path)
    queries = rows + _holey(rows) + [{}]
    got = loaded.predict_proba_many(queries)
    classes = list(loaded.metadata.classes)
    want = np.array([[model.predict_proba_one(x)[c] for c in classes] for x in queries])
    assert np.max(np.abs(got - want)) <= 1e-15
    assert loaded.predict_many(queries) == [model.predict_one(x) for x in queries]


def test_regressor_rows_with_absent_keys(tmp_path):
    model, rows = _learned(forest.AMFRegressor(n_estimators=3, max_nodes=80, seed=3),
                           datasets.TrumpApproval(), 300)
    path = tmp_path / "amf.onnx"
    estuary.export(model, path, sample=rows[:20], format="onnx")
    queries = rows + _holey(rows, 1) + [{}]
    got = np.asarray(estuary.load(path).predict_many(queries))
    want = np.array([model.predict_one(x) for x in queries])
    assert np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) <= 1e-15


def test_a_leaf_holds_river_s_aggregate_along_its_path():
    """The per-leaf constant is what River computes for any row reaching that leaf: the
    aggregation weights depend on the path only."""
    model, rows = _learned(forest.AMFClassifier(n_estimators=1, seed=5), datasets.Bananas(), 300)
    m = to_ir(model)
    Z = np.array([[x.get(c, np.nan) for c in m.schema.columns] for x in rows])
    tree = m.estimator.members[0].estimator  # the one tree, before the ensemble's normalising
    leaves = np.asarray(tree.class_probs)[leaf_index(tree.tree, Z)]
    want = np.array([[model.predict_proba_one(x)[c] for c in m.classes] for x in rows])
    assert np.array_equal(leaves, want)  # bit for bit


def test_an_unlearned_forest_is_refused():
    with pytest.raises(EmptyModelError):
        to_ir(forest.AMFClassifier())
    with pytest.raises(EmptyModelError):
        to_ir(forest.AMFRegressor())
