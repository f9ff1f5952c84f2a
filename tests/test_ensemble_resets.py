"""ADWIN and leveraging bagging replace a member by an unlearned clone when its ADWIN detects
drift; River keeps predicting with it. A snapshot taken right then must export and match River."""

from __future__ import annotations

import pytest
from river import compose, datasets, ensemble, linear_model, preprocessing, tree

import estuary


def _has_unlearned_member(model) -> bool:
    """True when a member is a fresh clone: a logistic regression without weights, or a tree
    without a root."""
    for member in model:
        final = list(member.steps.values())[-1] if isinstance(member, compose.Pipeline) else member
        if isinstance(final, linear_model.LogisticRegression) and not final._weights:
            return True
        if isinstance(final, tree.HoeffdingTreeClassifier) and final._root is None:
            return True
    return False


def _drifting_stream():
    """Phishing, then Phishing with every label flipped: the members' ADWINs fire."""
    rows = list(datasets.Phishing())
    yield from rows
    yield from ((x, not y) for x, y in rows)


FACTORIES = {
    "adwin(scaler|logreg)": lambda: ensemble.ADWINBaggingClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression(), n_models=3, seed=1),
    "leveraging(scaler|logreg)": lambda: ensemble.LeveragingBaggingClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression(), n_models=3, seed=1),
    "adwin(htc)": lambda: ensemble.ADWINBaggingClassifier(
        tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5), n_models=3, seed=1),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("suffix", [".onnx", ".pmml"])
def test_snapshot_right_after_a_member_reset_matches_river(name, suffix, tmp_path):
    model, seen = FACTORIES[name](), []
    for x, y in _drifting_stream():
        model.learn_one(x, y)
        seen.append(x)
        if len(seen) > 1250 and _has_unlearned_member(model):
            break
    else:
        pytest.fail(f"{name}: no member was reset by the drift; the test lost its subject")
    path = tmp_path / f"model{suffix}"
    estuary.export(model, path, sample=seen[-50:])
    report = estuary.verify(model, path, seen[-300:])
    assert report.passed, report.to_text()
    assert report.label_agreement == 1.0
    assert report.max_abs_diff <= 1e-12
