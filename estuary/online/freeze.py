"""A snapshot's frozen IR and River's own outputs on a bounded probe set.

Artifact writing, runtime checks and publishing run in a worker from the `Frozen` value, which
holds plain numbers only: the model may keep learning meanwhile. `freeze(model, ...)` costs
`to_ir` plus one River prediction per probe row on the caller's thread, so the probe set is
bounded: the recent events (a ring buffer), the user's fixed rows, and at most `budget`
generated adversarial rows picked evenly across kinds (thresholds, missing keys, extremes, ...),
rotated from one snapshot to the next so that, over time, every threshold gets probed.

A `Learner` splits this in two: `capture` (on the loop: the model's state at that instant,
copying only what changed since the last capture, `river_to_ir.capture`) and `complete`
(in the worker: the IR, the probes, and River's own outputs on them, from the captured copy,
which the live model never touches again: the reference is River's answer on the frozen state).

Incremental: `to_ir` reuses a tree leaf's naive-Bayes tables while the leaf has not learned
(versioned by its weight; `river_to_ir.tree`), so a freeze reads only what changed.
GC: a CPython full collection walks every object of a big tree (100+ ms) and lands in bare
River's learn_one as often as in a snapshot; pausing the collector during the freeze was measured
and dropped (the young objects it deferred made one long collection on the next event). The
capture keeps a leaf's numbers in an `array('d')` and a model without a tree as its pickle bytes
(neither tracked by the collector) and leaves the freeing of the states it replaced to the
worker. A process that keeps one big model for good may use `Learner(gc_freeze=True)`:
`gc.freeze()` after each capture takes the model out of every later full collection
(`benchmarks/stall.py` measures both against bare River).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from .. import ir
from ..converters.river_to_ir import to_ir
from ..converters.river_to_ir.capture import Capture, Capturer, materialize
from ..parity.probes import Probe, leaf_probes, probe_rows, threshold_values
from ..parity.reference import Reference, river_outputs
from ..snapshot import golden_candidates, snapshot_from_reference

GENERATED_KINDS = ("threshold", "missing", "extreme", "unseen", "category", "zeros")


@dataclass(frozen=True)
class Frozen:
    """A model state as plain data: what a worker (thread or process) needs to publish it."""

    model: ir.Model
    probes: tuple[Probe, ...]
    reference: Reference
    n_events: int
    created_at: str
    reason: str
    stall_ms: float  # how long freezing held the loop
    metrics: Mapping[str, Any]


class _ThresholdProbes(Sequence):
    """The threshold probes of a model, made only when picked: a 1k-node tree has thousands
    (each threshold and one ulp either side) and a freeze keeps a few of them, so building a
    row dict for each was most of `bounded_probes`' time on the loop."""

    def __init__(self, model: ir.Model, bases: Sequence[dict]):
        self.bases = bases
        self.points = [(model.schema.feature(raw).key, i, v)
                       for raw, values in threshold_values(model).items()
                       for i, v in enumerate(values)]

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, k):  # type: ignore[override]
        key, i, v = self.points[k]
        return Probe({**self.bases[i % len(self.bases)], key: v}, "threshold")


def bounded_probes(model: ir.Model, sample: Sequence[Mapping], budget: int,
                   rotation: int = 0) -> list[Probe]:
    """`sample` rows plus at most `budget` generated rows, round-robin across kinds."""
    # probe_rows without the estimator generates everything but thresholds, which for a 1k-node
    # tree are thousands of rows: those are made here, then only `budget` rows are kept
    untreed = SimpleNamespace(schema=model.schema, transform=model.transform, estimator=None,
                              task=model.task)
    generated = probe_rows(untreed, list(sample[:2]), max_missing=2)
    bases = [dict(r) for r in sample[:3]] or [p.row for p in generated if p.tag == "zeros"]
    by_kind = {k: [p for p in generated if p.tag == k] for k in GENERATED_KINDS}
    by_kind["threshold"] = _ThresholdProbes(model, bases)  # `generated` has none: no estimator
    picked: list[Probe] = []
    depth = 0
    while len(picked) < budget and any(len(v) > depth for v in by_kind.values()):
        for rows in by_kind.values():
            if depth < len(rows) and len(picked) < budget:
                picked.append(rows[(rotation * 7919 + depth) % len(rows)])
        depth += 1
    # a row per tree leaf (at most MAX_LEAF_ROWS), outside the budget: they become golden rows
    return [Probe(dict(r), "sample") for r in sample] + picked + leaf_probes(model, bases)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Captured:
    """The loop's part of a snapshot: the model's captured state and what `freeze` takes."""

    state: Capture
    sample: tuple
    budget: int
    n_events: int
    created_at: str
    reason: str
    rotation: int
    stall_ms: float  # how long capturing held the loop
    metrics: Mapping[str, Any]


def capture(capturer: Capturer, model: Any, sample: Sequence[Mapping], *, budget: int = 64,
            n_events: int = 0, reason: str = "manual", rotation: int = 0,
            metrics: Mapping[str, Any] | None = None) -> Captured:
    """The on-loop part: `model`'s state now (see `river_to_ir.capture`), nothing derived."""
    start = time.perf_counter()
    state = capturer.capture(model)
    stall_ms = (time.perf_counter() - start) * 1000
    return Captured(state, tuple(sample), budget, n_events, _now(), reason, rotation, stall_ms,
                    dict(metrics or {}))


def complete(captured: Captured) -> Frozen:
    """`freeze` of a captured state, off the loop: IR, probes and River's outputs on them,
    all from the captured copy. `stall_ms` stays the capture's."""
    model = materialize(captured.state)
    model_ir = to_ir(model)
    probes = bounded_probes(model_ir, captured.sample, captured.budget, captured.rotation)
    ref = river_outputs(model, [p.row for p in probes], model_ir.task, model_ir.classes)
    return Frozen(model_ir, tuple(probes), ref, captured.n_events, captured.created_at,
                  captured.reason, captured.stall_ms, captured.metrics)


def freeze(model: Any, sample: Sequence[Mapping], *, budget: int = 64, n_events: int = 0,
           reason: str = "manual", rotation: int = 0,
           metrics: Mapping[str, Any] | None = None) -> Frozen:
    """IR + River's outputs on `sample` and generated probes. Runs on the caller's loop.

    >>> frozen = freeze(model, recent_rows, n_events=1000)
    """
    start = time.perf_counter()
    model_ir = to_ir(model)
    probes = bounded_probes(model_ir, sample, budget, rotation)
    ref = river_outputs(model, [p.row for p in probes], model_ir.task, model_ir.classes)
    created_at = _now()
    stall_ms = (time.perf_counter() - start) * 1000
    return Frozen(model_ir, tuple(probes), ref, n_events, created_at, reason, stall_ms,
                  dict(metrics or {}))


def to_snapshot(frozen: Frozen) -> ir.Snapshot:
    """The `ir.Snapshot` (with golden vectors from the frozen reference): worker side."""
    ref = frozen.reference
    picked = golden_candidates(frozen.probes)
    sub = Reference(ref.outputs[picked], [ref.labels[i] for i in picked],
                    [ref.errors[i] for i in picked])
    return snapshot_from_reference(frozen.model, [frozen.probes[i].row for i in picked], sub,
                                   n_events=frozen.n_events, created_at=frozen.created_at,
                                   tags=[frozen.probes[i].tag for i in picked])


__all__ = ["Captured", "Frozen", "bounded_probes", "capture", "complete", "freeze", "to_snapshot"]
