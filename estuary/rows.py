"""River-style dict rows ↔ the artifact's input matrix, following the schema.

Absent key → NaN (missing). Unknown keys are ignored, as River ignores keys a model never saw.
A categorical value matches a category by its string, as River's `OneHotEncoder` names its keys
(`f"{key}_{value}"`); an unseen category gives all-zero columns. Bad values raise
`InvalidInputError` naming the feature.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Real

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

    def encode(self, row: Mapping) -> np.ndarray:
        if not isinstance(row, Mapping):
            raise InvalidInputError("<row>", f"a row must be a dict, not {type(row).__name__}")
        out = np.full(self.n_columns, np.nan)
        for key, name, categorical, start, width, lookup in self._plan:
            value = row.get(key, None) if key in row else row.get(name, None)
            if value is None:
                continue
            if categorical:
                if isinstance(value, (list, dict, set, tuple, float)) and not _is_number(value):
                    raise InvalidInputError(name, f"expected a category, got {type(value).__name__}")
                out[start:start + width] = 0.0
                hit = lookup.get(str(value))
                if hit is not None:
                    out[start + hit] = 1.0
                continue
            if isinstance(value, bool):
                out[start] = float(value)
            elif _is_number(value):
                v = float(value)
                if math.isnan(v):
                    raise InvalidInputError(
                        name, "NaN is not a value: leave the key out to mark it missing")
                out[start] = v
            else:
                raise InvalidInputError(
                    name, f"expected a number, got {type(value).__name__} {value!r}")
        return out

    def encode_many(self, rows: Iterable[Mapping]) -> np.ndarray:
        encoded = [self.encode(r) for r in rows]
        if not encoded:
            return np.empty((0, self.n_columns))
        return np.vstack(encoded)


def _is_number(value: object) -> bool:
    return isinstance(value, (Real, np.number)) and not isinstance(value, (str, bytes))
