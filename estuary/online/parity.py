"""Parity of a loaded artifact against River outputs taken earlier (at snapshot time).

`estuary.parity.compare(model, loaded, probes)` asks the River model itself; a worker cannot
(the model has learned since), so it hands `compare` a stand-in that replays the `Reference`
frozen on the loop: one comparison (tolerances, float32 rules, report) for offline and online.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..parity.harness import compare
from ..parity.probes import Probe
from ..parity.reference import Reference
from ..parity.report import ParityReport
from ..runtimes import LoadedModel


class ReplayOrderError(BaseException):
    """The harness asked for rows in another order than the reference was taken in. A
    BaseException so that `river_outputs` (which records River's own errors) cannot swallow it."""


class _Replay:
    """Answers `predict_proba_one` / `predict_one` with River's frozen outputs, row by row, in
    the order `estuary.parity.reference.river_outputs` asks; checks each row is the one expected."""

    def __init__(self, probes: Sequence[Probe], ref: Reference, classes: Sequence):
        self._rows = [p.row for p in probes]
        self._ref, self._classes = ref, list(classes)
        self._i = -1

    def _row(self, x: dict, advance: bool) -> int:
        if advance:
            self._i += 1
        if self._i >= len(self._rows) or x != self._rows[self._i]:
            raise ReplayOrderError(f"replay asked for an unexpected row at {self._i}")
        error = self._ref.errors[self._i]
        if error is not None:
            raise ValueError(error)  # River raised on this row at snapshot time
        return self._i

    def predict_proba_one(self, x: dict) -> dict:
        i = self._row(x, advance=True)
        return dict(zip(self._classes, self._ref.outputs[i].tolist()))

    def predict_one(self, x: dict) -> Any:
        if self._classes:  # classifiers: asked right after predict_proba_one for the same row
            return self._ref.labels[self._row(x, advance=False)]
        return float(self._ref.outputs[self._row(x, advance=True), 0])


def compare_reference(loaded: LoadedModel, probes: Sequence[Probe], ref: Reference,
                      ir_hash: str = "") -> ParityReport:
    """Parity of `loaded` against River's precomputed outputs `ref` on `probes`.

    >>> compare_reference(estuary.load("v/model.onnx"), frozen.probes, frozen.reference).passed
    """
    classes = loaded.metadata.classes if loaded.metadata.task == "classification" else ()
    return compare(_Replay(probes, ref, classes), loaded, probes, ir_hash=ir_hash)


__all__ = ["compare_reference"]
