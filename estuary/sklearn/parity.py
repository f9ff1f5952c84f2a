"""Parity of an artifact against the scikit-learn model's own predict / predict_proba.

The rows: the user's rows, then generated ones: every tree threshold on float32 and one float32
ulp either side (scikit-learn compares float32 inputs), each feature missing in turn (kept only
where scikit-learn accepts it: rows it rejects are counted, not compared), unseen keys and
categories, zeros and extremes. The comparison itself is estuary's harness (`parity.compare`),
fed by an adapter that answers River's `predict_one` / `predict_proba_one` from scikit-learn
outputs computed in batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..parity.probes import Probe, structural_probes
from .model import SklearnModel
from .onnx import tree_list

MAX_THRESHOLDS = 200
MAX_MISSING_BASES = 20


def _key(row: Mapping) -> tuple:
    return tuple(sorted((str(k), repr(v)) for k, v in row.items()))


class SklearnReference:
    """River's predict API answered from scikit-learn outputs on known rows."""

    def __init__(self, sk: SklearnModel, rows: Sequence[Mapping]):
        self.sk = sk
        self.answers: dict[tuple, Any] = {}
        numeric = [f.name for f in sk.schema.features if f.kind == "numeric"]
        complete = [r for r in rows if all(c in r for c in numeric)]
        partial = [r for r in rows if not all(c in r for c in numeric)]
        for group in (complete, partial):
            self._answer(group)

    def _answer(self, rows: list) -> None:
        if not rows:
            return
        try:
            outputs, labels = self.sk.reference(self.sk.raw_input(rows))
        except ValueError as e:
            if len(rows) > 1:  # halve until the rows it rejects are found
                self._answer(rows[:len(rows) // 2])
                self._answer(rows[len(rows) // 2:])
            else:
                self.answers[_key(rows[0])] = e
            return
        for r, out, label in zip(rows, outputs, labels):
            self.answers[_key(r)] = (out, label)

    def _get(self, x: Mapping) -> tuple:
        answer = self.answers.get(_key(x))
        if answer is None:
            self._answer([dict(x)])
            answer = self.answers[_key(x)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def predict_proba_one(self, x: Mapping) -> dict:
        out, _ = self._get(x)
        return dict(zip(self.sk.classes, out.tolist()))

    def predict_one(self, x: Mapping) -> Any:
        out, label = self._get(x)
        return label if self.sk.task == "classification" else float(out[0])


def _f32_around(t: float) -> list[float]:
    f = np.float32(t)
    return sorted({float(np.nextafter(f, np.float32(-np.inf))), float(f),
                   float(np.nextafter(f, np.float32(np.inf))), float(t)})


def threshold_values(sk: SklearnModel) -> dict[str, list[float]]:
    """Raw column → values at the trees' thresholds (bare tree models: columns are raw)."""
    if not sk.is_tree or sk.flat is not sk.final:
        return {}
    pairs = sorted({(int(f), float(t)) for tree in tree_list(sk.final)
                    for f, t, left in zip(tree.feature, tree.threshold, tree.children_left)
                    if left >= 0})
    if len(pairs) > MAX_THRESHOLDS:  # an even spread, the same every run
        pairs = [pairs[i] for i in np.linspace(0, len(pairs) - 1, MAX_THRESHOLDS).astype(int)]
    out: dict[str, list[float]] = {}
    for f, t in pairs:
        out.setdefault(sk.schema.columns[f], []).extend(_f32_around(t))
    return out


def probe_rows(sk: SklearnModel, sample: Sequence[Mapping]) -> list[Probe]:
    features = sk.schema.features
    probes = [Probe(dict(r), "sample") for r in sample]
    bases = [dict(r) for r in sample[:3]] or [
        {f.name: (f.categories[0] if f.kind == "categorical" else 0.0) for f in features}]
    for column, values in threshold_values(sk).items():
        probes += [Probe({**bases[0], column: v}, "threshold") for v in values]
    # sklearn schemas name each feature by its column: key == name
    return probes + structural_probes(features, bases, list(sample[:MAX_MISSING_BASES]) or bases)
