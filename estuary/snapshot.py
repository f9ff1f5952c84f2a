"""Freeze a River model: its IR plus provenance and golden vectors taken from River itself."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import numpy as np

from . import __version__, ir
from .converters.river_to_ir.reuse import ir_of
from .errors import UnsupportedModelError
from .ir.tasks import TASKS
from .parity import handoff
from .parity.probes import Probe, probe_rows
from .parity.reference import Reference, river_outputs
from .rows import RowEncoder

N_GOLDEN = 8
TEXT = frozenset((str, bytes, np.str_, np.bytes_))  # text values, told by their type


@functools.cache  # importlib.metadata reads the installed files: ~1 ms a call
def _river_version() -> str:
    try:
        return metadata.version("river")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


# "horizon": a forecaster's steps ahead (River refuses its zeros and missing probes)
GOLDEN_KINDS = ("sample", "missing", "zeros", "threshold", "horizon")


def golden_candidates(probes: Sequence[Probe]) -> list[int]:
    """Indexes of the probes golden vectors may come from: a few of each kind, so that River is
    asked only about rows that may be kept, then every tree leaf's row (probes.leaf_probes)."""
    picked: list[int] = []
    for tag in GOLDEN_KINDS:
        picked += [i for i, p in enumerate(probes) if p.tag == tag][:N_GOLDEN // 2]
    return picked + [i for i, p in enumerate(probes) if p.tag == "leaf"]


def snapshot_from_reference(model_ir: ir.Model, rows: Sequence[Mapping], ref: Reference, *,
                            n_events: int | None = None, created_at: str | None = None,
                            tags: Sequence[str] = ()) -> ir.Snapshot:
    """The snapshot of `model_ir` whose golden vectors are the first `N_GOLDEN` of `rows` that
    River answered with finite outputs (`ref`, aligned with `rows`), plus every row tagged
    "leaf" (`tags`, aligned with `rows`: one row per tree leaf) River answered so."""
    outs = np.asarray(ref.outputs, dtype=np.float64)
    finite = np.isfinite(outs).all(axis=1) if outs.ndim == 2 else np.ones(len(rows), bool)
    # River's probabilities summing past 1 (log-sum-exp absorbed) are no golden row
    distribution = (outs.sum(axis=1) <= 1.0 + 1e-6 if model_ir.task == "classification"
                    and outs.ndim == 2 else np.ones(len(rows), bool))
    kept: list[int] = []
    plain = 0
    for i, err in enumerate(ref.errors):
        leaf = i < len(tags) and tags[i] == "leaf"
        if (leaf or plain < N_GOLDEN) and err is None and finite[i] and distribution[i]:
            kept.append(i)
            plain += not leaf
    refuse_text_numbers(model_ir, [rows[i] for i in kept])
    # one matrix and one tolist, not numpy scalars one by one (~20 µs a row for a tree's rows)
    encoded = RowEncoder(model_ir.schema).encode_many([rows[i] for i in kept]).tolist()
    inputs = [tuple(None if v != v else v for v in vec) for vec in encoded]
    outputs = [tuple(out) for out in outs[kept].tolist()] if kept else []
    labels = [_as_class(ref.labels[i], model_ir.classes) for i in kept]
    provenance = ir.Provenance(
        river_version=_river_version(),
        estuary_version=__version__,
        n_events=n_events,
        created_at=created_at,
        snapshot_id=ir.content_hash(model_ir)[:16],
    )
    golden_labels = tuple(labels) if TASKS[model_ir.task].index else ()
    return ir.Snapshot(model_ir, provenance, tuple(inputs), tuple(outputs),
                       golden_labels=golden_labels)


def text_in_numbers(model_ir: ir.Model, rows: Sequence[Mapping]
                    ) -> list[tuple[Mapping, str, Any, Any]]:
    """(row, feature name, text, raw key) for each of `rows` holding text where the IR reads a
    number (rows without any are left out)."""
    features = model_ir.schema.features
    taken = {f.key for f in features}  # a name is looked for only where no feature's key is
    numeric = {f.key: (f.name, f.key) for f in features if f.kind != "categorical"}
    numeric.update({f.name: (f.name, f.key) for f in features
                    if f.kind != "categorical" and f.name not in taken})
    found = []
    for row in rows:  # one pass over each row's items, text told by type: 0.10 ms for 200
        # Phishing rows, 0.16 for ImageSegments (0.24 / 0.44 by feature with isinstance)
        if not isinstance(row, Mapping):
            continue
        for k, value in row.items():
            if type(value) in TEXT and k in numeric:
                name, key = numeric[k]
                found.append((row, name, value, key))
                break
    return found


def refuse_text_numbers(model_ir: ir.Model, answered: Sequence[Mapping]) -> None:
    """Refuse the model when a row River answered holds text where the IR reads a number: a
    step that passes raw values on (compose.Select) fed it to a model that keeps no trace of
    them (AdPredictor activates a key whose value is truthy, text too), so the schema says
    number and no artifact can answer such a row as River does."""
    found = text_in_numbers(model_ir, answered)
    if found:
        _, name, value, key = found[0]
        raise UnsupportedModelError(model_ir.source, [], reason=(
            f"River answers sample rows whose {name!r} holds text ({value!r}), but the model "
            "keeps no trace of its values and an artifact reads it as a number: encode "
            f"{name!r} in front of the model (compose.Select({key!r}) | "
            "preprocessing.OrdinalEncoder())"))


def _refuse_answered_text(model: Any, model_ir: ir.Model, sample: Sequence[Mapping]) -> None:
    """`refuse_text_numbers` over the whole sample, not only the golden rows: River is asked
    about the first few rows holding text where the IR reads a number (none: nothing asked)."""
    held = [hit[0] for hit in text_in_numbers(model_ir, sample)[:N_GOLDEN]]
    if held:
        ref = river_outputs(model, held, model_ir.task, model_ir.classes)
        refuse_text_numbers(model_ir, [r for r, e in zip(held, ref.errors) if e is None])


def _as_class(label: Any, classes: Sequence) -> Any:
    """River's label as the schema's own class value (a plain JSON scalar), None if not one."""
    for c in classes:  # True == 1 in Python, but not as a class
        if c == label and isinstance(c, bool) == isinstance(label, (bool, np.bool_)):
            return c
    return None


def take_snapshot(model: Any, sample: Sequence[Mapping] = (), *, n_events: int | None = None,
                  created_at: str | None = None, model_ir: ir.Model | None = None) -> ir.Snapshot:
    """IR + golden vectors (a few rows with River's own outputs) + provenance.

    The result depends only on the model's state, `sample` and the arguments, so exporting the
    same snapshot twice gives byte-identical artifacts.
    """
    model_ir = model_ir or ir_of(model)  # the same IR object while the state is unchanged
    sample = list(sample)
    _refuse_answered_text(model, model_ir, sample)
    probes = probe_rows(model_ir, sample[:N_GOLDEN])
    picked = golden_candidates(probes)
    rows = [probes[i].row for i in picked]
    # River once per row and state: a re-export of an unchanged state reuses the leaf rows'
    # answers, and verify of this state reuses what is asked here (parity/handoff.py)
    ref = handoff.river_outputs_reusing(model, rows, model_ir.task, model_ir.classes, hold=True)
    return snapshot_from_reference(model_ir, rows, ref, n_events=n_events, created_at=created_at,
                                   tags=[probes[i].tag for i in picked])
