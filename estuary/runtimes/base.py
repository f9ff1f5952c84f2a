"""River's predict API over any compute backend that runs an artifact's input matrix.

A backend only maps the input matrix [N, F] to output arrays; `LoadedModel` adds what every
runtime shares: dict rows → matrix via the embedded schema, class indices → River's classes,
and the golden-vector check on load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import GoldenCheckError
from ..ir.artifact import ArtifactMetadata
from ..rows import RowEncoder

TOLERANCE = {"float64": 1e-6, "float32": 1e-4}


@dataclass(frozen=True)
class RuntimeInfo:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Backend(Protocol):
    info: RuntimeInfo

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs `probabilities` [N, C] (and `label` [N]) or `value` [N] for a float64 matrix."""


def within(actual: np.ndarray, expected: np.ndarray, tol: float) -> np.ndarray:
    """Element-wise |a - e| <= tol * max(1, |e|); NaN equals NaN."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    both_nan = np.isnan(actual) & np.isnan(expected)
    with np.errstate(invalid="ignore"):
        ok = np.abs(actual - expected) <= tol * np.maximum(1.0, np.abs(expected))
    return ok | both_nan | (actual == expected)


class LoadedModel:
    """An artifact ready to predict like a River model: `predict_one`, `predict_proba_one`, ..."""

    def __init__(self, backend: Backend, metadata: ArtifactMetadata, path: Path, fmt: str):
        self.backend = backend
        self.metadata = metadata
        self.path = Path(path)
        self.format = fmt
        self.encoder = RowEncoder(metadata.schema)
        self.classes = metadata.classes
        self.is_classifier = metadata.task == "classification"

    @property
    def runtime(self) -> RuntimeInfo:
        return self.backend.info

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return self.backend.run(np.ascontiguousarray(X, dtype=np.float64))

    def predict_proba_many(self, rows: Iterable[Mapping]) -> np.ndarray:
        self._need_classifier("predict_proba_many")
        return self.run(self.encoder.encode_many(rows))["probabilities"]

    def predict_many(self, rows: Iterable[Mapping]) -> list[Any]:
        out = self.run(self.encoder.encode_many(rows))
        if not self.is_classifier:
            return out["value"].tolist()
        return [self.classes[i] for i in out["label"]]

    def predict_one(self, x: Mapping) -> Any:
        return self.predict_many([x])[0]

    def predict_proba_one(self, x: Mapping) -> dict[Any, float]:
        proba = self.predict_proba_many([x])[0]
        return {c: float(p) for c, p in zip(self.classes, proba)}

    def _need_classifier(self, what: str) -> None:
        if not self.is_classifier:
            raise TypeError(f"{what} needs a classifier; this artifact is a regressor: use predict_one")

    def outputs_matrix(self, X: np.ndarray) -> np.ndarray:
        """Probabilities [N, C], or values as [N, 1]: the shape golden vectors use."""
        out = self.run(X)
        return out["probabilities"] if self.is_classifier else out["value"].reshape(-1, 1)

    def check_golden(self) -> float:
        """Re-run the golden vectors; raise `GoldenCheckError` if they do not reproduce."""
        meta = self.metadata
        if not meta.golden_inputs:
            return 0.0
        X = np.array([[np.nan if v is None else v for v in r] for r in meta.golden_inputs],
                     dtype=np.float64)
        expected = np.array(meta.golden_outputs, dtype=np.float64)
        got = self.outputs_matrix(X)
        tol = TOLERANCE[meta.precision]
        if got.shape != expected.shape or not within(got, expected, tol).all():
            diff = np.nanmax(np.abs(got - expected)) if got.shape == expected.shape else "shape"
            raise GoldenCheckError(
                f"{self.path}: the embedded golden vectors do not reproduce in {self.runtime} "
                f"(max diff {diff}, tolerance {tol}); the artifact is corrupt or the runtime "
                "computes differently: do not serve it, re-export it"
            )
        return float(np.nanmax(np.abs(got - expected))) if got.size else 0.0
