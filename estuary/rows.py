"""River-style dict rows ↔ the artifact's input matrix, following the schema.

Absent key → NaN (missing). Unknown keys are ignored, as River ignores keys a model never saw.
A categorical value matches a category by its string, as River's `OneHotEncoder` names its keys
(`f"{key}_{value}"`); an unseen category gives all-zero columns. Bad values raise
`InvalidInputError` naming the feature.

Range policy (issue 18): the formats disagreed on ±inf and ±1e308 rows (NaN in ONNX and Core ML,
an error in PMML, a confident wrong label in TF.js). A numeric value must be finite, within
float64, and for an artifact that computes in float32 (`max_abs=FLOAT32_MAX`) within ±3.4e38;
anything else raises `OutOfRangeError` naming the feature before a runtime sees it. Finite
values the format holds are computed as River computes them (an overflow inside the model is
the model's answer, NaN included: the server answers it with 422).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from .errors import InvalidInputError, OutOfRangeError
from .ir import FeatureSchema

FLOAT64_MAX = float(np.finfo(np.float64).max)
FLOAT32_MAX = float(np.finfo(np.float32).max)  # 3.4028234663852886e38


class RowEncoder:
    """Turns dict rows into float64 matrices for one schema; built once per loaded artifact.
    `max_abs`: the largest magnitude a numeric value may have (FLOAT32_MAX for a float32
    artifact); beyond it, or not finite, is `OutOfRangeError`."""

    def __init__(self, schema: FeatureSchema, max_abs: float = FLOAT64_MAX):
        self.schema = schema
        self.n_columns = len(schema.columns)
        self.max_abs = max_abs
        self._plan = []
        self._numeric: list[tuple[int, str]] = []  # (column, feature name) of numeric features
        start = 0
        for f in schema.features:
            if f.kind != "categorical":
                self._numeric.append((start, f.name))
            width = len(f.columns)
            lookup = {str(c): i for i, c in enumerate(f.categories)}
            self._plan.append((f.key, f.name, f.kind == "categorical", start, width, lookup))
            start += width
        self._columnar = None  # a ColumnarEncoder, made on the first call with columns

    def encode(self, row: Mapping) -> np.ndarray:
        out = np.full(self.n_columns, np.nan)
        self.encode_into(row, out)
        return out

    def encode_many(self, rows: Iterable[Mapping] | Any, columns: Sequence[str] | None = None,
                    out: np.ndarray | None = None) -> np.ndarray:
        """Dict rows, or columns (a pandas DataFrame, a numpy structured array or a 2-D array
        whose column names are `columns`, an Arrow Table/RecordBatch) read by
        `estuary.columnar` in numpy: the same matrix either way. `out` (columns only): a
        C-contiguous float64 [rows, F] array to write the matrix into, as a caller that scores
        batch after batch keeps one bound to its runtime."""
        if is_columnar(rows):
            return self.encode_columns(rows, columns, out)
        if out is not None:
            raise ValueError("out is for columns (a DataFrame, a numpy or Arrow table)")
        if isinstance(rows, (Mapping, str, bytes)) or not isinstance(rows, Iterable):
            raise InvalidInputError("<rows>", f"expected a list of dict rows or a table of "
                                    f"columns, not {type(rows).__name__}: use predict_one for "
                                    "one row")
        rows = rows if isinstance(rows, (list, tuple)) else list(rows)
        out = self.encode_plain(rows)
        if out is not None:
            return out
        out = np.full((len(rows), self.n_columns), np.nan)
        for i, row in enumerate(rows):
            self.encode_into(row, out[i])
        return out

    def encode_columns(self, data: Any, columns: Sequence[str] | None = None,
                       out: np.ndarray | None = None) -> np.ndarray:
        """`encode_many` of a table of columns (`is_columnar(data)`), range policy included."""
        if self._columnar is None:
            from .columnar import ColumnarEncoder  # imports this module

            self._columnar = ColumnarEncoder(self.schema)
        return self._in_range(self._columnar.encode(data, columns, out=out))

    def encode_plain(self, rows: Sequence[Mapping]) -> np.ndarray | None:
        """The matrix of dict rows a feature at a time (one list and one numpy conversion per
        feature instead of a Python walk per row: ~3x faster on parity's 2k probe rows), when
        every row is a dict, every feature is read by its key, and every numeric value is a
        float or int `encode_into` takes as it is (or absent, or None); None otherwise (a bool,
        a NaN, a value out of range, a bad category...), and the caller encodes row by row,
        whose rules and errors these are. Equal to `encode_into`'s matrix bit for bit."""
        if any(type(r) is not dict for r in rows):
            return None
        out = np.full((len(rows), self.n_columns), np.nan)
        limit = self.max_abs
        for key, name, categorical, start, width, lookup in self._plan:
            if name != key:
                return None
            column = [r.get(key) for r in rows]
            if categorical:
                if not _plain_categories(name, column, out, start, width, lookup):
                    return None
                continue
            kinds = set(map(type, column))
            if not kinds <= _PLAIN:
                return None
            if kinds == {type(None)}:
                continue  # missing on every row
            if int in kinds and not all(-limit <= v <= limit for v in column if type(v) is int):
                return None  # an int past the limit would round onto it as a float
            try:
                values = np.array(column, dtype=np.float64)
            except OverflowError:  # an int beyond float64
                return None
            missing = np.isnan(values)
            if int(missing.sum()) != column.count(None):
                return None  # a NaN value (not a missing key): encode_into says why
            if not (np.abs(values[~missing]) <= limit).all():
                return None  # ±inf or beyond the range policy's limit
            out[:, start] = values
        return out

    def encode_into(self, row: Mapping, out: np.ndarray) -> None:
        """Write one row into `out` (which holds NaN); the hot path of every runtime."""
        if not isinstance(row, Mapping):
            raise InvalidInputError("<row>", f"a row must be a dict, not {type(row).__name__}")
        get = row.get
        limit = self.max_abs
        for key, name, categorical, start, width, lookup in self._plan:
            value = get(key, _ABSENT)
            if value is _ABSENT and name != key:
                value = get(name, _ABSENT)
            if value is _ABSENT or value is None:
                continue
            kind = type(value)
            if kind is float or kind is int:
                if not categorical:
                    if not -limit <= value <= limit:  # NaN, ±inf, too large: one comparison
                        raise _refused(name, value, limit)
                    out[start] = value
                    continue
            if categorical:
                self._encode_category(name, value, out, start, width, lookup)
            else:
                v = _number(name, value)
                if not -limit <= v <= limit:
                    raise _refused(name, value, limit)
                out[start] = v

    def _in_range(self, X: np.ndarray) -> np.ndarray:
        """The range policy on a whole matrix (the columnar path; NaN there is missing): one
        pass for the largest and smallest value (one-hot columns hold only 0, 1 and NaN); the
        per-column pass runs only to name the feature of a value out of range."""
        if not self._numeric or not X.size:
            return X
        limit = self.max_abs
        if np.fmax.reduce(X, axis=None) <= limit and np.fmin.reduce(X, axis=None) >= -limit:
            return X
        for column, name in self._numeric:
            values = X[:, column]
            with np.errstate(invalid="ignore"):
                bad = np.abs(values) > limit
            if bad.any():
                raise _refused(name, float(values[np.argmax(bad)]), limit)
        return X  # every value NaN (missing)

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
_PLAIN = {float, int, type(None)}


def _plain_categories(name: str, column: list, out: np.ndarray, start: int, width: int,
                      lookup: dict) -> bool:
    """One categorical feature's one-hot columns of `column` (None: missing), as
    `encode_into` writes them; False for a value it would refuse."""
    block = out[:, start:start + width]
    for i, value in enumerate(column):
        if value is None:
            continue
        if isinstance(value, (list, dict, set, tuple)):
            return False
        try:
            text = str(value)
        except ValueError:
            text = None
        block[i] = 0.0
        hit = lookup.get(text)
        if hit is not None:
            block[i, hit] = 1.0
    return True


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


def _refused(name: str, value: object, limit: float) -> InvalidInputError:
    """Why a number the range policy refuses is refused (NaN: the missing-value rule)."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except OverflowError:
        return _too_large(name, value)
    if v != v:
        return InvalidInputError(name, "NaN is not a value: leave the key out to mark it missing")
    if math.isinf(v):
        return OutOfRangeError(name, f"{v} is not a value the formats agree on (each would "
                               "answer it differently): send a finite number, or leave the key "
                               "out to mark it missing")
    if abs(v) > FLOAT64_MAX:  # pragma: no cover  (float() above would have overflowed)
        return _too_large(name, value)
    return OutOfRangeError(name, f"{v:.3g} is beyond ±{limit:.3g}, the float32 range this "
                           "format computes in (it would be infinity there): scale it, or use a "
                           "float64 format (ONNX, PMML) for such values")


def _is_number(value: object) -> bool:
    return isinstance(value, (Real, np.number)) and not isinstance(value, (str, bytes))


def _too_large(name: str, value: object) -> InvalidInputError:
    kind = type(value).__name__
    return OutOfRangeError(name, f"this {kind} is beyond the float64 range (±1.8e308) every "
                           "artifact computes in: scale it or leave the key out")


def is_columnar(data: Any) -> bool:
    """True for the column containers `estuary.columnar` reads (never imports pandas/Arrow)."""
    if isinstance(data, np.ndarray):
        return True
    kind = type(data)
    module = kind.__module__.split(".", 1)[0]
    return (module == "pandas" and kind.__name__ == "DataFrame") or (
        module == "pyarrow" and kind.__name__ in ("Table", "RecordBatch"))
