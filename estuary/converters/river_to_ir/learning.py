"""How a River model learns from an event `(x, y)` and what its artifact reads, per task.

River's signatures differ by task (river 0.26.1): classifiers and regressors `learn_one(x, y)`;
anomaly detectors and clusterers `learn_one(x)`; the detectors that score the target
(`GaussianScorer`, `StandardAbsoluteDeviation`, and filters around them) `learn_one(x, y)` and
`score_one(x, y)` with x ignored, so their artifact's input row is `{"y": y}`; forecasters
`learn_one(y, x=None)`, and their artifact's input row says which step ahead (`{"step": 1}`)
(they learn without x: estuary's forecast artifacts read the step alone, so a SNARIMAX that
learned exogenous features is refused); recommenders `learn_one(user, item, y, x)` from a row
holding `user` and `item`.
The `Learner`, the test catalogue and the census all learn through `learn`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from river import base, reco

from .anomaly import TARGET

MODES = ("supervised", "unsupervised", "target", "forecast", "reco")


def final_step(model: Any) -> Any:
    """The model at the end of a pipeline (the model itself otherwise)."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, Mapping) and steps:
        return final_step(list(steps.values())[-1])
    return model


def _is_forecaster(step: Any) -> bool:
    return any(c.__name__ == "Forecaster" for c in type(step).__mro__)


def learning_mode(model: Any) -> str:
    """One of MODES: how `model` learns (see the module docstring)."""
    last = final_step(model)
    if _is_forecaster(last):
        return "forecast"
    if isinstance(last, reco.base.Ranker):
        return "reco"
    if isinstance(last, base.AnomalyFilter | base.AnomalyDetector | base.SupervisedAnomalyDetector):
        return "target" if model._supervised else "unsupervised"
    if isinstance(last, base.Clusterer):
        return "unsupervised"
    return "supervised"


def learn(model: Any, x: dict, y: Any, mode: str | None = None) -> None:
    """River's `learn_one` for the event `(x, y)`, with the task's signature.

    >>> learn(anomaly.HalfSpaceTrees(), {"a": 0.5}, None)  # learn_one(x)
    """
    mode = mode or learning_mode(model)
    if mode == "unsupervised":
        model.learn_one(x)
    elif mode == "forecast":
        model.learn_one(y=y)  # a forecaster's (y, x=None); x would be exogenous features
    elif mode == "reco":
        context = {k: v for k, v in x.items() if k not in ("user", "item")}
        model.learn_one(x["user"], x["item"], y, context or None)
    else:
        model.learn_one(x, y)


def scored_row(mode: str, x: dict, y: Any) -> dict:
    """The artifact's input row for the event `(x, y)`: what parity probes and golden vectors
    are made of (`x` itself for most models)."""
    if mode == "target":
        return {TARGET: y}
    if mode == "forecast":
        return {"step": 1}
    return x


__all__ = ["MODES", "final_step", "learn", "learning_mode", "scored_row"]
