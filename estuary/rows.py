"""River-style dict rows ↔ the artifact's input matrix, following the schema.

Absent key → NaN (missing). Unknown keys are ignored, as River ignores keys a model never saw.
A categorical value matches a category by its string, as River's `OneHotEncoder` names its keys
(`f"{key}_{value}"`); an unseen category gives all-zero columns. Bad values raise
`InvalidInputError` naming the feature.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .ir import FeatureSchema


class RowEncoder:
    """Turns dict rows into float64 matrices for one schema; built once per loaded artifact."""

    def __init__(self, schema: FeatureSchema):
        self.schema = schema
        self.n_columns = len(schema.columns)
        self._plan = []
        start = 0
        for f in schema.features:
            width = len(f.columns)
            lookup = {str(c): i for i, c in enumerate(f.categories)}
            self._plan.append((f.key, f.name, f.kind == "categorical", start, width, lookup))
            start += width
        self._columnar = None  # a ColumnarEncoder, made on the first call with columns

    def encode(self, row: Mapping) -> np.ndarray:
        out = np.full(self.n_columns, np.nan)
        self.encode_into(row, out)
        return out

    def encode_many(self, rows: Iterable[Mapping] | Any,
                    columns: Sequence[str] | None = None) -> np.ndarray:
        """Dict rows, or columns (a pandas DataFrame, a numpy structured array or a 2-D array
        whose column names are `columns`, an Arrow Table/RecordBatch) read by
        `estuary.columnar` in numpy: the same matrix either way."""
        if is_columnar(rows):
            if self._columnar is None:
                from .columnar import ColumnarEncoder  # imports this module

                self._columnar = ColumnarEncoder(self.schema)
            return self._columnar.encode(rows, columns)
        if isinstance(rows, (Mapping, str, bytes)) or not isinstance(rows, Iterable):
            raise InvalidInputError("<rows>", f"expected a list of dict rows or a table of "
                                    f"columns, not {type(rows).__name__}: use predict_one for "
                                    "one row")
        rows = rows if isinstance(rows, (list, tuple)) else list(rows)
        out = np.full((len(rows), self.n_columns), np.nan)
        for i, row in enumerate(rows):
            self.encode_into(row, out[i])
        return out

    def encode_into(self, row: Mapping, out: np.ndarray) -> None:
        """Write one row into `out` (which holds NaN); the hot path of every runtime."""
        if not isinstance(row, Mapping):
            raise InvalidInputError("<row>", f"a row must be a dict, not {type(row).__name__}")
        get = row.get
        for key, name, categorical, start, width, lookup in self._plan:
            value = get(key, _ABSENT)
            if value is _ABSENT and name != key:
                value = get(name, _ABSENT)
            if value is _ABSENT or value is None:
                continue
            kind = type(value)
            if kind is float or kind is int:
                if not categorical:
                    if value != value:
                        raise InvalidInputError(
                            name, "NaN is not a value: leave the key out to mark it missing")
                    try:
                        out[start] = value
                    except OverflowError:
                        raise _too_large(name, value) from None
                    continue
            if categorical:
                self._encode_category(name, value, out, start, width, lookup)
            else:
                out[start] = _number(name, value)

    @staticmethod
    def _encode_category(name: str, value: object, out: np.ndarray, start: int, width: int,
                         lookup: dict) -> None:
        if isinstance(value, (list, dict, set, tuple)):
            raise InvalidInputError(name, f"expected a category, got {type(value).__name__}")
        out[start:start + width] = 0.0
        try:
            text = str(value)
        except ValueError:  # an int too long for str() (Python's digit limit) is no category
            text = None
        hit = lookup.get(text)
        if hit is not None:
            out[start + hit] = 1.0


_ABSENT = object()


def _number(name: str, value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if _is_number(value):
        try:
            v = float(value)
        except OverflowError:
            raise _too_large(name, value) from None
        if math.isnan(v):
            raise InvalidInputError(name, "NaN is not a value: leave the key out to mark it missing")
        return v
    raise InvalidInputError(name, f"expected a number, got {type(value).__name__} {value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (Real, np.number)) and not isinstance(value, (str, bytes))


def _too_large(name: str, value: object) -> InvalidInputError:
    kind = type(value).__name__
    return InvalidInputError(name, f"this {kind} is beyond the float64 range (±1.8e308) every "
                             "artifact computes in: scale it or leave the key out")


def is_columnar(data: Any) -> bool:
    """True for the column containers `estuary.columnar` reads (never imports pandas/Arrow)."""
    if isinstance(data, np.ndarray):
        return True
    kind = type(data)
    module = kind.__module__.split(".", 1)[0]
    return (module == "pandas" and kind.__name__ == "DataFrame") or (
        module == "pyarrow" and kind.__name__ in ("Table", "RecordBatch"))
