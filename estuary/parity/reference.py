"""The parity reference: the River model's own predictions, row by row."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir.tasks import TASKS


@dataclass(frozen=True)
class Reference:
    """River's outputs on rows: `outputs` [N, C] probabilities (or [N, 1] values), `labels`,
    and for rows River itself cannot predict (it raised), the error instead."""

    outputs: np.ndarray
    labels: list[Any]
    errors: list[str | None]


def reads_label_from_proba(model: Any) -> bool:
    """True when the model's `predict_one` is River's generic one (`max(predict_proba_one(x),
    key=get)`, in `river.base.classifier`), directly or as a pipeline's last step: then the label
    is read from the probabilities River just returned, exactly as River would, instead of asking
    River for them twice."""
    return _keeps_base_classifier(model, "predict_one")


def label_only(model: Any) -> bool:
    """True when River gives the classifier no `predict_proba_one` (its `predict_one` votes:
    OneVsOneClassifier, VotingClassifier), directly or as a pipeline's last step: the reference
    is then the one-hot of River's label (the label-only contract, README "Artifact contract")."""
    return _keeps_base_classifier(model, "predict_proba_one")


def _keeps_base_classifier(model: Any, method: str) -> bool:
    """True when `model`, or a pipeline's last step, has River's generic `Classifier.<method>`
    (`river.base.classifier`), not one of its own."""
    last = model
    if type(model).__name__ == "Pipeline" and hasattr(model, "steps"):
        last = list(model.steps.values())[-1]
    fn = getattr(type(last), method, None)
    return (getattr(fn, "__qualname__", "") == f"Classifier.{method}"
            and getattr(fn, "__module__", "") == "river.base.classifier")


def river_outputs(model: Any, rows: Sequence[Mapping], task: str, classes: Sequence,
                  progress: Callable[[int, int], None] | None = None) -> Reference:
    """River's own answer on each row, as the task's contract shapes it (`ANSWERS`):
    `predict_proba_one`/`predict_one` for classifiers, `predict_one` for regressors, and so on;
    `progress(done, total)` hears every 100 rows (River's side is the slow one)."""
    spec = TASKS[task]
    if task == "classification" and reads_label_from_proba(model) and not label_only(model):
        return _probabilities(model, rows, classes, progress)
    answer = ANSWERS[task]
    if task == "classification" and label_only(model):
        answer = _classification_votes
    outputs = np.full((len(rows), spec.width(len(classes))), np.nan)

    def one(i: int, x: Mapping) -> Any:
        values, label = answer(model, x, classes)
        outputs[i] = values
        return label

    labels, errors = _each_row(rows, one, progress)
    return Reference(outputs, labels, errors)


def _probabilities(model: Any, rows: Sequence[Mapping], classes: Sequence,
                   progress: Callable[[int, int], None] | None) -> Reference:
    """`river_outputs` of a classifier whose label River reads from its probabilities: each
    class's probability (0 for a class River leaves out) and the most probable class, as lists
    made into the matrix once at the end: the per-row answer call through `ANSWERS` and numpy
    row write cost ~0.6 ms on a linear model's 457 probe rows, half of River's own time."""
    predict = model.predict_proba_one
    values: list[list[float]] = [[math.nan] * len(classes)] * len(rows)  # a rejected row's

    def one(i: int, x: Mapping) -> Any:
        proba = predict(dict(x))  # River's own copy: a step may edit the dict it is given
        row = [float(proba.get(c, 0.0)) for c in classes]
        label = max(proba, key=proba.get) if proba else None
        values[i] = row
        return label

    labels, errors = _each_row(rows, one, progress)
    outputs = np.array(values, dtype=np.float64).reshape(len(rows), len(classes))
    return Reference(outputs, labels, errors)


def _each_row(rows: Sequence[Mapping], one: Callable[[int, Mapping], Any],
              progress: Callable[[int, int], None] | None) -> tuple[list[Any], list[str | None]]:
    """Each row's label from `one(i, x)` (which also records the row's values), or None and
    River's error for a row it rejects; `progress(done, total)` hears every 100 rows."""
    labels: list[Any] = []
    errors: list[str | None] = []
    n = len(rows)
    for i, x in enumerate(rows):
        if progress is not None and i % 100 == 0:
            progress(i, n)
        try:
            label = one(i, x)
        except Exception as e:  # River rejects some adversarial rows (e.g. Select on a missing key)
            labels.append(None)
            errors.append(f"{type(e).__name__}: {e}")
            continue
        labels.append(label)
        errors.append(None)
    return labels, errors


# each answer gives River its own copy of the row per call: River steps may edit the dict
# they are given (compose.Renamer renames keys in place)
Answer = Callable[[Any, Mapping, Sequence], tuple[Sequence[float], Any]]


def _classification(model: Any, x: Mapping, classes: Sequence) -> tuple[list[float], Any]:
    proba = model.predict_proba_one(dict(x))
    return [float(proba.get(c, 0.0)) for c in classes], model.predict_one(dict(x))


def _classification_votes(model: Any, x: Mapping,
                          classes: Sequence) -> tuple[list[float], Any]:
    label = model.predict_one(dict(x))
    return [1.0 if c == label else 0.0 for c in classes], label


def _regression(model: Any, x: Mapping, classes: Sequence) -> tuple[list[float], Any]:
    return [float(model.predict_one(dict(x)))], None


def _anomaly(model: Any, x: Mapping, classes: Sequence) -> tuple[list[float], Any]:
    """River's `score_one` (the detectors that score the target read the row's `y`:
    `score_one(x, y)`), and for an anomaly filter its `classify(score)` as the label."""
    from ..converters.river_to_ir.anomaly import TARGET
    from ..converters.river_to_ir.learning import final_step

    x = dict(x)
    if model._supervised:
        y = x.pop(TARGET)  # a row without y: River cannot score it (KeyError, skipped)
        score = model.score_one(x, y)
    else:
        score = model.score_one(x)
    last = final_step(model)
    flag = bool(last.classify(score)) if hasattr(last, "classify") else None
    return [float(score)], flag


def _forecast(model: Any, x: Mapping, classes: Sequence) -> tuple[list[float], Any]:
    """Row `step` = s asks for River's `forecast(horizon=s)[s - 1]`; the other keys are the
    exogenous features of that step (all steps of one call share them)."""
    x = dict(x)
    step = x.pop("step", None)
    if isinstance(step, bool) or not isinstance(step, int | float) or step != int(step) \
            or step < 1:
        raise ValueError(f"step must be a whole number >= 1, not {step!r}")
    horizon = int(step)
    if horizon > MAX_STEP:
        raise ValueError(f"step {horizon} is beyond {MAX_STEP}: River would build a list of "
                         f"{horizon} forecasts to answer it")
    xs = [x] * horizon if x else None
    return [float(model.forecast(horizon=horizon, xs=xs)[horizon - 1])], None


MAX_STEP = 1_000_000  # River's forecast(horizon) is a list of `horizon` values


def _cluster(model: Any, x: Mapping, classes: Sequence) -> tuple[list[float], Any]:
    """River's `predict_one`, and the distance to each centre measured by the function the
    model's extractor registered (`CLUSTER_DISTANCES`): River exposes no distances itself."""
    measure = CLUSTER_DISTANCES.get(type(model).__name__)
    if measure is None:
        raise TypeError(f"no distance reference for {type(model).__name__}")
    return [float(d) for d in measure(model, dict(x), classes)], model.predict_one(dict(x))


def _reco(model: Any, x: Mapping, classes: Sequence) -> tuple[list[float], Any]:
    """River's `predict_one(user, item, x)` for a row holding `user` and `item` (the rest is the
    context), through the function the model's extractor registered (`RECO_ANSWERS`): it
    scores a user or item River has not met on a copy, since River stores a fresh entry."""
    answer = RECO_ANSWERS.get(type(model).__name__)
    if answer is None:
        raise TypeError(f"no reco reference for {type(model).__name__}")
    x = dict(x)
    user, item = x.pop("user", None), x.pop("item", None)
    if user is None or item is None:
        raise ValueError("River's recommenders score a user and an item: the row lacks one")
    return [float(answer(model, user, item, x or None))], None


def _multilabel(model: Any, x: Mapping, classes: Sequence) -> tuple[list[float], Any]:
    """River's `predict_proba_one`: {target: {False: p, True: q}}, as [p, q] per target in
    `classes` (the targets' order); the label is River's `predict_one` (a dict)."""
    proba = model.predict_proba_one(dict(x))
    values = [float(proba[t].get(v, 0.0)) for t in _targets(model, classes) for v in (False, True)]
    return values, model.predict_one(dict(x))


def _multitarget(model: Any, x: Mapping, classes: Sequence) -> tuple[list[float], Any]:
    """River's `predict_one`: {target: value}, one value per target in `classes` order."""
    pred = model.predict_one(dict(x))
    return [float(pred[t]) for t in _targets(model, classes)], None


def _targets(model: Any, classes: Sequence) -> list:
    """The model's own target keys in the order of `classes` (their names as strings)."""
    chain = model
    while isinstance(getattr(chain, "steps", None), Mapping) and chain.steps:
        chain = list(chain.steps.values())[-1]  # a pipeline's last step
    order = (chain.order if hasattr(chain, "order") else list(chain.data)  # PerOutput*: dict
             if hasattr(chain, "data") else sorted(chain._labels))  # MultiClassEncoder
    by_name = {str(t): t for t in order}
    return [by_name.get(str(c), c) for c in classes]


# River class name → its score for (model, user, item, context), River's own without changing it
RECO_ANSWERS: dict[str, Callable[[Any, Any, Any, Mapping | None], float]] = {}

# River class name → distances to each centre, in `classes` order, computed River's way
CLUSTER_DISTANCES: dict[str, Callable[[Any, Mapping, Sequence], Sequence[float]]] = {}

ANSWERS: dict[str, Answer] = {
    "classification": _classification,
    "regression": _regression,
    "anomaly": _anomaly,
    "forecast": _forecast,
    "cluster": _cluster,
    "reco": _reco,
    "multilabel": _multilabel,
    "multitarget": _multitarget,
}
