"""Parity of a loaded artifact against River outputs taken earlier (at snapshot time).

`estuary.parity.compare(model, loaded, probes)` asks the River model itself; a worker cannot
(the model has learned since), so it hands `compare` the `Reference` frozen on the loop: one
comparison (tolerances, float32 rules, report) for offline and online.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..parity.harness import compare
from ..parity.probes import Probe
from ..parity.reference import Reference
from ..parity.report import ParityReport
from ..runtimes import LoadedModel


def compare_reference(loaded: LoadedModel, probes: Sequence[Probe], ref: Reference,
                      ir_hash: str = "") -> ParityReport:
    """Parity of `loaded` against River's precomputed outputs `ref` on `probes`.

    >>> compare_reference(estuary.load("v/model.onnx"), frozen.probes, frozen.reference).passed
    """
    return compare(None, loaded, probes, ir_hash=ir_hash, reference=ref)


__all__ = ["compare_reference"]
