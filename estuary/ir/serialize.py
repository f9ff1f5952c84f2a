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
        if indent is None:
            plain = to_dict(node)
            return _canonical(plain) if _has_table(plain) else _ENCODER.encode(plain)
        return json.dumps(to_dict(node), sort_keys=True, indent=indent, allow_nan=False)
    except ValueError as e:  # json refuses NaN/inf inside a number array
        raise IRError(f"non-finite number inside the IR ({e}): parameters must be finite") from e


# the compact form: `json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))`
_ENCODER = json.JSONEncoder(sort_keys=True, allow_nan=False, separators=(",", ":"))

# id(tuple) → (the tuple, its JSON, whether it was found immutable): the rows of a table of
# tuples (a tree's per-leaf naive-Bayes tables, reused by identity for leaves that did not
# learn: river_to_ir/tree.py) written by the last calls of `_canonical`; the tuple is held, so
# its id is not reused
_FRAGMENTS: dict[int, tuple[tuple, str, bool]] = {}
MAX_FRAGMENTS = 16_384  # beyond: only the rows of the last call are kept (~1 kB each)


MIN_TABLE = 16  # rows of a table worth writing row by row (a tree's leaves)


def _table(value: Any) -> bool:
    return type(value) is tuple and len(value) >= MIN_TABLE and type(value[0]) is tuple


def _has_table(value: Any) -> bool:
    """Whether `to_dict`'s output holds a table `_canonical` writes row by row."""
    kind = type(value)
    if kind is dict:
        return any(map(_has_table, value.values()))
    if kind is list:
        return any(map(_has_table, value))
    return _table(value)


def _canonical(value: Any) -> str:
    """`json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))`, character
    for character (a JSON value's text does not depend on where it sits in compact JSON), where
    the rows of tables of number tuples are written once per row object and reused while the
    row is: the IR of a learning tree's next snapshot shares most leaves' tables with the last
    one, and writing their floats was most of its content hash (~35 ms for the 861-node tree's
    1.8 MB, benchmarks/README.md, issue 17)."""
    out: list[str] = []
    used: dict[int, tuple[tuple, str, bool]] = {}
    _write(value, out, used)
    if len(_FRAGMENTS) + len(used) > MAX_FRAGMENTS:
        _FRAGMENTS.clear()
    _FRAGMENTS.update(used)
    return "".join(out)


def _write(value: Any, out: list[str], used: dict) -> None:
    kind = type(value)
    if kind is dict and all(type(k) is str for k in value):  # a node (to_dict)
        out.append("{")
        for n, k in enumerate(sorted(value)):
            out.append(f'{"," if n else ""}{_ENCODER.encode(k)}:')
            _write(value[k], out, used)
        out.append("}")
    elif kind is list:  # nodes (to_dict)
        out.append("[")
        for n, v in enumerate(value):
            if n:
                out.append(",")
            _write(v, out, used)
        out.append("]")
    elif _table(value):  # a table of rows
        out.append(f"[{','.join([_row(v, used) for v in value])}]")
    else:
        out.append(_ENCODER.encode(value))


def _row(row: Any, used: dict) -> str:
    """One row of a table: its JSON, written once per row object while the row is a tuple of
    plain values or of such tuples. That is checked when the text is reused, not when it is
    written (most rows of a first hash are never met again): a tuple's items cannot be
    replaced, so a row immutable now held the same values when its text was written."""
    key = id(row)
    held = used.get(key) or _FRAGMENTS.get(key)
    if still_held(row, held, key in used):
        used[key] = held if held[2] or key in used else (row, held[1], True)  # checked once
        return held[1]
    text = _ENCODER.encode(row)
    used[key] = (row, text, False)
    return text


def still_held(row: Any, held: tuple | None, trusted: bool = False) -> bool:
    """Whether `held`, the (row, what was made of it, found immutable) kept under `id(row)`,
    still stands for `row`: it is the very object, and its values cannot have changed since
    (found immutable then or now, or `trusted`: met earlier in the same call)."""
    return held is not None and held[0] is row and (held[2] or trusted or immutable(row))


def immutable(value: Any) -> bool:
    """A tuple whose items cannot change: hashable all the way down (a list, dict, set or
    numpy array inside is not; IR tables hold numbers, strings and None). ~1.5 µs for a
    leaf's 18 x 7 table."""
    if type(value) is not tuple:
        return False
    try:
        hash(value)
    except TypeError:
        return False
    return True


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
