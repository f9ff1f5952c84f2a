"""Recommenders (River's Baseline, BiasedMF, FunkMF) exported as `reco` artifacts: every known
user-item pair, unknown users and items as River treats them, River's ranking, the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import learned
from river import optim, reco

import estuary
from estuary import streams
from estuary.converters.river_to_ir import to_ir
from estuary.errors import InvalidInputError, UnsupportedModelError, WrongTaskError


def _export(model, rows, tmp_path, fmt="onnx"):
    suffix = estuary.converters.registry.FORMATS[fmt].suffix
    path = tmp_path / f"model{suffix}"
    estuary.export(model, path, sample=rows[:20], format=fmt)
    return path, estuary.load(path)


def _pairs(model_ir):
    users = model_ir.schema.feature("user").categories
    items = model_ir.schema.feature("item").categories
    return [(u, i) for u in users for i in items]


@pytest.mark.parametrize("case_id", ["reco-baseline", "reco-biased-mf", "reco-funk-mf"])
@pytest.mark.parametrize("fmt", ["onnx", "pmml"])
def test_every_known_pair_scores_as_river(case_id, fmt, tmp_path):
    model, rows = learned(case_id)
    _, loaded = _export(model, rows, tmp_path, fmt)
    pairs = _pairs(to_ir(model))
    assert len(pairs) == 40 * 25
    got = loaded.predict_many([{"user": u, "item": i} for u, i in pairs])
    want = [model.predict_one(u, i) for u, i in pairs]
    assert max(abs(a - b) for a, b in zip(got, want)) <= 1e-12
    assert loaded.predict_one("u3", "i7") == pytest.approx(model.predict_one("u3", "i7"),
                                                           abs=1e-12)


def test_rank_is_rivers(tmp_path):
    model, rows = learned("reco-biased-mf")
    _, loaded = _export(model, rows, tmp_path)
    items = [f"i{k}" for k in range(25)]
    for user in ("u0", "u17", "u39"):
        assert loaded.rank(user, items) == model.rank(user, set(items))


def test_unknown_users_with_a_constant_initialiser_are_exact_and_river_is_not_changed(tmp_path):
    """Zeros biases and Constant(0.1) latent vectors: River's score for a user or item it has
    not met is known in advance; the reference scores it on a copy (River stores the entry)."""
    model, rows = learned("reco-biased-mf(zeros)")
    path, loaded = _export(model, rows, tmp_path)
    before = (len(model.u_latents), len(model.i_latents), len(model.u_biases))
    report = estuary.verify(model, path, rows[:100])
    assert report.passed and report.rows_by_tag["unseen"] == 9
    assert (len(model.u_latents), len(model.i_latents), len(model.u_biases)) == before
    for user, item in (("new user", "i3"), ("u3", "new item"), ("new user", "new item")):
        want = reco_copy(model).predict_one(user, item)
        assert loaded.predict_one(user, item) == pytest.approx(want, abs=1e-12)


def reco_copy(model):
    import copy

    return copy.deepcopy(model)


def test_unknown_users_with_random_latents_are_skipped_with_the_reason(tmp_path):
    """River's default Normal latent initialiser: a user it has not met gets a random vector.
    The artifact uses the draw's mean (zeros): global mean + the item's bias; the report says
    why River's own answer is not compared."""
    model, rows = learned("reco-biased-mf")
    path, loaded = _export(model, rows, tmp_path)
    report = estuary.verify(model, path, rows[:100])
    assert report.passed and report.n_skipped > 0
    assert any("draws a random vector" in e for e in report.skipped_examples)
    want = model.global_mean.get() + 0.0 + model.i_biases["i3"]
    assert loaded.predict_one("new user", "i3") == pytest.approx(want, abs=1e-12)
    assert "new user" not in model.u_latents


def test_baseline_exports_to_core_ml_and_tfjs(tmp_path):
    model, rows = learned("reco-baseline")
    for fmt, tol in (("coreml", 1e-12), ("tfjs", 1e-5)):
        _, loaded = _export(model, rows, tmp_path, fmt)
        pairs = _pairs(to_ir(model))[:200]
        got = np.array(loaded.predict_many([{"user": u, "item": i} for u, i in pairs]))
        want = np.array([model.predict_one(u, i) for u, i in pairs])
        assert (np.abs(got - want) <= tol * np.maximum(1.0, np.abs(want))).all(), fmt


def test_refusals():
    model = reco.RandomNormal(seed=1)
    for x, y in list(streams.Ratings())[:50]:
        model.learn_one(x["user"], x["item"], y)
    with pytest.raises(UnsupportedModelError, match="random.gauss"):
        to_ir(model)
    mf = reco.BiasedMF(weight_initializer=optim.initializers.Normal(seed=1), seed=1)
    for x, y in list(streams.Ratings())[:50]:
        mf.learn_one(x["user"], x["item"], y)
    with pytest.raises(UnsupportedModelError, match="bias initialiser is random"):
        to_ir(mf)


@pytest.mark.parametrize("case_id", ["reco-biased-mf", "reco-biased-mf(zeros)", "reco-funk-mf"])
def test_core_ml_matrix_factorization_in_double(case_id, tmp_path):
    """Lookups, products by gating and sums in float64 classic stages: River's predict_one within
    1e-12 on every known pair, an unknown user and an unknown item (their default vectors)."""
    model, rows = learned(case_id)
    _, loaded = _export(model, rows, tmp_path, "coreml")
    assert loaded.metadata.precision == "float64"
    pairs = _pairs(to_ir(model))
    if "funk" not in case_id and "zeros" in case_id:  # River's Constant initialiser: no draw
        pairs += [("new user", pairs[0][1]), (pairs[0][0], "new item")]
    got = np.array(loaded.predict_many([{"user": u, "item": i} for u, i in pairs]))
    want = np.array([model.predict_one(u, i) for u, i in pairs])
    assert (np.abs(got - want) <= 1e-12 * np.maximum(1.0, np.abs(want))).all()


def test_core_ml_refuses_factorisations_whose_gating_is_too_big(tmp_path, monkeypatch):
    from estuary.converters.coreml import reco as coreml_reco

    model, rows = learned("reco-biased-mf")
    monkeypatch.setattr(coreml_reco, "MAX_GATE_WEIGHTS", 100)
    with pytest.raises(UnsupportedModelError, match="combines two computed arrays is the dense"):
        _export(model, rows, tmp_path, "coreml")


def test_reco_api(tmp_path):
    model, rows = learned("reco-funk-mf")
    _, loaded = _export(model, rows, tmp_path)
    assert loaded.metadata.task == "reco"
    with pytest.raises(InvalidInputError, match="predict_one\\(user, item\\)"):
        loaded.predict_one({"user": "u1", "item": "i1"})
    with pytest.raises(WrongTaskError, match="rank"):
        learned_regressor_rank(tmp_path)


def learned_regressor_rank(tmp_path):
    model, rows = learned("scaler|linreg")
    path = tmp_path / "reg.onnx"
    estuary.export(model, path, sample=rows[:5])
    estuary.load(path).rank("u1", ["i1"])
