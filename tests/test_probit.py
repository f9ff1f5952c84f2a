"""Probit (River's AdPredictor) and the erf behind it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from river import compose, datasets, linear_model, preprocessing

import estuary
from estuary.converters.river_to_ir import to_ir
from estuary.errors import UnsupportedModelError
from estuary.ir import arithmetic
from estuary.ir.arithmetic import NumpyOps


class SeriesOps(NumpyOps):
    """numpy with the series erf the ONNX target uses."""

    def erf(self, a):
        return arithmetic.reference_erf(self, a)


def test_reference_erf_is_within_a_few_ulps_of_math_erf():
    x = np.concatenate([np.linspace(-8, 8, 4001), [0.0, -0.0, 1e-300, 5.99, 6.01, 1e300]])
    got = arithmetic.reference_erf(SeriesOps(), x)
    want = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(got - want)) <= 2e-15
    assert (got[x == 0.0] == 0.0).all()


def test_norm_cdf_is_river_s():
    from river import utils

    t = np.linspace(-9, 9, 721)
    got = arithmetic.norm_cdf(SeriesOps(), t)
    assert np.max(np.abs(got - [utils.math.norm_cdf(v) for v in t])) <= 2e-15


def test_an_open_row_is_refused():
    model = linear_model.AdPredictor()
    for x, y in datasets.Phishing().take(50):
        model.learn_one(x, y)
    with pytest.raises(UnsupportedModelError, match=r"compose\.Select"):
        to_ir(model)


def test_an_unlearned_model_is_refused():
    from river import compose

    from estuary.errors import EmptyModelError

    with pytest.raises(EmptyModelError):
        to_ir(compose.Select("a") | linear_model.AdPredictor())


def test_complement_nb_needs_a_closed_row():
    from river import naive_bayes

    model = naive_bayes.ComplementNB()
    for x, y in datasets.Phishing().take(50):
        model.learn_one(x, y)
    with pytest.raises(UnsupportedModelError, match=r"cc\.get\(f, alpha\)"):
        to_ir(model)


def test_raw_categories_are_refused_by_name():
    """A union passing the raw `c` on beside its ordinal code: River activates the key `c`
    whatever its value, so the refusal names the feature and the encoder to use."""
    from river import compose, preprocessing

    model = compose.Select("a", "c") | compose.TransformerUnion(
        compose.Select("a", "c"),
        compose.Select("c") | preprocessing.OrdinalEncoder() | compose.Prefixer("o_"),
    ) | linear_model.AdPredictor()
    for x, y in [({"a": 1.0, "c": "red"}, True), ({"a": 0.0, "c": "blue"}, False)]:
        model.learn_one(x, y)
    with pytest.raises(UnsupportedModelError,
                       match=r"it receives \['c'\] as raw categories, .*use OrdinalEncoder"):
        to_ir(model)


def text_rows(n=400):
    """Numeric `a` and text `c` (the empty string among them, which River reads as inactive)."""
    import random

    rng = random.Random(0)
    rows = [{"a": rng.random(), "c": rng.choice(["x", "y", "z", ""])} for _ in range(n)]
    return [(x, (x["a"] > 0.5) ^ (x["c"] == "y")) for x in rows]


def learned_on_text(model):
    for x, y in text_rows():
        model.learn_one(x, y)
    return model, [x for x, _ in text_rows()][:200]


@pytest.mark.parametrize("fmt", ["onnx", "pmml"])
def test_text_a_select_passes_on_is_refused_at_export(fmt, tmp_path):
    """River activates `c` when its text is not empty, but keeps only the key: the schema reads
    `c` as a number, so the sample's text is refused with the encoder to put in front."""
    model, rows = learned_on_text(compose.Select("a", "c") | linear_model.AdPredictor())
    assert model.predict_proba_one({"a": 0.2, "c": "z"}) != model.predict_proba_one(
        {"a": 0.2, "c": ""})  # River reads the text: non-empty is active
    with pytest.raises(UnsupportedModelError) as e:
        estuary.export(model, tmp_path / f"model.{fmt}", sample=rows)
    assert str(e.value).startswith(
        "cannot convert river.compose.Pipeline (River answers sample rows whose 'c' holds text "
        "(''), but the model keeps no trace of its values and an artifact reads it as a number: "
        "encode 'c' in front of the model (compose.Select('c') | preprocessing.OrdinalEncoder()))")
    assert not (tmp_path / f"model.{fmt}").exists()


def test_text_past_the_golden_rows_is_refused(tmp_path):
    """The golden vectors come from the sample's first rows; text further on is refused too."""
    model, rows = learned_on_text(compose.Select("a", "c") | linear_model.AdPredictor())
    sample = [{"a": x["a"]} for x in rows[:10]] + rows[10:]
    with pytest.raises(UnsupportedModelError,
                       match=r"^cannot convert river\.compose\.Pipeline \(River answers sample "
                       r"rows whose 'c' holds text \('z'\)"):
        estuary.export(model, tmp_path / "model.onnx", sample=sample)


def test_text_without_a_sample_fails_verify(tmp_path):
    """Without a sample nothing shows `c` held text: the artifact reads numbers, and verify on
    the text rows fails (its encoder refuses each one) instead of passing."""
    model, rows = learned_on_text(compose.Select("a", "c") | linear_model.AdPredictor())
    path = tmp_path / "model.onnx"
    estuary.export(model, path)
    report = estuary.verify(model, path, rows)
    assert not report.passed
    # every sample row and the probes made from them hold text: refused, none compared
    assert (report.n_refused, report.n_rows) == (211, 9) and "sample" not in report.rows_by_tag
    assert report.worst_rows[0].refused.startswith("feature 'c': expected a number, got str")


@pytest.mark.parametrize("fmt", ["onnx", "pmml"])
def test_the_encoder_the_refusal_names_gives_exact_parity(fmt, tmp_path):
    model, rows = learned_on_text(((compose.Select("c") | preprocessing.OrdinalEncoder())
                                   + compose.Select("a")) | linear_model.AdPredictor())
    path = tmp_path / f"model.{fmt}"
    estuary.export(model, path, sample=rows)
    report = estuary.verify(model, path, rows)
    assert report.passed, report.to_text()
    assert report.rows_by_tag["sample"] == 200
    assert report.max_abs_diff == 0.0
