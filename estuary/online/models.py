"""Named starter models for `estuary learn --model NAME` and the demo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _logreg() -> Any:
    from river import linear_model, preprocessing

    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def _linreg() -> Any:
    from river import linear_model, preprocessing

    return preprocessing.StandardScaler() | linear_model.LinearRegression()


def _hoeffding() -> Any:
    from river import tree

    return tree.HoeffdingTreeClassifier(grace_period=50)


def _gaussiannb() -> Any:
    from river import naive_bayes

    return naive_bayes.GaussianNB()


MODELS: dict[str, Callable[[], Any]] = {
    "logreg": _logreg,  # StandardScaler | LogisticRegression
    "linreg": _linreg,  # StandardScaler | LinearRegression
    "hoeffding": _hoeffding,  # HoeffdingTreeClassifier
    "gaussiannb": _gaussiannb,
}

__all__ = ["MODELS"]
