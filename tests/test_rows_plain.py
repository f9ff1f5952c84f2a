"""`RowEncoder.encode_plain` (dict rows a feature at a time, parity's probe rows) gives
`encode_into`'s matrix bit for bit, or None whenever a row would be refused or needs its rules
(then the caller encodes row by row and reports that row's error)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from test_columnar import _rows, _same_bits, _schema

from estuary.errors import InvalidInputError
from estuary.ir import Feature, FeatureSchema
from estuary.rows import FLOAT32_MAX, RowEncoder


def _row_by_row(encoder: RowEncoder, rows: list[dict]) -> tuple[np.ndarray, bool]:
    out = np.full((len(rows), encoder.n_columns), np.nan)
    refused = False
    for i, row in enumerate(rows):
        try:
            encoder.encode_into(row, out[i])
        except InvalidInputError:  # OutOfRangeError is one
            refused = True
    return out, refused


@pytest.mark.parametrize("max_abs", [None, FLOAT32_MAX])
@pytest.mark.parametrize("seed", range(40))
def test_plain_rows_encode_as_row_by_row_or_not_at_all(seed, max_abs):
    rng = random.Random(seed)
    schema = _schema(rng)
    rows = _rows(rng, schema, rng.randint(0, 60))
    encoder = RowEncoder(schema) if max_abs is None else RowEncoder(schema, max_abs=max_abs)
    expected, refused = _row_by_row(encoder, rows)
    got = encoder.encode_plain(rows)
    if got is not None:
        assert not refused
        _same_bits(got, expected)
    np.testing.assert_array_equal(encoder.encode_many(rows) if not refused else expected,
                                  expected)


PLAIN = [0.0, -0.0, 1.0, -1.5, 1e308, -1e308, 5e-324, 0.1, 3, -7, 0, 2**53 + 1, 10**20, None]


@pytest.mark.parametrize("seed", range(20))
def test_floats_ints_and_none_take_the_one_pass(seed):
    rng = random.Random(seed)
    schema = FeatureSchema((Feature("a", "a"), Feature("b", "b"),
                            Feature("c", "c", "categorical", ("x", "1", "2.5"))))
    rows = []
    for _ in range(rng.randint(1, 50)):
        row = {k: rng.choice(PLAIN) for k in "ab" if rng.random() < 0.8}
        if rng.random() < 0.8:
            row["c"] = rng.choice(["x", 1, 2.5, "zz", None, True])
        rows.append(row)
    encoder = RowEncoder(schema)
    got = encoder.encode_plain(rows)
    assert got is not None
    _same_bits(got, _row_by_row(encoder, rows)[0])


@pytest.mark.parametrize(("value", "in_float64"), [
    (float("nan"), False), (float("inf"), False), (-float("inf"), False), (10**400, False),
    (True, False), (np.float64(1.0), False), ("1.0", False), (FLOAT32_MAX * 2, True),
    (int(FLOAT32_MAX) + 1, True)])
def test_what_a_row_would_refuse_or_convert_leaves_the_one_pass(value, in_float64):
    """NaN, ±inf, too large, bool, numpy scalars, text: None (row by row); past the float32
    limit: None there, taken by a float64 encoder. An int just past the limit is caught before
    it could round onto the limit as a float."""
    schema = FeatureSchema((Feature("a", "a"), Feature("b", "b")))
    rows = [{"a": 1.0, "b": 2.0}, {"a": value}]
    assert RowEncoder(schema, max_abs=FLOAT32_MAX).encode_plain(rows) is None
    assert (RowEncoder(schema).encode_plain(rows) is not None) == in_float64
