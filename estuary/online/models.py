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


def _hst() -> Any:
    from river import anomaly, preprocessing

    return preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)


def _kmeans() -> Any:
    from river import cluster, preprocessing

    return preprocessing.StandardScaler() | cluster.KMeans(n_clusters=5, seed=42)


MODELS: dict[str, Callable[[], Any]] = {
    "logreg": _logreg,  # StandardScaler | LogisticRegression
    "linreg": _linreg,  # StandardScaler | LinearRegression
    "hoeffding": _hoeffding,  # HoeffdingTreeClassifier
    "gaussiannb": _gaussiannb,
    "hst": _hst,  # MinMaxScaler | HalfSpaceTrees: learns without the target (anomaly scores)
    "kmeans": _kmeans,  # StandardScaler | KMeans: learns without the target (cluster ids)
}

__all__ = ["MODELS"]
