"""Label-only classifiers (River's OneVsOneClassifier, VotingClassifier): the artifact's
probabilities are the one-hot of River's label; River's tie-breaks (the class voted first) are
reproduced; what cannot be read from probabilities is refused."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from conftest import learned
from river import dummy, ensemble, linear_model, naive_bayes

import estuary
from estuary.converters.river_to_ir import to_ir
from estuary.errors import UnsupportedModelError
from estuary.parity.reference import label_only, river_outputs


def _hard_votes(voting, x):
    return collections.Counter(m.predict_one(dict(x)) for m in voting)


def test_hard_voting_ties_go_to_the_label_voted_first(tmp_path):
    model, rows = learned("scaler|voting-hard(gnb, htc, softmax, ovr)")
    scaler, voting = list(model.steps.values())
    tied = [x for x in rows
            if sorted(_hard_votes(voting, scaler.transform_one(dict(x))).values())[-2:]
            in ([1, 1], [2, 2])]
    assert len(tied) > 100  # four members: ties are common, so the tie-break is exercised
    path = tmp_path / "voting.onnx"
    estuary.export(model, path, sample=rows[:20], format="onnx")
    loaded = estuary.load(path)
    assert loaded.predict_many(tied) == [model.predict_one(dict(x)) for x in tied]
    probs = loaded.predict_proba_many(tied)
    assert set(np.unique(probs)) == {0.0, 1.0} and (probs.sum(axis=1) == 1.0).all()


def test_the_reference_of_a_label_only_model_is_its_label_one_hot():
    model, rows = learned("scaler|ovo(logreg)")
    assert label_only(model) and not label_only(learned("arf10_phishing")[0])
    classes = to_ir(model).classes
    ref = river_outputs(model, rows[:50], "classification", classes)
    for values, label in zip(ref.outputs, ref.labels, strict=True):
        assert list(values) == [1.0 if c == label else 0.0 for c in classes]


def test_one_vs_one_matches_river_on_every_row(tmp_path):
    model, rows = learned("scaler|ovo(logreg)")
    path = tmp_path / "ovo.onnx"
    estuary.export(model, path, sample=rows[:20], format="onnx")
    assert estuary.load(path).predict_many(rows) == [model.predict_one(dict(x)) for x in rows]


def test_a_member_with_its_own_predict_one_is_refused_for_hard_votes():
    model = ensemble.VotingClassifier([linear_model.LogisticRegression(),
                                       naive_bayes.GaussianNB(), dummy.NoChangeClassifier()],
                                      use_probabilities=False)
    _, rows = learned("voting-soft(logreg, htc, gnb)")
    for i, x in enumerate(rows[:100]):
        model.learn_one(dict(x), i % 3 == 0)
    with pytest.raises(UnsupportedModelError, match="its own predict_one"):
        to_ir(model)
