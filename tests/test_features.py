"""OrdinalEncoder and PolynomialExtender beyond the shared suite: River's codes and key names,
missing and unseen values, refusals (with the fix in the message), and the support matrix."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dataset_rows, learned
from river import compose, feature_extraction, linear_model, preprocessing

import estuary
from estuary import ir
from estuary.converters.river_to_ir import to_ir
from estuary.ir.evaluate import transform as ir_transform
from estuary.ir.features import Ordinal, Polynomial
from estuary.rows import RowEncoder
from estuary.support import support


def _learn(model, rows):
    for x, y in rows:
        model.learn_one(dict(x), y)
    return model


def _step(model_ir: ir.Model, kind: type):
    def walk(step):
        if isinstance(step, kind):
            return step
        for sub in getattr(step, "steps", ()) + getattr(step, "branches", ()):
            found = walk(sub)
            if found is not None:
                return found
        return None

    return walk(model_ir.transform)


def _chick_ordinal(**kw):
    return _learn(compose.Discard("time") | preprocessing.OrdinalEncoder(**kw)
                  | linear_model.LinearRegression(), dataset_rows("ChickWeights")[:200])


# --------------------------------------------------------------------------------- Ordinal


@pytest.mark.parametrize("kw", [{}, {"unknown_value": -1, "none_value": -2},
                                {"unknown_value": 3, "none_value": 0}])
def test_ordinal_codes_are_rivers(kw):
    """Known categories, an unseen category and a missing key, through the IR evaluator."""
    model = _chick_ordinal(**kw)
    encoder = model["OrdinalEncoder"]
    node = _step(to_ir(model), Ordinal)
    assert node.unknown == encoder.unknown_value
    rows = [{"chick": c, "diet": d} for c in (1, 7, 999) for d in (1, 4, 77)] + [{"chick": 2}, {}]
    schema = to_ir(model).schema
    got, names = ir_transform(node, (RowEncoder(schema).encode_many(rows),
                                                            schema.columns))
    for row, out in zip(rows, got):
        river = encoder.transform_one(row)
        for name, value in zip(names, out):
            key = schema.feature(name).key
            assert (np.isnan(value) if key not in river else value == river[key]), (row, name)


def test_ordinal_user_categories_keep_their_codes(tmp_path):
    cats = {"diet": {1: 10, 2: 20, 3: 30}, "chick": {1: 5}}
    model = _chick_ordinal(categories=cats)
    node = _step(to_ir(model), Ordinal)
    assert dict(zip(node.targets, node.codes))["diet"] == (10, 20, 30)
    rows = [dict(x) for x, _ in dataset_rows("ChickWeights")[:100]]
    path = estuary.export(model, tmp_path / "m.onnx", sample=rows[:10]).path
    report = estuary.verify(model, path, rows)
    assert report.passed and report.max_abs_diff <= 1e-9, report.to_text()


def test_ordinal_refuses_none_unknown_value():
    with pytest.raises(estuary.UnsupportedModelError, match="unknown_value=None"):
        to_ir(_chick_ordinal(unknown_value=None))


def test_ordinal_refuses_a_key_that_is_not_categorical():
    model = _learn(preprocessing.StandardScaler() | preprocessing.OrdinalEncoder()
                   | linear_model.LinearRegression(), dataset_rows("ChickWeights")[:50])
    with pytest.raises(estuary.UnsupportedModelError, match="compose.Select"):
        to_ir(model)


def test_tfjs_refuses_codes_beyond_float32_integers(tmp_path):
    model = _chick_ordinal(categories={"diet": {1: 2 ** 30}, "chick": {1: 1}})
    rows = [dict(x) for x, _ in dataset_rows("ChickWeights")[:10]]
    with pytest.raises(estuary.UnsupportedModelError, match="float32"):
        estuary.export(model, tmp_path / "m.tfjs", sample=rows)
    assert not (tmp_path / "m.tfjs").exists()
    report = estuary.verify(model, estuary.export(model, tmp_path / "m.onnx", sample=rows).path,
                            rows)
    assert report.passed, report.to_text()


# --------------------------------------------------------------------------------- Polynomial


@pytest.mark.parametrize("kw", [{}, {"degree": 3}, {"degree": 3, "interaction_only": True},
                                {"include_bias": True, "bias_name": "one"}])
def test_polynomial_keys_and_values_are_rivers(kw):
    rows = [({"b": 2.0, "a": -1.5, "c": 0.25}, 1.0), ({"a": 3.0, "b": 0.5, "c": -2.0}, 0.0)]
    model = _learn(compose.Select("a", "b", "c") | feature_extraction.PolynomialExtender(**kw)
                   | linear_model.LinearRegression(), rows)
    node = _step(to_ir(model), Polynomial)
    poly = model["PolynomialExtender"]
    probe = [{"a": 1.5, "b": -3.0, "c": 7.0}, {"a": 2.0, "c": 0.5}]
    schema = to_ir(model).schema
    X = RowEncoder(schema).encode_many(probe)
    got, names = ir_transform(to_ir(model).transform, (X, schema.columns))
    for row, out in zip(probe, got):
        river = poly.transform_one(row)
        present = {n: v for n, v in zip(names, out) if not np.isnan(v)}
        assert present == pytest.approx(river, rel=1e-15)  # a missing key drops its products
    assert set(node.output_columns(schema.columns)) == set(poly.transform_one(probe[0]))


def test_polynomial_sorts_int_keys_as_river_does():
    rows = [({10: 1.0, 2: 3.0}, 1.0)] * 3
    model = _learn(preprocessing.StandardScaler() | feature_extraction.PolynomialExtender()
                   | linear_model.LinearRegression(), rows)
    assert _step(to_ir(model), Polynomial).columns == ("10", "2", "10*10", "2*10", "2*2")
    assert "2*10" in model["PolynomialExtender"].transform_one({10: 1.0, 2: 3.0})


def test_polynomial_first_in_a_pipeline_says_how_to_fix_it():
    model = feature_extraction.PolynomialExtender() | linear_model.LinearRegression()
    model = _learn(model, dataset_rows("TrumpApproval")[:20])
    with pytest.raises(estuary.UnsupportedModelError, match=r"compose\.Select\(\*keys\)"):
        to_ir(model)


def test_polynomial_refuses_colliding_keys():
    rows = [({"a": 1.0, "b": 2.0, "a*b": 3.0}, 1.0)] * 3
    model = _learn(preprocessing.StandardScaler() | feature_extraction.PolynomialExtender()
                   | linear_model.LinearRegression(), rows)
    with pytest.raises(estuary.UnsupportedModelError, match="collide"):
        to_ir(model)


@pytest.mark.parametrize("fmt", ["coreml", "tfjs"])
def test_float32_formats_refuse_products(fmt, tmp_path):
    model, rows = learned("scaler|poly2|logreg")
    with pytest.raises(estuary.UnsupportedModelError, match="Polynomial"):
        estuary.export(model, tmp_path / f"m.{'mlmodel' if fmt == 'coreml' else 'tfjs'}",
                       sample=rows[:10])


def test_support_matrix_rows():
    assert all(support(preprocessing.OrdinalEncoder, f)[0]
               for f in ("onnx", "pmml", "coreml", "tfjs"))
    poly = feature_extraction.PolynomialExtender
    assert support(poly, "onnx")[0] and support(poly, "pmml")[0]
    for fmt in ("coreml", "tfjs"):  # refused with the reason, in the matrix and on export
        ok, reason = support(poly, fmt)
        assert not ok and "float32 products overflow" in reason
