"""Project (River's random projectors and FeatureHasher): keys that share a bucket in every
float64 runtime, Core ML's refusal there, and the refusal of a row that is not closed."""

from __future__ import annotations

import pytest
from river import compose, datasets, linear_model, preprocessing, tree

import estuary
from estuary.converters.river_to_ir import to_ir
from estuary.errors import UnsupportedModelError
from estuary.ir.projection import Project

TRUMP = ("gallup", "ipsos", "morning_consult", "ordinal_date", "rasmussen", "you_gov")


def learned(model, dataset="TrumpApproval", n=300):
    rows = []
    for x, y in getattr(datasets, dataset)().take(n):
        model.learn_one(dict(x), y)
        rows.append(dict(x))
    return model, rows


def colliding():
    """Eight buckets for six keys: some share one (their signed values add up)."""
    return learned(compose.Select(*TRUMP) | preprocessing.StandardScaler()
                   | preprocessing.FeatureHasher(n_features=8, seed=1)
                   | tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5))


def test_the_colliding_case_collides():
    model, _ = colliding()
    step = next(s for s in to_ir(model).transform.steps if isinstance(s, Project))
    assert len(step.targets) < len(step.sources)


@pytest.mark.parametrize("fmt", ["onnx", "pmml"])
def test_shared_buckets_sum_as_river_does(fmt, tmp_path):
    model, rows = colliding()
    path = tmp_path / f"model.{fmt}"
    estuary.export(model, path, sample=rows[:50], format=fmt)
    report = estuary.verify(model, path, rows)
    assert report.passed, report.to_text()


def test_core_ml_refuses_shared_buckets(tmp_path):
    model, rows = colliding()
    with pytest.raises(UnsupportedModelError, match="share a FeatureHasher bucket"):
        estuary.export(model, tmp_path / "model.mlmodel", sample=rows[:20], format="coreml")


@pytest.mark.parametrize("projector", [
    lambda: preprocessing.GaussianRandomProjector(n_components=3, seed=1),
    lambda: preprocessing.SparseRandomProjector(n_components=3, seed=1),
    lambda: preprocessing.FeatureHasher(n_features=64, seed=1),
])
def test_an_open_row_is_refused(projector):
    model, _ = learned(projector() | linear_model.LinearRegression(), n=50)
    with pytest.raises(UnsupportedModelError, match=r"compose\.Select"):
        to_ir(model)


def test_text_a_select_passes_on_is_no_row_river_answers(tmp_path):
    """A SparseRandomProjector multiplies each value by its weights: River refuses text (a
    TypeError), so no text row is compared and the rows River answers agree."""
    import random

    rng = random.Random(0)
    text = [{"a": rng.random(), "c": rng.choice(["x", "y", "z"])} for _ in range(200)]
    model = (compose.Select("a", "c")
             | preprocessing.SparseRandomProjector(n_components=3, density=0.5, seed=1)
             | linear_model.LogisticRegression())
    with pytest.raises(TypeError, match="can't multiply sequence by non-int of type 'float'"):
        model.learn_one(text[0], True)
    for i, x in enumerate(text):
        model.learn_one({"a": x["a"], "c": float(i % 3)}, x["a"] > 0.5)
    path = tmp_path / "model.onnx"
    estuary.export(model, path, sample=text)
    report = estuary.verify(model, path, text)
    assert "sample" not in report.rows_by_tag
    assert "TypeError: can't multiply sequence by non-int of type 'float'" in (
        report.skipped_examples)
    assert report.passed, report.to_text()
