"""Columns (pandas, numpy, Arrow) → an artifact's input matrix, by the schema, in numpy.

Users who score in batch hold columns, not dicts; building a dict per row cost 4–5× the
inference. The rules are `estuary.rows.RowEncoder`'s, column by column, so both paths give the
same matrix bit for bit (tests/test_columnar.py compares them on random rows):

- a feature's column is named like the feature's key, else like its name; a column the schema
  does not name is ignored, a missing column makes the feature missing (NaN) on every row;
- a null (None, pandas NA, Arrow null) is missing; so is a NaN (a column has no key to leave out);
- numbers and bools → float64; text, or anything else that is not a number, in a numeric
  feature's column → `InvalidInputError` naming the feature;
- a categorical value matches a category by its string (`str(value)` of the Python scalar, as
  River's `OneHotEncoder` names its keys); an unseen category gives all-zero columns.

>>> X = ColumnarEncoder(model.metadata.schema).encode(pandas_df)  # [len(df), F] float64
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .ir import FeatureSchema
from .rows import _number

_FLAT = (bool, int, float, type(None), np.float64, np.float32, np.int64, np.int32, np.bool_)
_CONTAINERS = (list, dict, set, tuple)


class ColumnarEncoder:
    """Turns column containers into float64 matrices for one schema; built once per artifact."""

    def __init__(self, schema: FeatureSchema):
        self.schema = schema
        self.n_columns = len(schema.columns)
        self._plan = []
        start = 0
        for f in schema.features:
            width = len(f.columns)
            lookup = {str(c): i for i, c in enumerate(f.categories)}  # RowEncoder's: last wins
            self._plan.append((f.key, f.name, f.kind == "categorical", start, width,
                               _Categories(lookup)))
            start += width
        self._plans: dict[tuple, tuple] = {}  # by column layout

    def encode(self, data: Any, columns: Sequence[str] | None = None,
               aliases: dict[str, str] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """The input matrix of a DataFrame, a structured array, a 2-D array whose column names
        are `columns`, or an Arrow Table/RecordBatch; `aliases` maps a feature's name to
        another column to read it from. `out`: a C-contiguous float64 [rows, F] array to write
        the matrix into (every cell is written) and return, instead of a new one."""
        array = isinstance(data, np.ndarray)
        if array:  # a 2-D array's names are checked before anything reads it
            n, column = _source(data, columns)
        matrix = None if aliases else _number_matrix(data, columns)
        if matrix is not None:  # numeric features copied from one matrix in one go
            values, names = matrix
            starts, sources, rest, whole, to = self._matrix_plan(names, not array)
            if whole:  # every column from it
                if isinstance(values, _Blocks):
                    out = self._out(out, values.n_rows)
                    values.copy_into(out, to, starts, sources)
                    return out
                same = sources == starts and values.shape[1] == self.n_columns
                if out is None:
                    return (np.array(values, dtype=np.float64, order="C") if same  # one copy
                            else np.ascontiguousarray(values[:, sources], dtype=np.float64))
                out = self._out(out, len(values))
                out[...] = values if same else values[:, sources]
                return out
        else:
            starts, sources, rest, to = [], [], self._plan, None
        if not array:
            n, column = _source(data, columns)
        if out is None:
            out = np.full((n, self.n_columns), np.nan)
        else:
            self._out(out, n).fill(np.nan)
        for key, name, categorical, start, width, categories in rest:
            found = column(aliases[name]) if aliases and name in aliases else column(key)
            if found is None and name != key:
                found = column(name)
            if found is None:
                continue
            values_, missing = found
            if categorical:
                _one_hot(name, values_, missing, categories, out[:, start:start + width])
            else:
                out[:, start] = _numbers(name, values_, missing)
        if starts and isinstance(values, _Blocks):
            values.copy_into(out, to, starts, sources)
        elif starts:
            out[:, starts] = values[:, sources]  # one copy for all of them
        return out

    def _out(self, out: np.ndarray | None, n: int) -> np.ndarray:
        """`out`, checked to fit the matrix of `n` rows, or a new one."""
        if out is None:
            return np.empty((n, self.n_columns))
        if out.shape != (n, self.n_columns) or out.dtype != np.float64 or \
                not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float64 array of {(n, self.n_columns)}")
        return out

    def _matrix_plan(self, names: tuple, any_key: bool) -> tuple:
        """For a matrix whose columns are `names`: the output columns of the numeric features
        it holds, their positions in it, the plan of every other feature (read column by
        column), whether they fill every output column, and the map of its columns to output
        columns (None when one is read twice). Made once per column layout (a batch job sends
        the same layout every call).
        `any_key`: a feature's key of any hashable type matches a column (pandas), else only
        a str key does (numpy names its columns by str)."""
        made = self._plans.get((names, any_key))
        if made is None:
            position = {c: i for i, c in enumerate(names)}
            starts, sources, rest = [], [], []
            for step in self._plan:
                key, name, categorical, start = step[:4]
                j = None
                if not categorical and (isinstance(key, str) or any_key and _hashable(key)):
                    j = position.get(key)
                if not categorical and j is None and name != key:
                    j = position.get(name)
                if j is None:
                    rest.append(step)
                else:
                    starts.append(start)
                    sources.append(j)
            to = None  # frame column → output column (-1: unread); None: one is read twice
            if len(set(sources)) == len(sources):
                to = np.full(len(names), -1, dtype=np.intp)
                to[sources] = starts
                to = (to, bool(to.min() >= 0))  # and whether every column is read
            made = (starts, sources, rest, not rest and starts == list(range(self.n_columns)), to)
            if len(self._plans) >= 8:  # a few layouts at a time (clear: safe across threads)
                self._plans.clear()
            self._plans[(names, any_key)] = made
        return made


class _Categories:
    """A categorical feature's texts → one-hot index: a dict, and the same as sorted numpy
    texts for str columns (unless a text holds a NUL, which numpy str arrays drop)."""

    def __init__(self, lookup: dict[str, int]):
        self.lookup = lookup
        texts = sorted(lookup)
        self.sorted = (np.array(texts, dtype=str)
                       if texts and not any("\0" in t for t in texts) else None)
        self.where = np.array([lookup[t] for t in texts], dtype=np.int64)

    def find(self, name: str, values: Any) -> np.ndarray:
        """Each value's category index (by `str(value)`), -1 where it is none of them."""
        if isinstance(values, np.ndarray) and values.dtype.kind == "U" and self.sorted is not None:
            pos = np.minimum(np.searchsorted(self.sorted, values), len(self.sorted) - 1)
            return np.where(self.sorted[pos] == values, self.where[pos], -1)
        get = self.lookup.get
        out = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values.tolist() if isinstance(values, np.ndarray) else values):
            if isinstance(v, _CONTAINERS):
                raise InvalidInputError(name, f"expected a category, got {type(v).__name__}")
            try:
                out[i] = get(str(v), -1)
            except ValueError:  # an int too long for str() (Python's digit limit) is no category
                out[i] = -1
        return out


# ----------------------------------------------------------------------------- sources
# A source gives (rows, column) where column(key) is None or (values 1-D ndarray, missing mask
# or None); values' dtype is numeric/bool, str, or object.


def _source(data: Any, columns: Sequence[str] | None) -> tuple[int, Any]:
    if isinstance(data, np.ndarray):
        return _numpy_source(data, columns)
    name = type(data).__name__
    if name == "DataFrame":
        return len(data), lambda key: _pandas_column(data, key)
    if name in ("Table", "RecordBatch"):
        names = {c: i for i, c in enumerate(data.column_names)}
        return data.num_rows, lambda key: (_arrow_column(data.column(names[key]))
                                           if isinstance(key, str) and key in names else None)
    raise InvalidInputError("<rows>", f"cannot read columns from {name}: give a list of dict "
                            "rows, a pandas DataFrame, a numpy array or an Arrow table")


def _numpy_source(data: np.ndarray, columns: Sequence[str] | None) -> tuple[int, Any]:
    if data.dtype.names is not None:
        if data.ndim != 1:
            raise InvalidInputError("<rows>", f"a structured array of shape {data.shape}: give "
                                    "one dimension (one record per row)")
        names = set(data.dtype.names)
        return len(data), lambda key: (_numpy_column(data[key])
                                       if isinstance(key, str) and key in names else None)
    if data.ndim != 2 or columns is None:
        raise InvalidInputError("<rows>", f"a numpy array of shape {data.shape} has no column "
                                "names: pass columns=[...] with a 2-D array, or a structured "
                                "array (for an already encoded matrix call run(X))")
    names = [str(c) for c in columns]
    if len(names) != data.shape[1] or len(set(names)) != len(names):
        raise InvalidInputError("<columns>", f"{len(names)} column names for a {data.shape[1]}"
                                "-column array (or names repeat): give one distinct name each")
    index = {c: i for i, c in enumerate(names)}
    return data.shape[0], lambda key: (_numpy_column(data[:, index[key]])
                                       if isinstance(key, str) and key in index else None)


def _numpy_column(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if values.dtype.kind == "O":
        return values, _object_missing(values)
    return values, None


def _object_missing(values: np.ndarray) -> np.ndarray:
    """None, NaN and pandas' NA/NaT in an object array (without importing pandas)."""
    return np.fromiter(map(_is_null, values), dtype=bool, count=len(values))


def _is_null(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, (float, np.floating)):
        return v != v
    return type(v).__name__ in ("NAType", "NaTType")


def _number_matrix(data: Any, columns: Sequence[str] | None) -> tuple[Any, tuple] | None:
    """The data's columns of plain numbers (int, uint, float, bool) in one go, and its column
    names, when every column is one: a 2-D numeric array with `columns`, or a DataFrame (its
    blocks, else `to_numpy`, which converts as `astype(float64)` would). None otherwise (text,
    nullable, categorical or repeated columns, structured arrays, Arrow: column by column)."""
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.dtype.kind not in "fiub" or columns is None:
            return None
        return data, tuple(str(c) for c in columns)
    if type(data).__name__ != "DataFrame":
        return None
    names = _names(data.columns)
    if names is None:
        return None
    blocks = _Blocks.of(data, len(names))
    if blocks is not None:
        return blocks, names
    values = data.to_numpy()
    if values.dtype.kind not in "fiub":
        return None
    return values, names


_LAST_INDEX: tuple[Any, tuple | None] = (None, None)  # a frame's columns, and their names


def _names(index: Any) -> tuple | None:
    """A pandas Index's names as a tuple, None when it is empty or names repeat. The last one
    is kept (an Index is immutable): a job scoring row slices of one frame (`iloc`, `head`)
    sends the same Index object every call."""
    global _LAST_INDEX
    last, names = _LAST_INDEX
    if last is not index:
        names = tuple(index.tolist()) if len(index) and index.is_unique else None
        _LAST_INDEX = (index, names)
    return names


class _Blocks:
    """A DataFrame's columns as pandas holds them: one C-contiguous [k, N] array per dtype
    (int64, float64, ...) and the frame positions of its k columns. Copying from them straight
    into the input matrix skips `to_numpy`'s interleaved copy and its dtype resolution: 1k x 9
    (float64 + int64 columns) 10 µs instead of 33, and onnxruntime's run right after it is
    faster too (less memory moved between them). The block manager is pandas' private API:
    anything but plain 2-D numeric numpy blocks, or a pandas without it, takes `to_numpy`."""

    def __init__(self, parts: list[tuple[np.ndarray, np.ndarray]], n_rows: int):
        self.parts = parts
        self.n_rows = n_rows

    @classmethod
    def of(cls, frame: Any, width: int) -> _Blocks | None:
        """The blocks of `frame`, whose `width` columns they must hold between them."""
        try:
            blocks = frame._mgr.blocks
            n = blocks[0].shape[-1]  # every block is [k, rows]
        except (AttributeError, IndexError, TypeError):
            return None
        parts = []
        for block in blocks:
            values = getattr(block, "values", None)
            locs = getattr(getattr(block, "mgr_locs", None), "as_array", None)
            if not (isinstance(values, np.ndarray) and values.ndim == 2
                    and values.dtype.kind in "fiub" and isinstance(locs, np.ndarray)
                    and locs.dtype == np.intp and values.shape == (len(locs), n)):
                return None
            parts.append((values, locs))
            width -= len(locs)
        return cls(parts, n) if width == 0 else None

    def copy_into(self, out: np.ndarray, to: tuple[np.ndarray, bool] | None, starts: list[int],
                  sources: list[int]) -> None:
        """out[:, starts[i]] = frame column sources[i] as float64, a block at a time (its
        transposed rows written straight into their output columns); `to`: the map of frame
        columns to output columns (-1: not read) and whether every one is read, None when a
        column is read twice."""
        if to is None:  # a column read twice: one column at a time
            for start, source in zip(starts, sources):
                for values, locs in self.parts:
                    hit = np.flatnonzero(locs == source)
                    if len(hit):
                        out[:, start] = values[hit[0]]
            return
        to, every = to
        for values, locs in self.parts:
            where = to[locs]
            if every or where.min() >= 0:
                out[:, where] = values.T
            else:
                used = where >= 0
                if used.any():
                    out[:, where[used]] = values[used].T


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _pandas_column(frame: Any, key: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    try:
        if key not in frame.columns:
            return None
    except TypeError:  # an unhashable key
        return None
    column = frame[key]
    if getattr(column, "ndim", 1) != 1:
        raise InvalidInputError(str(key), "the DataFrame has several columns of this name: "
                                "keep one")
    dtype = column.dtype
    if isinstance(dtype, np.dtype):
        values = column.to_numpy()
        return values, (_object_missing(values) if dtype.kind == "O" else None)
    missing = column.isna().to_numpy(dtype=bool)
    if dtype.name == "category":
        values = column.astype(object).to_numpy(dtype=object, na_value=None)
        return values, missing
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    if numpy_dtype is not None and numpy_dtype.kind in "iufb":
        fill = False if numpy_dtype.kind == "b" else 0
        return column.to_numpy(dtype=numpy_dtype, na_value=fill), missing
    return column.to_numpy(dtype=object, na_value=None), missing


def _arrow_column(column: Any) -> tuple[np.ndarray, np.ndarray | None]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if getattr(column, "num_chunks", 0) == 1:
        column = column.chunk(0)  # an Array converts faster than a one-chunk ChunkedArray
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    missing = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        if missing is not None:
            column = pc.fill_null(column, pa.scalar(False if pa.types.is_boolean(kind) else 0,
                                                    type=kind))
        return column.to_numpy(zero_copy_only=False), missing
    values = np.empty(len(column), dtype=object)
    values[:] = column.to_pylist()
    return values, missing


# ----------------------------------------------------------------------------- encoding


def _numbers(name: str, values: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
    """A numeric feature's column as float64, NaN where missing."""
    kind = values.dtype.kind
    if kind == "O":
        return _object_numbers(name, values, missing)
    if kind not in "fiub":
        raise InvalidInputError(name, f"column of {values.dtype} where the model expects "
                                "numbers: cast it to a numeric type")
    out = values.astype(np.float64)
    if missing is not None:
        out[missing] = np.nan
    return out


def _object_numbers(name: str, values: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
    present = values if missing is None else values[~missing]
    types = set(map(type, present))
    if types <= set(_FLAT):  # the common case: plain numbers, converted by numpy in C
        filled = values.copy()
        if missing is not None:
            filled[missing] = np.nan
        try:
            return filled.astype(np.float64)
        except OverflowError:
            pass  # an int beyond float64: the row loop below names it
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values.tolist()):
        if missing is None or not missing[i]:
            out[i] = _number(name, v)  # RowEncoder's own check and message
    return out


def _one_hot(name: str, values: np.ndarray, missing: np.ndarray | None,
             categories: _Categories, block: np.ndarray) -> None:
    """Write a categorical feature's one-hot columns: zeros where present, 1 at its category."""
    kind = values.dtype.kind
    if kind == "f":
        nan = np.isnan(values)
        missing = nan if missing is None else missing | nan
    rows = np.arange(len(values)) if missing is None else np.flatnonzero(~missing)
    block[rows] = 0.0
    if not len(rows):
        return
    present = values[rows]
    if kind in "iu" and int(present.max()) - int(present.min()) < 1 << 16:
        hits = _small_ints(name, present, categories)
    elif kind == "b":
        hits = categories.find(name, [False, True])[present.view(np.uint8)]
    elif kind in "iuf":  # few distinct values: str() each Python scalar once
        bits = present.view(f"i{present.itemsize}") if kind == "f" else present  # keeps -0.0
        uniques, inverse = np.unique(bits, return_inverse=True)
        uniques = uniques.view(present.dtype) if kind == "f" else uniques
        hits = categories.find(name, uniques.tolist())[inverse]
    else:
        hits = categories.find(name, present)
    found = hits >= 0
    block[rows[found], hits[found]] = 1.0


def _small_ints(name: str, values: np.ndarray, categories: _Categories) -> np.ndarray:
    """Category indices of integers within a small range: a table over the range, in numpy."""
    low = values.min()
    offsets = ((values - low).astype(np.intp) if values.dtype == np.uint64  # no overflow
               else values.astype(np.int64) - int(low))
    seen = np.flatnonzero(np.bincount(offsets))
    table = np.full(int(offsets.max()) + 1, -1, dtype=np.int64)
    table[seen] = categories.find(name, [int(low) + int(i) for i in seen])
    return table[offsets]


__all__ = ["ColumnarEncoder"]
