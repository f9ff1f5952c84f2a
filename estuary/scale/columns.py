"""Columns → an artifact's input matrix, following its schema, without per-row dicts.

The same rules as `estuary.rows.RowEncoder`, column by column: a feature's column is the one
named like the feature; a missing column, a null and a NaN are all "missing" (NaN in the
matrix; a dict row would leave the key out); a categorical value matches a category by its
string (`str(value)`, as River's `OneHotEncoder` names its keys) and an unseen one gives zeros.
Columns the schema does not name are ignored. A numeric feature in a column of text is an
`InvalidInputError` naming the column.

>>> X = encode_frame(model.metadata.schema, pandas_df)  # [len(df), len(schema.columns)] float64
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..ir import FeatureSchema


def encode_frame(schema: FeatureSchema, frame: Any,
                 aliases: dict[str, str] | None = None) -> np.ndarray:
    """A pandas DataFrame → the float64 input matrix [N, F] of `schema`; `aliases` maps a
    feature to another column to read it from."""
    n = len(frame)
    out = np.full((n, len(schema.columns)), np.nan)
    start = 0
    for f in schema.features:
        width = len(f.columns)
        name = (aliases or {}).get(f.name, f.name)
        if name in frame.columns:
            column = frame[name]
            if f.kind == "categorical":
                _one_hot(f.categories, column, out[:, start:start + width])
            else:
                out[:, start] = _numeric(f.name, column)
        start += width
    return out


def _numeric(name: str, column: Any) -> np.ndarray:
    kind = column.dtype.kind
    if kind in "fiub":
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    try:  # object columns: numbers and None (e.g. nullable ints)
        return column.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(name, f"column of {column.dtype} where the model expects "
                                "numbers: cast it to a numeric type") from e


def _one_hot(categories: tuple, column: Any, block: np.ndarray) -> None:
    lookup = {str(c): i for i, c in enumerate(categories)}
    values = column.to_numpy(dtype=object)
    present = ~column.isna().to_numpy()
    block[present] = 0.0
    rows = np.flatnonzero(present)
    hits = np.fromiter((lookup.get(str(v), -1) for v in values[rows]), dtype=np.int64,
                       count=len(rows))
    found = hits >= 0
    block[rows[found], hits[found]] = 1.0


__all__ = ["encode_frame"]
