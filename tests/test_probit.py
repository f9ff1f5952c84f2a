"""Probit (River's AdPredictor) and the erf behind it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from river import datasets, linear_model

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
