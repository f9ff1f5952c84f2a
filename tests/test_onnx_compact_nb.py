"""The ONNX tree classifier stores naive-Bayes leaves' Gaussian terms as the K on-terms per leaf
(`trees._compact_gaussian`) instead of dense [leaf, column, class] tables: the same
probabilities as the dense graph, in a smaller artifact, in onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from river import datasets, tree
from test_export_verify_reuse import _nba_tree

import estuary
from estuary.converters import onnx as onnx_format
from estuary.converters.onnx import trees as onnx_trees
from estuary.converters.river_to_ir.reuse import ir_of
from estuary.parity.probes import probe_rows
from estuary.rows import RowEncoder


def _both(tmp_path, monkeypatch, model, rows):
    compact = estuary.export(model, tmp_path / "compact.onnx", sample=rows[:100])
    onnx_format._WRITTEN.clear()  # the bytes held for this IR would be written again
    monkeypatch.setattr(onnx_trees, "_compact_gaussian", lambda *a: None)
    dense = estuary.export(model, tmp_path / "dense.onnx", sample=rows[:100])
    onnx_format._WRITTEN.clear()
    monkeypatch.undo()
    return compact, dense


def _image_segments_tree():
    model = tree.HoeffdingTreeClassifier(grace_period=2, delta=0.9, tau=0.5)
    rows = []
    for x, y in datasets.ImageSegments():
        model.learn_one(x, y)
        rows.append(x)
    return model, rows


@pytest.mark.parametrize("case", ["agrawal-mixed-leaves", "image-segments"])
def test_compact_terms_give_the_dense_graph_probabilities(tmp_path, monkeypatch, case):
    """Mixed majority-class / naive-Bayes leaves (a leaf → table-row Gather in front; compact
    forced: most of its terms are on, so the emitter would keep it dense) and all-naive-Bayes."""
    model, rows = _nba_tree() if case.startswith("agrawal") else _image_segments_tree()
    if case.startswith("agrawal"):
        monkeypatch.setattr(onnx_trees, "_smaller", lambda *a: True)
    made = []
    real = onnx_trees._compact_gaussian
    monkeypatch.setattr(onnx_trees, "_compact_gaussian",
                        lambda *a: made.append(real(*a)) or made[-1])
    compact = estuary.export(model, tmp_path / "compact.onnx", sample=rows[:100])
    assert made and made[-1] is not None  # the compact graph was written
    monkeypatch.undo()
    onnx_format._WRITTEN.clear()
    monkeypatch.setattr(onnx_trees, "_compact_gaussian", lambda *a: None)
    dense = estuary.export(model, tmp_path / "dense.onnx", sample=rows[:100])
    onnx_format._WRITTEN.clear()
    monkeypatch.undo()
    if case == "image-segments":
        assert compact.size_bytes < dense.size_bytes
    a, b = estuary.load(compact.path), estuary.load(dense.path)
    probes = [p.row for p in probe_rows(ir_of(model), rows[:200])]
    X = RowEncoder(a.metadata.schema).encode_many(
        [r for r in probes if all(abs(v) < 1e300 for v in r.values()
                                  if isinstance(v, float))])
    pa, pb = a.run(X)["probabilities"], b.run(X)["probabilities"]
    np.testing.assert_allclose(pa, pb, rtol=1e-12, atol=1e-15)
    assert np.array_equal(a.run(X)["label"], b.run(X)["label"])
    assert estuary.verify(model, compact.path, rows[:200]).passed


def test_image_segments_tree_shrinks(tmp_path, monkeypatch):
    model, rows = _image_segments_tree()
    compact, dense = _both(tmp_path, monkeypatch, model, rows)
    assert compact.size_bytes < 0.4 * dense.size_bytes  # 2.5 of 126 terms on per leaf
