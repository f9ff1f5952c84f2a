"""The manifest of a stored version (`versions/<n>/manifest.json`): one typed, versioned structure.

Publish writes it, the store checks files against it, the server hands it out, the CLI reports
it and the page reads it (js/src/manifest.js checks the fields it uses). Frozen dataclasses
below are the definition; `manifest.schema.json`, next to this module, is generated from them
(`python -m estuary.online.manifest > estuary/online/manifest.schema.json`) for other languages,
and a test checks that the two agree.

Reading is strict: a wrong type, a missing or unknown field raises `ManifestError` naming the
field (`formats.onnx.report.n_rows`). File names must stay inside the version directory: a
name that is absolute or has a `..` segment is refused before any file is opened.
Non-finite floats are written as the strings "inf", "-inf", "nan" (JSON has no such numbers).

>>> Manifest.from_json(Path("models/versions/3/manifest.json").read_bytes()).formats["onnx"].passed
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ArtifactError
from ..ir.tasks import TASKS

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("manifest.schema.json")
SHA256 = r"^[0-9a-f]{64}$"
# a relative POSIX path whose segments are neither empty, '.' nor '..' (no backslash, no NUL)
SAFE_NAME = r"^(?!\.\.?(/|$))(?!.*/\.\.?(/|$))[^/\\\x00]+(/[^/\\\x00]+)*$"
NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class ManifestError(ArtifactError):
    """A manifest that is not what this estuary writes; `field` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"manifest field {field!r}: {message}")


def _rule(**kwargs: Any) -> dict[str, Any]:
    """Field metadata: extra JSON Schema keywords (pattern, minimum, const), checked on read."""
    return {"schema": kwargs}


@dataclass(frozen=True)
class FileEntry:
    """One file of a version, as hashed when it was committed."""

    sha256: str = field(metadata=_rule(pattern=SHA256))
    size: int = field(metadata=_rule(minimum=0))


@dataclass(frozen=True)
class WorstRow:
    """A row where the artifact was furthest from River (parity.report.WorstRow, as stored)."""

    index: int
    tag: str
    row: Mapping[str, Any]
    reference: tuple[float, ...]
    artifact: tuple[float, ...]
    diff: float
    label_ok: bool
    refused: str = ""  # the artifact's input encoder refused this row River answered: why


@dataclass(frozen=True)
class ParitySummary:
    """parity.report.ParityReport as stored: one format in its real runtime against River."""

    format: str
    artifact: str
    runtime: str
    model: str
    ir_hash: str
    task: str = field(metadata=_rule(enum=list(TASKS)))  # `ir.tasks`
    n_rows: int = field(metadata=_rule(minimum=0))
    label_agreement: float | None
    max_abs_diff: float
    max_scaled_diff: float
    tolerance: float
    precision: str
    passed: bool
    n_skipped: int = field(default=0, metadata=_rule(minimum=0))
    rows_by_tag: Mapping[str, int] = field(default_factory=dict)
    worst_rows: tuple[WorstRow, ...] = ()
    skipped_examples: tuple[str, ...] = ()
    seconds: float = 0.0
    artifact_ir_hash: str = ""
    n_beyond_float32: int = field(default=0, metadata=_rule(minimum=0))
    diff_counts: tuple[int, ...] = ()  # rows per parity.report.DIFF_BIN_LABELS bin
    n_refused: int = field(default=0, metadata=_rule(minimum=0))

    @classmethod
    def from_report(cls, report: Any) -> ParitySummary:
        """From a `parity.report.ParityReport`."""
        return _decode(cls, report.to_dict(), "report")


def _legacy(data: dict) -> dict:
    """A manifest written before `schema_version` existed (estuary 0.1.0 before 2026-12) has the
    same fields: read it as schema 1 when every field checks, else say how to get a new one."""
    upgraded = {**data, "schema_version": SCHEMA_VERSION}
    try:
        _decode(Manifest, upgraded, "")
    except ManifestError as e:
        raise ManifestError("schema_version", f"missing, and this older manifest does not read as "
                            f"schema {SCHEMA_VERSION} ({e}): publish the model again") from e
    return upgraded


@dataclass(frozen=True)
class FormatEntry:
    """What became of one format: its artifact (`file`, None when it is not served), whether it
    matched River, its report, or the error / the reason it does not apply."""

    file: str | None = field(metadata=_rule(pattern=SAFE_NAME))
    passed: bool | None
    report: ParitySummary | None
    error: str | None = None
    not_applicable: str | None = None


Status = Literal["published", "rejected"]
Scalar = int | float | str | bool | None  # a metric's value


@dataclass(frozen=True)
class Manifest:
    """A version: the snapshot it holds, every format's outcome, and every file's SHA-256."""

    schema_version: int = field(metadata=_rule(const=SCHEMA_VERSION))
    version: int = field(metadata=_rule(minimum=1))
    status: Status
    ir_hash: str = field(metadata=_rule(pattern=SHA256))
    snapshot_id: str
    source: str  # the River model, e.g. "river.linear_model.LogisticRegression"
    task: str = field(metadata=_rule(enum=list(TASKS)))  # `ir.tasks`
    created_at: str
    n_events: int = field(metadata=_rule(minimum=0))
    reason: str
    estuary_version: str
    river_version: str | None
    probes: int = field(metadata=_rule(minimum=0))
    metrics: Mapping[str, Scalar]
    formats: Mapping[str, FormatEntry]
    files: Mapping[str, FileEntry] = field(metadata=_rule(propertyNames={"pattern": SAFE_NAME}))

    @property
    def published(self) -> bool:
        return self.status == "published"

    def served_formats(self) -> list[str]:
        """Formats with an artifact in this version."""
        return sorted(name for name, entry in self.formats.items() if entry.file)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (non-finite floats as "inf", "-inf", "nan")."""
        return _encode(self)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, two-space indent, a final newline. Checked as
        `from_dict` checks it: what is written can be read (or ManifestError now)."""
        data = self.to_dict()
        Manifest.from_dict(data)
        return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Check `data` (a parsed manifest.json) field by field; raise `ManifestError`."""
        if isinstance(data, dict) and "schema_version" not in data:
            data = _legacy(data)
        manifest = _decode(cls, data, "")
        for name, entry in manifest.formats.items():
            if entry.file and not any(n == entry.file or n.startswith(f"{entry.file}/")
                                      for n in manifest.files):
                raise ManifestError(f"formats.{name}.file",
                                    f"{entry.file!r} is not among the version's files")
        return manifest

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ManifestError("<document>", f"not JSON ({e})") from e
        except RecursionError as e:  # e.g. 100k nested brackets
            raise ManifestError("<document>", "nested too deeply to be a manifest") from e
        try:
            return cls.from_dict(data)
        except RecursionError as e:
            raise ManifestError("<document>", "nested too deeply to be a manifest") from e


# ---------------------------------------------------------------------------- decoding


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _fail(path: str, expected: str, value: Any) -> ManifestError:
    shown = json.dumps(value, default=str)
    return ManifestError(path or "<document>",
                         f"expected {expected}, got {shown[:80]}")


def _decode(tp: Any, value: Any, path: str) -> Any:
    """`value` (parsed JSON) as type `tp`, or ManifestError naming `path`."""
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, value, path)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(args, value, path)
    if origin is Literal:
        if value not in args:
            raise _fail(path, " or ".join(json.dumps(a) for a in args), value)
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        return tuple(_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        return {k: _decode(args[1], v, _join(path, k)) for k, v in value.items()}
    return _decode_scalar(tp, value, path)


def _decode_scalar(tp: Any, value: Any, path: str) -> Any:
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, str) and value in NON_FINITE:
            return NON_FINITE[value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _fail(path, 'a number (or "inf", "-inf", "nan")', value)
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _fail(path, "an integer", value)
    if tp in (str, bool) and not isinstance(value, tp):
        raise _fail(path, "a string" if tp is str else "true or false", value)
    if tp is type(None) and value is not None:
        raise _fail(path, "null", value)
    return value


def _decode_union(args: tuple, value: Any, path: str) -> Any:
    if value is None and type(None) in args:
        return None
    for tp in (a for a in args if a is not type(None)):
        try:
            return _decode(tp, value, path)
        except ManifestError:
            if len(args) <= 2:  # X | None: say what X wanted
                raise
    raise _fail(path, " or ".join(_name(a) for a in args), value)


def _name(tp: Any) -> str:
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(sys.modules[__name__]))


def _decode_dataclass(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, f"an object ({cls.__name__})", value)
    hints, names = _hints(cls), {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - names)
    if unknown:
        raise ManifestError(_join(path, unknown[0]), f"unknown field (a {cls.__name__} has "
                                                     f"{', '.join(sorted(names))})")
    out = {}
    for f in dataclasses.fields(cls):
        where = _join(path, f.name)
        if f.name not in value:
            if _required(f):
                raise ManifestError(where, "missing")
            continue
        out[f.name] = _decode(hints[f.name], value[f.name], where)
        _check_rules(f.metadata.get("schema", {}), out[f.name], where)
    return cls(**out)


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _check_rules(rules: dict[str, Any], value: Any, path: str) -> None:
    """The extra keywords a field declares (`_rule`), on its decoded value."""
    if value is None:
        return
    if "const" in rules and value != rules["const"]:
        raise ManifestError(path, f"expected {rules['const']}, got {value!r} (this estuary "
                                  f"reads schema version {SCHEMA_VERSION})")
    if "enum" in rules and value not in rules["enum"]:
        raise ManifestError(path, f"must be one of {rules['enum']}, got {value!r}")
    if "minimum" in rules and value < rules["minimum"]:
        raise ManifestError(path, f"must be >= {rules['minimum']}, got {value!r}")
    if "pattern" in rules and not re.search(rules["pattern"], value):
        raise ManifestError(path, _pattern_message(rules["pattern"], value))
    name_pattern = rules.get("propertyNames", {}).get("pattern")
    for key in value if name_pattern else ():
        if not re.search(name_pattern, key):
            raise ManifestError(_join(path, key), _pattern_message(name_pattern, key))


def _pattern_message(pattern: str, value: str) -> str:
    if pattern == SAFE_NAME:
        return (f"{value!r} is not a relative path inside the version directory (absolute "
                "paths, '..' and empty segments are refused)")
    return f"{value!r} does not match {pattern}"


# ---------------------------------------------------------------------------- encoding


def _encode(value: Any) -> Any:
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------- JSON Schema


def _schema_of(tp: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(tp):
        return {"$ref": f"#/$defs/{tp.__name__}"}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema_of(a) for a in args]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin is tuple:
        return {"type": "array", "items": _schema_of(args[0])}
    if origin is Mapping:
        return {"type": "object", "additionalProperties": _schema_of(args[1])}
    if tp is float:
        return {"anyOf": [{"type": "number"}, {"enum": sorted(NON_FINITE)}]}
    return {} if tp is Any else {"type": _JSON_TYPES[tp]}


_JSON_TYPES = {int: "integer", str: "string", bool: "boolean", type(None): "null"}


def _schema_of_dataclass(cls: type) -> dict[str, Any]:
    hints = _hints(cls)
    properties = {}
    for f in dataclasses.fields(cls):
        prop = _schema_of(hints[f.name])
        rules = f.metadata.get("schema", {})
        if rules and "anyOf" in prop:  # X | None: the rules apply to X
            prop = {"anyOf": [{**p, **rules} if p != {"type": "null"} else p
                              for p in prop["anyOf"]]}
        else:
            prop = {**prop, **rules}
        properties[f.name] = prop
    return {"type": "object", "description": " ".join((cls.__doc__ or "").split("\n\n")[0].split()),
            "properties": properties, "additionalProperties": False,
            "required": [f.name for f in dataclasses.fields(cls) if _required(f)]}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `Manifest.to_dict()`: what manifest.schema.json holds."""
    defs = {c.__name__: _schema_of_dataclass(c)
            for c in (Manifest, FormatEntry, ParitySummary, WorstRow, FileEntry)}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://estuary.invalid/manifest/{SCHEMA_VERSION}",
            "title": "estuary version manifest", "$ref": "#/$defs/Manifest", "$defs": defs}


def load_schema() -> dict[str, Any]:
    """The schema shipped with the package (manifest.schema.json)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


__all__ = ["SCHEMA_VERSION", "FileEntry", "FormatEntry", "Manifest", "ManifestError",
           "ParitySummary", "WorstRow", "json_schema", "load_schema"]

if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
