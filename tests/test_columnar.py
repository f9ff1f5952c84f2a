"""Columns (pandas, numpy, Arrow) encode to the same matrix as dict rows, bit for bit.

Hypothesis is not installed here, so the property test draws its random schemas and rows from
seeded generators (every seed is a separate case; a failure names it).
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from river import compose, linear_model, preprocessing

import estuary
from estuary.columnar import ColumnarEncoder
from estuary.errors import InvalidInputError, OutOfRangeError
from estuary.ir import Feature, FeatureSchema
from estuary.rows import FLOAT32_MAX, RowEncoder

CATEGORY_KINDS = {
    "text": ["a", "b", "north", "south", "", "é", "1"],
    "int": [0, 1, 2, 7, -3, 10**12],
    "float": [0.5, 1.0, -0.0, 0.1, 1e16, 3.0],
    "bool": [True, False],
    "mixed": ["one", 1, 1.5, True, "x"],
}
UNSEEN = ["zzz", 99, 2.25, None, "True", "1.0", 0.0, False, 10**400]
NUMBERS = [0.0, -0.0, 1.0, -1.5, 1e308, -1e308, 5e-324, 0.1, 1e-7, 3, -7, 0, 2**53 + 1,
           True, False, np.float64(2.5), np.int64(-4), np.float32(0.1)]


def _schema(rng: random.Random) -> FeatureSchema:
    features = []
    for i in range(rng.randint(1, 7)):
        if rng.random() < 0.5:
            features.append(Feature(f"n{i}", f"n{i}"))
        else:
            kind = rng.choice(sorted(CATEGORY_KINDS))
            cats = tuple(rng.sample(CATEGORY_KINDS[kind], rng.randint(1, len(CATEGORY_KINDS[kind]))))
            features.append(Feature(f"c{i}", f"c{i}", "categorical", cats))
    return FeatureSchema(tuple(features))


def _value(rng: random.Random, f: Feature):
    if f.kind == "numeric":
        roll = rng.random()
        return rng.choice(NUMBERS) if roll < 0.4 else rng.uniform(-1e6, 1e6) if roll < 0.8 \
            else rng.randint(-10**9, 10**9)
    return rng.choice(f.categories) if rng.random() < 0.7 else rng.choice(UNSEEN)


def _rows(rng: random.Random, schema: FeatureSchema, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        row = {"ignored": rng.random()}
        for f in schema.features:
            roll = rng.random()
            if roll < 0.15:
                continue  # absent key
            row[f.key] = None if roll < 0.25 else _value(rng, f)
        rows.append(row)
    return rows


def _objects(rows: list[dict], key) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = [r.get(key) for r in rows]
    return out


def _same_bits(a: np.ndarray, b: np.ndarray) -> None:
    """Equal shapes, NaN at the same places, every other float with the same bits (-0.0 too)."""
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    keep = ~np.isnan(a)
    assert np.array_equal(a[keep].view(np.int64), b[keep].view(np.int64))


def _keys(schema: FeatureSchema) -> list[str]:
    return [f.key for f in schema.features] + ["ignored"]


@pytest.mark.parametrize("seed", range(40))
def test_object_columns_encode_as_dict_rows_bit_for_bit(seed):
    """The same Python values, held as object columns in pandas, numpy and Arrow-free numpy
    structured arrays, give RowEncoder's matrix exactly."""
    rng = random.Random(seed)
    schema = _schema(rng)
    rows = _rows(rng, schema, rng.randint(0, 60))
    expected = RowEncoder(schema).encode_many(rows)
    encoder = ColumnarEncoder(schema)
    frame = pd.DataFrame({k: pd.Series(_objects(rows, k), dtype=object) for k in _keys(schema)})
    _same_bits(encoder.encode(frame), expected)
    structured = np.empty(len(rows), dtype=[(k, object) for k in _keys(schema)])
    for k in _keys(schema):
        structured[k] = _objects(rows, k)
    _same_bits(encoder.encode(structured), expected)
    two_d = np.stack([_objects(rows, k) for k in _keys(schema)], axis=1) if rows else \
        np.empty((0, len(_keys(schema))), dtype=object)
    _same_bits(encoder.encode(two_d, columns=_keys(schema)), expected)


def _typed_rows(rng: random.Random, schema: FeatureSchema, n: int) -> list[dict]:
    """Rows whose every feature keeps one Python type (as a typed column holds it)."""
    rows = _rows(rng, schema, n)
    for f in schema.features:
        kinds = {type(f.categories[0])} if f.kind == "categorical" else {float}
        for r in rows:
            v = r.get(f.key)
            if f.kind == "numeric" and v is not None:
                r[f.key] = float(v)
            elif v is not None and (type(v) not in kinds or type(v) is int and abs(v) > 2**62):
                r[f.key] = f.categories[0]  # one type per column, within int64
    return rows


@pytest.mark.parametrize("seed", range(40))
def test_typed_columns_encode_as_dict_rows_bit_for_bit(seed):
    """Typed columns (pandas float64/int64/bool/str and nullable Int64/boolean/string,
    category; Arrow arrays with nulls; numpy float and str arrays) give RowEncoder's matrix."""
    rng = random.Random(1000 + seed)
    schema = _schema(rng)
    rows = _typed_rows(rng, schema, rng.randint(1, 60))
    expected = RowEncoder(schema).encode_many(rows)
    encoder = ColumnarEncoder(schema)
    columns, arrow = {}, {}
    for f in schema.features:
        values = [r.get(f.key) for r in rows]
        kind = type(f.categories[0]) if f.kind == "categorical" else float
        pandas_dtype = {float: "Float64", int: "Int64", bool: "boolean", str: "string"}[kind]
        if rng.random() < 0.5 and None not in values:
            pandas_dtype = {float: "float64", int: "int64", bool: "bool", str: "category"}[kind]
        if kind is float and rng.random() < 0.5:
            pandas_dtype = "float64"  # None becomes NaN: still missing
        columns[f.key] = pd.Series(values, dtype=pandas_dtype)
        arrow[f.key] = pa.array(values)
        if kind is str and rng.random() < 0.5:
            arrow[f.key] = arrow[f.key].dictionary_encode()
    frame = pd.DataFrame(columns, index=range(len(rows)))
    _same_bits(encoder.encode(frame), expected)
    table = pa.table(arrow) if arrow else pa.table({"ignored": [0.0] * len(rows)})
    _same_bits(encoder.encode(table), expected)
    _same_bits(encoder.encode(table.to_batches()[0] if table.num_rows else table), expected)


def test_numeric_matrix_with_column_names_and_missing_columns():
    schema = FeatureSchema((Feature("a", "a"), Feature("b", "b"), Feature("c", "c")))
    X = np.array([[1.0, np.nan], [-0.0, 2.5]])
    got = ColumnarEncoder(schema).encode(X, columns=["c", "a"])
    _same_bits(got, RowEncoder(schema).encode_many([{"c": 1.0}, {"c": -0.0, "a": 2.5}]))
    assert np.isnan(got[:, 1]).all()  # no column "b": missing on every row


def test_int_keys_are_found_by_key_or_by_name():
    schema = FeatureSchema((Feature("3", 3), Feature("k", "k", "categorical", (1, 2))))
    rows = [{3: 1.5, "k": 2}, {"3": 2.5, "k": 5}]
    expected = RowEncoder(schema).encode_many(rows)
    by_key = ColumnarEncoder(schema).encode(pd.DataFrame({3: [1.5, 2.5], "k": [2, 5]}))
    _same_bits(by_key, expected)
    by_name = ColumnarEncoder(schema).encode(pa.table({"3": [1.5, 2.5], "k": [2, 5]}))
    _same_bits(by_name, expected)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "uint64", "bool"])
def test_narrow_and_wide_integer_categories(dtype):
    info = np.iinfo(dtype) if dtype != "bool" else None
    values = [False, True, True] if info is None else [info.min, info.max, info.min + 1, 0]
    schema = FeatureSchema((Feature("k", "k", "categorical", (values[1], values[0], "x")),))
    rows = [{"k": v} for v in values]
    got = ColumnarEncoder(schema).encode(pd.DataFrame({"k": np.array(values, dtype=dtype)}))
    _same_bits(got, RowEncoder(schema).encode_many(rows))


@pytest.mark.parametrize("bad, message", [
    (pd.DataFrame({"a": ["1.5", "2"]}), "expected a number, got str"),
    (pd.DataFrame({"a": pd.Series([1.0, "x"], dtype=object)}), "expected a number, got str"),
    (pd.DataFrame({"a": [1 + 2j]}), "complex128 where the model expects numbers"),
    (pd.DataFrame({"a": pd.Series([10**400], dtype=object)}), "beyond the float64 range"),
    (np.array(["1.5"]).view([("a", "U3")]), "<U3 where the model expects numbers"),
    (pd.DataFrame({"k": pd.Series([[1]], dtype=object), "a": [1.0]}), "expected a category"),
    (np.zeros((2, 2)), "pass columns="),
    (np.zeros(3), "pass columns="),
])
def test_bad_columns_raise_as_dict_rows_do(bad, message):
    schema = FeatureSchema((Feature("a", "a"), Feature("k", "k", "categorical", ("x",))))
    with pytest.raises(InvalidInputError, match=message):
        ColumnarEncoder(schema).encode(bad)


def test_two_d_array_names_must_fit():
    schema = FeatureSchema((Feature("a", "a"),))
    with pytest.raises(InvalidInputError, match="2 column names for a 3-column array"):
        ColumnarEncoder(schema).encode(np.zeros((1, 3)), columns=["a", "b"])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A categorical + numeric pipeline exported to ONNX, and the rows it learned from."""
    rng = random.Random(7)
    rows = [{"x": rng.uniform(-3, 3), "colour": rng.choice(["red", "green", "blue"]),
             "n": rng.randint(0, 3)} for _ in range(300)]
    model = (compose.Select("x") | preprocessing.StandardScaler()) + \
        (compose.Select("colour", "n") | preprocessing.OneHotEncoder())
    model |= linear_model.LogisticRegression()
    for r in rows:
        model.learn_one(r, r["x"] + (r["colour"] == "red") > 0.5)
    path = tmp_path_factory.mktemp("columnar") / "model.onnx"
    estuary.export(model, path, sample=rows[:50])
    return estuary.load(path), rows


def test_loaded_model_scores_columns_exactly_as_dict_rows(exported):
    loaded, rows = exported
    rows = rows + [{"x": 0.25}, {"colour": "purple", "n": 9}, {}]
    frame = pd.DataFrame(rows)
    frame["n"] = frame["n"].astype("Int64")  # a nullable int stays an int: str(1), not "1.0"
    expected = loaded.predict_proba_many(rows)
    assert np.array_equal(loaded.predict_proba_many(frame), expected)
    assert np.array_equal(loaded.predict_proba_many(pa.Table.from_pandas(frame)), expected)
    assert loaded.predict_many(frame) == loaded.predict_many(rows)
    assert np.array_equal(ColumnarEncoder(loaded.metadata.schema).encode(frame),
                          loaded.encoder.encode_many(rows), equal_nan=True)


def test_columns_a_dict_row_would_refuse_are_refused(exported):
    loaded, _ = exported
    with pytest.raises(InvalidInputError, match="x"):
        loaded.predict_proba_many(pd.DataFrame({"x": ["0.5"]}))
    with pytest.raises(InvalidInputError, match="expected a list of dict rows or a table"):
        loaded.predict_proba_many({"x": 1.0})


def test_an_all_number_frame_is_read_as_one_matrix_with_the_same_numbers():
    """int64, float64 (NaN = missing), float32 and bool columns: pandas' one-matrix copy gives
    what the per-column path and dict rows give."""
    schema = FeatureSchema((Feature("i", "i"), Feature("f", "f"), Feature("h", "h"),
                            Feature("b", "b"), Feature("gone", "gone")))
    frame = pd.DataFrame({"i": np.array([1, -2, 2**53 + 1], dtype=np.int64),
                          "f": [0.5, np.nan, -0.0], "h": np.array([0.1, 2, 3], np.float32),
                          "b": [True, False, True], "extra": [9.0, 9.0, 9.0]})
    rows = [{k: v for k, v in r.items() if not (isinstance(v, float) and v != v)}
            for r in frame.astype(object).to_dict("records")]
    for r, h in zip(rows, frame["h"]):
        r["h"] = float(h)
    expected = RowEncoder(schema).encode_many(rows)
    _same_bits(ColumnarEncoder(schema).encode(frame), expected)
    _same_bits(ColumnarEncoder(schema).encode(frame, aliases={"x": "y"}), expected)  # per column


@pytest.mark.parametrize("order", ["schema", "reversed", "extra"])
def test_a_numeric_matrix_in_any_column_order_gives_the_dict_rows_matrix(order):
    """Every feature numeric and present: the matrix is the frame's (or array's) columns
    gathered in one copy, whatever their order; an extra column is ignored."""
    rng = random.Random(order)
    schema = FeatureSchema(tuple(Feature(f"n{i}", f"n{i}") for i in range(6)))
    special = [0.0, -0.0, 1.0, -1.5, 5e-324, 0.1, 1e-7, 3.0, 2.0**53 + 2, 1e15]
    rows = [{f"n{i}": rng.choice(special) if rng.random() < 0.5 else rng.uniform(-9, 9)
             for i in range(6)} for _ in range(50)]
    names = [f"n{i}" for i in range(6)]
    names = names[::-1] if order == "reversed" else names + ["zz"] if order == "extra" else names
    values = np.array([[r.get(k, 7.0) for k in names] for r in rows])
    expected = RowEncoder(schema).encode_many(rows)
    frame = pd.DataFrame(values, columns=names)
    frame["n1"] = frame["n1"].round().astype(np.int64)  # two blocks: pandas interleaves
    expected[:, 1] = frame["n1"].to_numpy().astype(np.float64)
    encoder = ColumnarEncoder(schema)
    got = encoder.encode(frame)
    _same_bits(got, expected)
    assert got.flags["C_CONTIGUOUS"] and not np.shares_memory(got, frame.to_numpy())
    two_d = frame.to_numpy()
    _same_bits(encoder.encode(two_d, columns=names), expected)
    assert not np.shares_memory(encoder.encode(two_d, columns=names), two_d)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinity_in_a_column_is_refused_naming_its_feature(exported, bad):
    """Issue 18's range policy on the columnar path (one pass over the whole matrix, then the
    feature named): ±inf is OutOfRangeError, as in a dict row; NaN stays missing."""
    loaded, rows = exported
    frame = pd.DataFrame(rows[:20])
    frame.loc[7, "x"] = bad
    with pytest.raises(OutOfRangeError, match="is not a value the formats agree on") as e:
        loaded.predict_proba_many(frame)
    assert e.value.field == "x"
    frame.loc[7, "x"] = np.nan
    assert np.isfinite(loaded.predict_proba_many(frame)).all()


def test_beyond_float32_is_refused_by_a_float32_encoder_only():
    schema = FeatureSchema((Feature("a", "a"), Feature("b", "b")))
    frame = pd.DataFrame({"a": [1.0, np.nan], "b": [2.0, -1e39]})
    assert RowEncoder(schema).encode_many(frame)[1, 1] == -1e39
    with pytest.raises(OutOfRangeError, match="float32 range") as e:
        RowEncoder(schema, max_abs=FLOAT32_MAX).encode_many(frame)
    assert e.value.field == "b"
    everything_missing = pd.DataFrame({"a": [np.nan], "b": [np.nan]})
    assert np.isnan(RowEncoder(schema, max_abs=FLOAT32_MAX).encode_many(everything_missing)).all()


def test_one_encoder_reads_many_column_layouts():
    """The column plan is kept per layout (a few at a time): every layout still reads right."""
    schema = FeatureSchema(tuple(Feature(f"n{i}", f"n{i}") for i in range(4)))
    rows = [{f"n{i}": float(10 * r + i) for i in range(4)} for r in range(5)]
    expected = RowEncoder(schema).encode_many(rows)
    encoder = ColumnarEncoder(schema)
    rng = random.Random(5)
    for _ in range(3):
        for k in range(12):
            names = [f"n{i}" for i in range(4)] + [f"extra{j}" for j in range(k % 3)]
            rng.shuffle(names)
            frame = pd.DataFrame({c: [r.get(c, -1.0) for r in rows] for c in names})
            _same_bits(encoder.encode(frame), expected)
            _same_bits(encoder.encode(frame.to_numpy(), columns=names), expected)
