"""The parity reference: the River model's own predictions, row by row."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


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
    last = model
    if type(model).__name__ == "Pipeline" and hasattr(model, "steps"):
        last = list(model.steps.values())[-1]
    fn = getattr(type(last), "predict_one", None)
    return (getattr(fn, "__qualname__", "") == "Classifier.predict_one"
            and getattr(fn, "__module__", "") == "river.base.classifier")


def river_outputs(model: Any, rows: Sequence[Mapping], task: str, classes: Sequence,
                  progress: Callable[[int, int], None] | None = None) -> Reference:
    """Call `predict_proba_one`/`predict_one` (classifiers) or `predict_one` (regressors);
    `progress(done, total)` hears every 100 rows (River's side is the slow one)."""
    width = len(classes) if task == "classification" else 1
    outputs = np.full((len(rows), width), np.nan)
    generic_label = task == "classification" and reads_label_from_proba(model)
    labels: list[Any] = []
    errors: list[str | None] = []
    for i, x in enumerate(rows):
        if progress is not None and i % 100 == 0:
            progress(i, len(rows))
        try:
            if task == "classification":
                proba = model.predict_proba_one(dict(x))
                outputs[i] = [float(proba.get(c, 0.0)) for c in classes]
                if generic_label:
                    labels.append(max(proba, key=proba.get) if proba else None)
                else:
                    labels.append(model.predict_one(dict(x)))
            else:
                value = model.predict_one(dict(x))
                outputs[i, 0] = float(value)
                labels.append(None)
            errors.append(None)
        except Exception as e:  # River rejects some adversarial rows (e.g. Select on a missing key)
            labels.append(None)
            errors.append(f"{type(e).__name__}: {e}")
    return Reference(outputs, labels, errors)
