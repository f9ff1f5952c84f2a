"""Rows, golden vectors and the embedded metadata for a scikit-learn source model."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np

from .. import __version__
from ..ir.artifact import ArtifactMetadata
from ..rows import RowEncoder
from .model import SklearnModel

N_GOLDEN = 8


def version(dist: str) -> str:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def to_rows(X: Any, columns: tuple) -> list[dict]:
    """A matrix, a DataFrame or dict rows → dict rows keyed by column; NaN / None → absent."""
    if X is None:
        return []
    if hasattr(X, "to_dict") and hasattr(X, "columns"):  # a pandas DataFrame
        records = X.to_dict(orient="records")
        return [{str(k): v for k, v in r.items() if not _missing(v)} for r in records]
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], Mapping):
        return [{str(k): v for k, v in r.items() if not _missing(v)} for r in X]
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2 or A.shape[1] != len(columns):
        raise ValueError(f"expected rows of {len(columns)} features, got shape {A.shape}")
    return [{c: float(v) for c, v in zip(columns, row) if not np.isnan(v)} for row in A]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def state_hash(model: Any) -> str:
    """A content hash of the fitted estimator's state (stands in for the IR hash)."""
    return hashlib.sha256(pickle.dumps(model, protocol=4)).hexdigest()


def build_metadata(sk: SklearnModel, sample: list[dict], converter: str,
                   precision: str) -> ArtifactMetadata:
    """Schema, classes, provenance and golden vectors (scikit-learn's own outputs on a few
    sample rows and an all-zeros row), as every estuary artifact carries them."""
    candidates = sample[:N_GOLDEN - 1] + [
        {f.name: (f.categories[0] if f.kind == "categorical" else 0.0) for f in sk.schema.features}]
    encoder = RowEncoder(sk.schema)
    inputs, outputs = [], []
    for row in candidates:
        try:
            out, _ = sk.reference(sk.raw_input([row]))
        except ValueError:  # e.g. a missing value the estimator does not accept
            continue
        if np.isfinite(out).all():
            inputs.append(tuple(None if np.isnan(v) else float(v) for v in encoder.encode(row)))
            outputs.append(tuple(float(v) for v in out[0]))
    digest = state_hash(sk.original)
    provenance = {
        "source_library": "scikit-learn",
        "sklearn_version": version("scikit-learn"),
        "converter": converter,
        "estuary_version": __version__,
        "snapshot_id": digest[:16],
    }
    source = f"{type(sk.original).__module__}.{type(sk.original).__qualname__}"
    return ArtifactMetadata(schema=sk.schema, task=sk.task, classes=sk.classes, ir_hash=digest,
                            source=source, provenance=provenance,
                            golden_inputs=tuple(inputs), golden_outputs=tuple(outputs),
                            precision=precision)
