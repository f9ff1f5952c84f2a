"""JSON round trip and content hash of IR nodes.

Every node is a frozen dataclass registered with `ir_node`; it becomes `{"type": name, ...fields}`.
Tuples become lists and come back as tuples, so `from_json(to_json(x)) == x` holds exactly
(Python writes floats with the shortest repr that reads back to the same double).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import marshal
from typing import Any

from .nodes import NODE_TYPES, IRError

_SCALAR_TYPES = frozenset({int, float, str, bool, type(None)})


def _nan_error() -> IRError:
    return IRError("NaN inside the IR: parameters must be finite numbers")


def _scalar_array(node: tuple | list) -> bool:
    """IR arrays are homogeneous: a (nested) tuple whose first leaf is a number holds numbers."""
    while type(node) in (tuple, list) and node:
        node = node[0]
    return type(node) in _SCALAR_TYPES or type(node) in (tuple, list)


def to_dict(node: Any) -> Any:
    """Plain JSON-able structure of an IR node (recursively). Arrays of numbers stay tuples
    (json writes them as lists; `to_json` refuses NaN in them)."""
    kind = type(node)
    if kind in _SCALAR_TYPES:
        if kind is float and node != node:
            raise _nan_error()
        return node
    if kind is tuple or kind is list:
        if _scalar_array(node):  # per-leaf tables: no Python call per number
            return node
        return [to_dict(v) for v in node]
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        out: dict[str, Any] = {"type": type(node).__name__}
        for f in dataclasses.fields(node):
            out[f.name] = to_dict(getattr(node, f.name))
        return out
    if isinstance(node, float) and node != node:
        raise _nan_error()
    return node


def from_dict(data: Any) -> Any:
    """Inverse of `to_dict`."""
    if isinstance(data, dict):
        if "type" not in data:
            raise IRError(f"IR object without a 'type': {sorted(data)[:5]}")
        name = data["type"]
        cls = NODE_TYPES.get(name)
        if cls is None:
            raise IRError(f"unknown IR node type {name!r}; known: {sorted(NODE_TYPES)}")
        kwargs = {k: from_dict(v) for k, v in data.items() if k != "type"}
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise IRError(f"bad fields for IR node {name}: {e}") from e
    if isinstance(data, list):
        return tuple(from_dict(v) for v in data)
    return data


def to_json(node: Any, indent: int | None = None) -> str:
    """Canonical JSON: sorted keys, no NaN, stable across runs."""
    try:
        return json.dumps(to_dict(node), sort_keys=True, indent=indent, allow_nan=False,
                          separators=(",", ":") if indent is None else None)
    except ValueError as e:  # json refuses NaN/inf inside a number array
        raise IRError(f"non-finite number inside the IR ({e}): parameters must be finite") from e


def from_json(text: str) -> Any:
    return from_dict(json.loads(text))


def content_hash(node: Any) -> str:
    """SHA-256 of the canonical JSON: equal models have equal hashes on every machine.

    Nodes are immutable, so the digest is remembered on the node (a 1k-node tree with naive-Bayes
    leaves is megabytes of JSON; export and verify ask for its hash several times).
    """
    cached = getattr(node, "_content_hash", None)
    if cached is None:
        cached = hashlib.sha256(to_json(node).encode()).hexdigest()
        if dataclasses.is_dataclass(node):
            object.__setattr__(node, "_content_hash", cached)
    return cached


def exact_key(value: Any) -> bytes | None:
    """`value`'s exact content as bytes, to tell whether a cached result may be reused: keys in
    order, value types, floats bit for bit (0.0 is not -0.0, 1 is not 1.0 or True); None for a
    value marshal cannot write (numpy scalars, objects...), then nothing should be reused.
    Version 2 writes no back-references, so equal bytes are equal content whatever objects
    hold it."""
    try:
        return marshal.dumps(value, 2)
    except ValueError:
        return None
