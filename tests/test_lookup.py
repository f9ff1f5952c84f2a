"""Lookup (River's Agg / TargetAgg): the formula picks each group's value exactly, an unseen
group gets a fresh statistic's value, and what River does differently is refused."""

from __future__ import annotations

import numpy as np
import pytest
from river import compose, datasets, feature_extraction, linear_model, stats

from estuary.converters.river_to_ir import to_ir
from estuary.errors import UnsupportedModelError
from estuary.ir import arithmetic
from estuary.ir.arithmetic import NUMPY
from estuary.ir.lookup import Lookup


def test_the_formula_is_exact():
    values = np.array([[0.1], [1e-300], [123456.789]])
    onehot = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    out = arithmetic.lookup(NUMPY, onehot, values, 0.3)[:, 0]
    assert out.tolist() == [0.1, 1e-300, 123456.789, 0.3]


def learned(agg):
    model = (compose.Select("time") + agg) | linear_model.LinearRegression()
    for x, y in datasets.ChickWeights().take(200):
        model.learn_one(x, y)
    return model


def test_groups_and_the_fresh_default_are_river_s():
    model = learned(feature_extraction.Agg(on="time", by="diet", how=stats.Mean()))
    union = list(model.steps.values())[0]
    agg = next(t for t in union.transformers.values()
               if isinstance(t, feature_extraction.Agg))
    step = next(s for s in to_ir(model).transform.steps[0].branches[1].steps
                if isinstance(s, Lookup))
    assert step.target == "time_mean_by_diet" and step.default == 0.0
    for cat, value in zip(step.sources, step.values):
        assert value == agg._groups[(int(cat.split("=")[1]),)].get()


@pytest.mark.parametrize("agg, match", [
    (lambda: feature_extraction.Agg(on="time", by=["diet", "chick"], how=stats.Mean()),
     "one group key"),
    (lambda: feature_extraction.Agg(on="time", by=None, how=stats.Mean()), "one group key"),
    (lambda: feature_extraction.Agg(on="time", by="diet", how=stats.Max()), "not a finite"),
])
def test_refused(agg, match):
    with pytest.raises(UnsupportedModelError, match=match):
        to_ir(learned(agg()))
