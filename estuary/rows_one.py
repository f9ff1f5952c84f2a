"""One dict row → a pre-allocated input row, by straight-line code made once per schema.

`RowEncoder.encode_into` walks a plan tuple per feature and writes numpy scalars (~0.2 µs a
feature); a one-row call through onnxruntime costs ~4–5 µs in all, so the walk alone was a third
of it. `compile_row_encoder` writes, once per schema, one statement block per feature into a
Python function that stores into a `memoryview` of the row. Only the common values take this
fast path: a plain float or int within the encoder's range (`RowEncoder.max_abs`), None or an
absent key (missing), a str category. Any other value sends the whole row to
`RowEncoder.encode_into` itself, so rules and errors stay RowEncoder's, whatever they become
(tests/test_onnx_one_row.py compares both on random rows). Every column is written on every
call, so the buffer needs no reset.

>>> encode = compile_row_encoder(RowEncoder(schema), row)  # row: np.ndarray [F]
>>> encode({"x": 1.0}, memoryview(row))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .rows import _ABSENT, RowEncoder

NAN = float("nan")
FLOAT64_MAX = float(np.finfo(np.float64).max)


def compile_row_encoder(encoder: RowEncoder,
                        row: np.ndarray) -> Callable[[Mapping, memoryview], None]:
    """A function `encode(x, out)` writing `x`'s input columns into `out` (a memoryview of
    `row`, len(schema.columns) float64), exactly as `encoder.encode_into(x, row)` would."""

    def slow(x: Mapping) -> None:
        row[:] = np.nan
        encoder.encode_into(x, row)

    names: dict = {"_A": _ABSENT, "_slow": slow, "NAN": NAN,
                   "L": float(getattr(encoder, "max_abs", FLOAT64_MAX))}
    lines = ["def encode(x, out):",
             "    if x.__class__ is not dict:",
             "        return _slow(x)",
             "    get = x.get"]
    start = 0
    for i, f in enumerate(encoder.schema.features):
        names[f"K{i}"] = f.key
        width = len(f.columns)
        missing = "v is None" if f.name != f.key else "v is _A or v is None"
        lines.append(f"    v = get(K{i}, _A)")
        if f.kind == "numeric":
            lines += ["    c = v.__class__",
                      f"    if (c is float or c is int) and -L <= v <= L: out[{start}] = v if c "
                      f"is float else float(v)",
                      f"    elif {missing}: out[{start}] = NAN",
                      "    else: return _slow(x)"]
        else:
            names[f"L{i}"] = {str(c): j for j, c in enumerate(f.categories)}  # last wins
            block = range(start, start + width)
            zeros = "; ".join(f"out[{j}] = 0.0" for j in block)
            nans = "; ".join(f"out[{j}] = NAN" for j in block)
            lines += ["    if v.__class__ is str:",
                      f"        {zeros}",
                      f"        h = L{i}.get(v)",
                      "        if h is not None:",
                      f"            out[{start} + h] = 1.0",
                      f"    elif {missing}:",
                      f"        {nans}",
                      "    else:",
                      "        return _slow(x)"]
        start += width
    exec(compile("\n".join(lines), f"<estuary row encoder {len(encoder.schema.features)} "
                 "features>", "exec"), names)  # the source holds no user text: keys by name
    return names["encode"]


__all__ = ["compile_row_encoder"]
