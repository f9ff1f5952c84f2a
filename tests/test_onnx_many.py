"""Tables of columns through onnxruntime on per-thread bound batches (`estuary.runtimes.onnx_many`):
the same answers as the unbound batch path, bit for bit, whatever the batch size, thread or
call order; results that later calls do not overwrite; refusals as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from test_onnx_one_row import in_threads, three_models  # the same three exported models

from estuary.errors import ArtifactError, InvalidInputError, OutOfRangeError
from estuary.runtimes.base import LoadedModel
from estuary.runtimes.onnx_many import MAX_VALUES, SIZES
from estuary.runtimes.onnx_one import OnnxModel


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """`test_onnx_one_row.three_models` (a classifier with a categorical feature, a tree
    classifier and a regressor), and a frame of rows to score (with missing values and an
    unseen category)."""
    out, rows = three_models(tmp_path_factory, seed=11)
    probes = rows[:300] + [{}, {"x": 0.0}, {"c": "unseen"}, {"y": 1.5, "c": "q"}]
    return out, pd.DataFrame(probes)


def _unbound(model, frame):
    """The batch path's answers (a fresh matrix, `run`, the contract checks)."""
    proba = LoadedModel.predict_proba_many(model, frame) if model.is_classifier else None
    return proba, LoadedModel.predict_many(model, frame)


@pytest.mark.parametrize("name", ["clf", "ht", "reg"])
def test_bound_batches_answer_as_the_batch_path(models, name):
    loaded, frame = models
    model = loaded[name]
    assert isinstance(model, OnnxModel)
    for n in (1, 7, 100, len(frame), 7, 100):  # new sizes, and sizes bound before
        part = frame.iloc[:n]
        proba, labels = _unbound(model, part)
        for table in (part, part.to_records(index=False), pa.Table.from_pandas(part)):
            got = model.predict_many(table)
            assert got == labels and [type(v) for v in got] == [type(v) for v in labels]
            if model.is_classifier:
                assert np.array_equal(model.predict_proba_many(table), proba)
        assert n in model._threads.many  # the bound path answered
    assert len(model._threads.many) <= SIZES


def test_a_result_is_not_overwritten_by_the_next_call(models):
    loaded, frame = models
    model = loaded["clf"]
    first, second = frame.iloc[:50], frame.iloc[50:100]
    expected = LoadedModel.predict_proba_many(model, first)
    got = model.predict_proba_many(first)
    model.predict_proba_many(second)  # same size: the same bound buffers
    assert np.array_equal(got, expected)
    assert not np.shares_memory(got, model._threads.many[50].outputs["probabilities"])


def test_a_batch_too_large_to_keep_bound_takes_the_batch_path(models):
    loaded, frame = models
    model = loaded["reg"]
    n = MAX_VALUES // model._row_width + 1
    big = frame.sample(n, replace=True, random_state=0)
    assert model._bound_many(n) is None
    assert model.predict_many(big) == LoadedModel.predict_many(model, big)
    assert n not in getattr(model._threads, "many", {})


def test_threads_each_score_in_their_own_buffers(models):
    loaded, frame = models
    model = loaded["ht"]
    parts = [frame.iloc[i * 40:(i + 1) * 40] for i in range(6)]
    expected = [LoadedModel.predict_proba_many(model, p) for p in parts]
    failures = []

    def work(offset):
        for i in range(60):
            k = (i + offset) % len(parts)
            if not np.array_equal(model.predict_proba_many(parts[k]), expected[k]):
                failures.append(k)

    in_threads(work, list(range(4)))
    assert failures == []


def test_refusals_are_the_batch_paths_and_leave_the_buffers_usable(models):
    loaded, frame = models
    model = loaded["clf"]
    part = frame.iloc[:20].copy()
    expected = LoadedModel.predict_proba_many(model, part)
    part.loc[3, "x"] = np.inf
    with pytest.raises(OutOfRangeError) as e:
        model.predict_proba_many(part)
    assert e.value.field == "x"
    part["x"] = part["x"].astype(object)
    part.loc[3, "x"] = "3"
    with pytest.raises(InvalidInputError, match="expected a number"):
        model.predict_proba_many(part)
    assert np.array_equal(model.predict_proba_many(frame.iloc[:20]), expected)
    assert not model._threads.many[20].busy


def test_a_call_made_while_encoding_does_not_share_the_buffers(models):
    """A category whose `str` scores another batch of the same size (the encoder calls it while
    the bound input is half written): that inner call must not write into the same buffers."""
    loaded, frame = models
    model = loaded["clf"]
    part, other = frame.iloc[:30], frame.iloc[30:60]
    expected = LoadedModel.predict_proba_many(model, part)
    inner = []

    class Category:
        def __init__(self, text):
            self.text = text

        def __str__(self):
            inner.append(model.predict_proba_many(other))
            return self.text

    objects = part.copy()
    objects["c"] = [Category(c) if isinstance(c, str) else c for c in part["c"]]
    assert np.array_equal(model.predict_proba_many(objects), expected)
    assert inner and all(np.array_equal(p, LoadedModel.predict_proba_many(model, other))
                         for p in inner)


def test_a_label_outside_the_classes_is_an_artifact_error(models):
    """The bound outputs get the batch path's label check (here the model is told it has one
    class fewer than its graph computes, after its buffers were bound)."""
    loaded, frame = models
    model = loaded["clf"]
    part = frame.iloc[:40]
    assert True in LoadedModel.predict_many(model, part)  # a label index of 1
    model.predict_proba_many(part)
    classes = model.classes
    model.classes = classes[:1]
    try:
        with pytest.raises(ArtifactError, match=r"label index outside 0\.\.0"):
            model.predict_proba_many(part)
    finally:
        model.classes = classes
    assert not model._threads.many[40].busy
