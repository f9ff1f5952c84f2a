"""The metadata every artifact embeds, whatever its format, and that every runtime reads back.

It carries the input schema, the classes, the IR hash, provenance and the golden check vectors
(a few input rows with the River model's own outputs) so that any consumer can self-check.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .nodes import Feature, FeatureSchema, Scalar, Snapshot
from .serialize import content_hash, from_dict, to_dict
from .tasks import TASKS as TASK_TABLE

METADATA_KEY = "estuary"
METADATA_VERSION = 1
INTEGRITY_PLACEHOLDER = "sha256:" + "0" * 64
TASKS = tuple(TASK_TABLE)
PRECISIONS = ("float64", "float32")
_SCALARS = (str, int, float, bool)


class MetadataError(ValueError):
    """Embedded metadata that is not what estuary writes (runtimes turn it into ArtifactError)."""


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
    # River's own predict_one on each golden row (classifiers; None where it gave no label), so
    # that the check on load compares labels too: relabelled classes or a flipped arg-max show
    golden_labels: tuple[Scalar | None, ...] = ()
    # "sha256:<hex>" of the artifact's bytes (estuary/integrity.py); writers embed the
    # placeholder, the format contract stamps it; "" in artifacts written before digests
    integrity: str = INTEGRITY_PLACEHOLDER

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
            # a snapshot edited by hand may keep labels of golden rows it dropped: then none
            golden_labels=(snap.golden_labels if len(snap.golden_labels) == len(
                snap.golden_inputs) else ()),
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
            "integrity": self.integrity,
        }
        if self.golden_labels:  # regressors' metadata stays byte-identical to earlier exports
            data["golden_labels"] = list(self.golden_labels)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> ArtifactMetadata:
        """Parse and check the embedded metadata; `MetadataError` (a ValueError) says what is
        wrong with it. Nothing here trusts the text: shapes, kinds and types are all checked."""
        try:
            data = json.loads(text)
        except RecursionError as e:
            raise MetadataError("the metadata JSON is nested too deeply") from e
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise MetadataError(f"the metadata is not JSON ({e})") from e
        if not isinstance(data, dict):
            raise MetadataError(f"the metadata is a JSON {type(data).__name__}, not an object")
        if data.get("metadata_version") != METADATA_VERSION:
            raise MetadataError(
                f"artifact metadata version {data.get('metadata_version')!r} is not "
                f"{METADATA_VERSION}: re-export the model with this estuary version"
            )
        meta = cls(
            schema=_schema(data.get("schema")),
            task=_one_of(data, "task", TASKS),
            classes=tuple(_list(data, "classes", _SCALARS)),
            ir_hash=_typed(data, "ir_hash", str),
            source=_typed(data, "source", str),
            provenance=_typed(data, "provenance", dict),
            golden_inputs=tuple(tuple(r) for r in _rows(data, "golden_inputs", optional=True)),
            golden_outputs=tuple(tuple(r) for r in _rows(data, "golden_outputs", optional=False)),
            precision=_one_of(data, "precision", PRECISIONS, default="float64"),
            golden_labels=tuple(_list(data, "golden_labels", (*_SCALARS, type(None)), default=())),
            integrity=_typed(data, "integrity", str) if "integrity" in data else "",
        )
        meta._check_shapes()
        return meta

    def _check_shapes(self) -> None:
        n_columns = len(self.schema.columns)
        spec = TASK_TABLE[self.task]
        labelled = spec.has_classes
        if len(self.classes) < spec.min_classes:
            raise MetadataError(f"a {spec.noun} with {len(self.classes)} classes")
        if not labelled and self.classes:
            raise MetadataError(f"a {spec.noun} with classes")
        if len({repr(c) for c in self.classes}) != len(self.classes):
            raise MetadataError("the classes repeat")
        width = spec.width(len(self.classes))
        if len(self.golden_inputs) != len(self.golden_outputs):
            raise MetadataError(f"{len(self.golden_inputs)} golden inputs for "
                                f"{len(self.golden_outputs)} golden outputs")
        if any(len(r) != n_columns for r in self.golden_inputs):
            raise MetadataError(f"a golden input row is not {n_columns} values wide")
        if any(len(r) != width for r in self.golden_outputs):
            raise MetadataError(f"a golden output row is not {width} values wide")
        if self.golden_labels and (not labelled or len(self.golden_labels) != len(
                self.golden_inputs)):
            raise MetadataError("golden labels do not match the golden rows")


def _typed(data: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise MetadataError(f"metadata field {key!r} is missing or of type {type(value).__name__}")
    return value


def _one_of(data: dict, key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise MetadataError(f"metadata field {key!r} is {value!r}, not one of {list(allowed)}")
    return value


def _list(data: dict, key: str, kinds: tuple[type, ...], default: list | None = None) -> list:
    value = data.get(key, default)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, kinds) for v in value):
        raise MetadataError(f"metadata field {key!r} is not a list of "
                            f"{'/'.join(k.__name__ for k in kinds)}")
    return list(value)


def _rows(data: dict, key: str, optional: bool) -> list:
    """A list of rows of numbers (None = missing where `optional`)."""
    rows = _typed(data, key, list)
    kinds = (int, float, type(None)) if optional else (int, float)
    for row in rows:
        if not isinstance(row, list) or not all(
                isinstance(v, kinds) and not isinstance(v, bool) for v in row):
            raise MetadataError(f"metadata field {key!r} is not a list of rows of numbers")
    return rows


def _schema(data: Any) -> FeatureSchema:
    if not isinstance(data, dict):
        raise MetadataError("metadata field 'schema' is not an object")
    try:
        schema = from_dict(data)
    except RecursionError as e:
        raise MetadataError("the schema is nested too deeply") from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise MetadataError(f"unreadable schema ({type(e).__name__}: {e})") from e
    if not isinstance(schema, FeatureSchema) or not isinstance(schema.features, tuple) \
            or not all(_plain_feature(f) for f in schema.features):
        raise MetadataError("metadata field 'schema' is not a feature schema")
    return schema


def _plain_feature(f: Any) -> bool:
    return (isinstance(f, Feature) and isinstance(f.name, str) and isinstance(f.key, _SCALARS)
            and isinstance(f.categories, tuple)
            and all(isinstance(c, _SCALARS) for c in f.categories))
