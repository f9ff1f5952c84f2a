"""Freeze a River model: its IR plus provenance and golden vectors taken from River itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import numpy as np

from . import __version__, ir
from .converters.river_to_ir import to_ir
from .parity.probes import probe_rows
from .parity.reference import river_outputs
from .rows import RowEncoder

N_GOLDEN = 8


def _river_version() -> str:
    try:
        return metadata.version("river")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def take_snapshot(model: Any, sample: Sequence[Mapping] = (), *, n_events: int | None = None,
                  created_at: str | None = None, model_ir: ir.Model | None = None) -> ir.Snapshot:
    """IR + golden vectors (a few rows with River's own outputs) + provenance.

    The result depends only on the model's state, `sample` and the arguments, so exporting the
    same snapshot twice gives byte-identical artifacts.
    """
    model_ir = model_ir or to_ir(model)
    probes = probe_rows(model_ir, list(sample)[:N_GOLDEN])
    candidates = []  # a few of each kind: River is asked only about rows that may be kept
    for tag in ("sample", "missing", "zeros", "threshold"):
        candidates += [p.row for p in probes if p.tag == tag][:N_GOLDEN // 2]
    ref = river_outputs(model, candidates, model_ir.task, model_ir.classes)
    encoder = RowEncoder(model_ir.schema)
    inputs, outputs = [], []
    for row, out, err in zip(candidates, ref.outputs, ref.errors):
        if err is None and np.isfinite(out).all():
            vec = encoder.encode(row)
            inputs.append(tuple(None if np.isnan(v) else float(v) for v in vec))
            outputs.append(tuple(float(v) for v in out))
        if len(inputs) == N_GOLDEN:
            break
    digest = ir.content_hash(model_ir)
    provenance = ir.Provenance(
        river_version=_river_version(),
        estuary_version=__version__,
        n_events=n_events,
        created_at=created_at,
        snapshot_id=digest[:16],
    )
    return ir.Snapshot(model_ir, provenance, tuple(inputs), tuple(outputs))
