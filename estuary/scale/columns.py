"""Columns → an artifact's input matrix, following its schema, without per-row dicts.

One encoder serves `LoadedModel.predict_many` on columns and the Spark scorer:
`estuary.columnar.ColumnarEncoder` (its docstring gives the rules, which are `RowEncoder`'s).

>>> X = encode_frame(model.metadata.schema, pandas_df)  # [len(df), len(schema.columns)] float64
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..columnar import ColumnarEncoder
from ..ir import FeatureSchema


def encode_frame(schema: FeatureSchema, frame: Any,
                 aliases: dict[str, str] | None = None) -> np.ndarray:
    """A pandas DataFrame → the float64 input matrix [N, F] of `schema`; `aliases` maps a
    feature to another column to read it from."""
    return ColumnarEncoder(schema).encode(frame, aliases=aliases)  # made in ~µs per feature


__all__ = ["encode_frame"]
