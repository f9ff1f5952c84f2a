"""One dict row → a pre-allocated input row, by straight-line code made once per schema.

`RowEncoder.encode_into` walks a plan tuple per feature and writes numpy scalars (~0.2 µs a
feature); a one-row call through onnxruntime costs ~4–5 µs in all, so the walk alone was a third
of it. `compile_row_encoder` writes, once per schema, one statement block per feature into a
Python function that stores floats into a `memoryview` of the row: plain floats take one type
check and one store, everything else goes through the same rules and errors as `RowEncoder`
(tests/test_onnx_one_row.py checks both on random rows). Every column is written on every
call, so the buffer needs no reset.

>>> encode = compile_row_encoder(schema)
>>> row = np.empty(len(schema.columns)); encode({"x": 1.0}, memoryview(row))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import InvalidInputError
from .ir import FeatureSchema
from .rows import _ABSENT, _number, _too_large

NAN = float("nan")
_CONTAINERS = (list, dict, set, tuple)


def _numeric(name: str, key: Any, row: Mapping, value: Any) -> float:
    """The slow half of a numeric feature: absent, None, ints, bools, numpy numbers, errors."""
    if value is _ABSENT and name != key:
        value = row.get(name, _ABSENT)
    if value is _ABSENT or value is None:
        return NAN
    kind = type(value)
    if kind is float or kind is int:
        if value != value:
            raise InvalidInputError(name, "NaN is not a value: leave the key out to mark it missing")
        try:
            return float(value)
        except OverflowError:
            raise _too_large(name, value) from None
    return _number(name, value)


def _category(name: str, key: Any, row: Mapping, value: Any, lookup: dict[str, int],
              out: memoryview, start: int, width: int) -> None:
    """A categorical feature's one-hot block: NaN if missing, zeros and a 1 at its category."""
    if value is _ABSENT and name != key:
        value = row.get(name, _ABSENT)
    if value is _ABSENT or value is None:
        for i in range(start, start + width):
            out[i] = NAN
        return
    if isinstance(value, _CONTAINERS):
        raise InvalidInputError(name, f"expected a category, got {type(value).__name__}")
    for i in range(start, start + width):
        out[i] = 0.0
    try:
        hit = lookup.get(str(value))
    except ValueError:  # an int too long for str() (Python's digit limit) is no category
        hit = None
    if hit is not None:
        out[start + hit] = 1.0


def compile_row_encoder(schema: FeatureSchema) -> Callable[[Mapping, memoryview], None]:
    """A function `encode(row, out)` writing `row`'s input columns into `out` (a memoryview of
    len(schema.columns) float64), exactly as `RowEncoder.encode_into` would."""
    names: dict[str, Any] = {"_A": _ABSENT, "_numeric": _numeric, "_category": _category,
                             "Mapping": Mapping, "InvalidInputError": InvalidInputError}
    lines = ["def encode(row, out):",
             "    if not isinstance(row, Mapping):",
             "        raise InvalidInputError('<row>', 'a row must be a dict, not ' + "
             "type(row).__name__)",
             "    get = row.get"]
    start = 0
    for i, f in enumerate(schema.features):
        names[f"K{i}"], names[f"N{i}"] = f.key, f.name
        width = len(f.columns)
        lines.append(f"    v = get(K{i}, _A)")
        if f.kind == "numeric":
            lines += [f"    if v.__class__ is float and v == v: out[{start}] = v",
                      f"    else: out[{start}] = _numeric(N{i}, K{i}, row, v)"]
        else:
            names[f"L{i}"] = {str(c): j for j, c in enumerate(f.categories)}  # last wins
            lines.append(f"    _category(N{i}, K{i}, row, v, L{i}, out, {start}, {width})")
        start += width
    exec(compile("\n".join(lines), f"<estuary row encoder {len(schema.features)} features>",
                 "exec"), names)  # the source holds no user text: keys are bound by name
    return names["encode"]


__all__ = ["compile_row_encoder"]
