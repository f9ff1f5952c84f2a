"""ir_of: the same IR object while a model's learned state is unchanged, a fresh one after any
learn_one, and never a cached one for a type without a fingerprint."""

from __future__ import annotations

import pytest
from river import datasets, linear_model, naive_bayes, preprocessing, tree

from estuary import ir
from estuary.converters.river_to_ir import to_ir
from estuary.converters.river_to_ir.reuse import fingerprint, ir_of


@pytest.mark.parametrize("build", [
    lambda: preprocessing.StandardScaler() | linear_model.LogisticRegression(),
    lambda: tree.HoeffdingTreeClassifier(grace_period=20),
    lambda: preprocessing.StandardScaler() | linear_model.LinearRegression(),
])
def test_reused_until_the_model_learns(build):
    model = build()
    rows = list(datasets.Phishing().take(400))
    regression = "LinearRegression" in str(model)
    for x, y in rows[:300]:
        model.learn_one(x, float(y) if regression else y)
    first = ir_of(model)
    assert ir_of(model) is first and fingerprint(model) is not None
    for x, y in rows[300:301]:
        model.learn_one(x, float(y) if regression else y)
    second = ir_of(model)
    assert second is not first
    assert ir.content_hash(second) == ir.content_hash(to_ir(model))


def test_no_fingerprint_no_reuse():
    model = naive_bayes.GaussianNB()
    for x, y in datasets.Phishing().take(50):
        model.learn_one(x, y)
    assert fingerprint(model) is None
    assert ir_of(model) is not ir_of(model)
    pipeline = preprocessing.StandardScaler() | naive_bayes.GaussianNB()
    pipeline.learn_one({"a": 1.0}, True)
    assert fingerprint(pipeline) is None  # one step without a fingerprint: none for the whole
