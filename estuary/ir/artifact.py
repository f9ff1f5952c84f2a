"""The metadata every artifact embeds, whatever its format, and that every runtime reads back.

It carries the input schema, the classes, the IR hash, provenance and the golden check vectors
(a few input rows with the River model's own outputs) so that any consumer can self-check.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .nodes import FeatureSchema, Scalar, Snapshot
from .serialize import content_hash, from_dict, to_dict

METADATA_KEY = "estuary"
METADATA_VERSION = 1


def _encode_row(row: tuple) -> list:
    return [None if (v is None or (isinstance(v, float) and math.isnan(v))) else v for v in row]


@dataclass(frozen=True)
class ArtifactMetadata:
    """What a runtime needs besides the compute graph."""

    schema: FeatureSchema
    task: str
    classes: tuple[Scalar, ...]
    ir_hash: str
    source: str
    provenance: dict
    golden_inputs: tuple[tuple[float | None, ...], ...]
    golden_outputs: tuple[tuple[float, ...], ...]
    precision: str = "float64"  # "float32" when the format computes in single precision

    @classmethod
    def from_snapshot(cls, snap: Snapshot, precision: str = "float64") -> ArtifactMetadata:
        prov = to_dict(snap.provenance)
        prov.pop("type")
        return cls(
            schema=snap.model.schema,
            task=snap.model.task,
            classes=snap.model.classes,
            ir_hash=content_hash(snap.model),
            source=snap.model.source,
            provenance=prov,
            golden_inputs=snap.golden_inputs,
            golden_outputs=snap.golden_outputs,
            precision=precision,
        )

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "metadata_version": METADATA_VERSION,
            "schema": to_dict(self.schema),
            "task": self.task,
            "classes": list(self.classes),
            "ir_hash": self.ir_hash,
            "source": self.source,
            "provenance": self.provenance,
            "golden_inputs": [_encode_row(r) for r in self.golden_inputs],
            "golden_outputs": [list(r) for r in self.golden_outputs],
            "precision": self.precision,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ArtifactMetadata:
        data = json.loads(text)
        if data.get("metadata_version") != METADATA_VERSION:
            raise ValueError(
                f"artifact metadata version {data.get('metadata_version')!r} is not "
                f"{METADATA_VERSION}: re-export the model with this estuary version"
            )
        return cls(
            schema=from_dict(data["schema"]),
            task=data["task"],
            classes=tuple(data["classes"]),
            ir_hash=data["ir_hash"],
            source=data["source"],
            provenance=data["provenance"],
            golden_inputs=tuple(tuple(r) for r in data["golden_inputs"]),
            golden_outputs=tuple(tuple(r) for r in data["golden_outputs"]),
            precision=data.get("precision", "float64"),
        )
