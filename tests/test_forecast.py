"""Forecasters (River's HoltWinters, SNARIMAX) exported as `forecast` artifacts: horizons 1, a
season, three seasons and one more, far ahead; River's refused steps; the refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import learned
from river import datasets, linear_model, preprocessing, time_series, tree

import estuary
from estuary.converters.river_to_ir import time_series as ts_extractors
from estuary.converters.river_to_ir import to_ir
from estuary.errors import (
    EmptyModelError,
    InvalidInputError,
    UnsupportedModelError,
    WrongTaskError,
)
from estuary.runtimes import coreml

HOLT_WINTERS = ["holt-winters(mul)", "holt-winters(add)", "holt-winters(level)",
                "holt-winters(trend,mul)"]
SNARIMAX = ["snarimax(p=12,d=1,q=12,m=12,sd=1)", "snarimax(p=2,q=1,m=12,sp=1,sq=1)",
            "snarimax(p=3,d=2)|linreg"]
M = 12  # AirlinePassengers: monthly, a yearly season


def _export(model, tmp_path, fmt="onnx"):
    suffix = estuary.converters.registry.FORMATS[fmt].suffix
    path = tmp_path / f"model{suffix}"
    estuary.export(model, path, sample=[{"step": s} for s in range(1, 13)], format=fmt)
    return estuary.load(path)


@pytest.mark.parametrize("case_id", HOLT_WINTERS)
@pytest.mark.parametrize("horizon", [1, M, 3 * M + 1, 500])
def test_holt_winters_forecasts_exactly_any_horizon(case_id, horizon, tmp_path):
    """Computed in the graph from level, trend and the season table (looked up at
    (step - 1) mod m), not tabulated: every horizon is River's to the bit in float64."""
    model, _ = learned(case_id)
    loaded = _export(model, tmp_path)
    assert loaded.forecast(horizon) == model.forecast(horizon)


@pytest.mark.parametrize("case_id", SNARIMAX)
@pytest.mark.parametrize("fmt", ["onnx", "pmml"])
def test_snarimax_recursion_is_unrolled_exactly(case_id, fmt, tmp_path):
    """The recursion (predictions fed back as lags, differencing undone) up to the horizon fixed
    at export: River's own numbers in onnxruntime and JPMML (float64)."""
    model, _ = learned(case_id)
    loaded = _export(model, tmp_path, fmt)
    horizon = ts_extractors.SNARIMAX_HORIZON
    assert horizon == 3 * M + 1
    got, want = loaded.forecast(horizon), model.forecast(horizon)
    assert max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(got, want)) <= 1e-12
    assert loaded.forecast(1) == got[:1]


def test_snarimax_beyond_the_unrolled_horizon_is_nan(tmp_path):
    """A step past the horizon fixed at export has no forecast in the artifact: NaN, never a
    made-up number (River itself would go on)."""
    model, _ = learned(SNARIMAX[0])
    loaded = _export(model, tmp_path)
    horizon = ts_extractors.SNARIMAX_HORIZON
    out = loaded.outputs_matrix(loaded.encoder.encode_many(
        [{"step": s} for s in range(1, horizon + 3)]))[:, 0]
    assert list(out[:horizon]) == pytest.approx(model.forecast(horizon), rel=1e-12)
    assert math.isnan(out[horizon]) and math.isnan(out[horizon + 1])
    with pytest.raises(InvalidInputError, match="forecasts 37 steps ahead at most"):
        loaded.forecast(horizon + 2)


@pytest.mark.parametrize("fmt", ["pmml", "tfjs"])
def test_holt_winters_in_pmml_and_tfjs(fmt, tmp_path):
    model, _ = learned("holt-winters(mul)")
    loaded = _export(model, tmp_path, fmt)
    got, want = np.array(loaded.forecast(3 * M + 1)), np.array(model.forecast(3 * M + 1))
    tol = 1e-12 if fmt == "pmml" else 1e-5  # TF.js computes in float32
    assert (np.abs(got - want) <= tol * np.maximum(1.0, np.abs(want))).all()


def test_verify_reports_the_steps_river_refuses(tmp_path):
    """Steps 0, -1, 1.5 and a missing step: River's forecast cannot answer them, so the report
    lists them as skipped; every whole step it can answer matches."""
    model, _ = learned("holt-winters(add)")
    path = tmp_path / "model.onnx"
    estuary.export(model, path, sample=[{"step": 1}])
    report = estuary.verify(model, path, [{"step": s} for s in range(1, 25)])
    assert report.passed and report.max_abs_diff == 0.0
    assert report.n_skipped == 4
    assert report.rows_by_tag["horizon"] == 7 and report.rows_by_tag["extreme"] == 1


def test_forecaster_api_and_wrong_task(tmp_path):
    model, _ = learned("holt-winters(level)")
    loaded = _export(model, tmp_path)
    assert loaded.metadata.task == "forecast" and loaded.metadata.schema.columns == ("step",)
    with pytest.raises(WrongTaskError, match="forecast"):
        loaded.predict_one({"step": 1})


def _airline(model, with_x: bool = False):
    for x, y in datasets.AirlinePassengers():
        model.learn_one(y, {"month_index": x["month"].month} if with_x else None)
    return model


def test_snarimax_with_exogenous_features_is_refused():
    model = _airline(time_series.SNARIMAX(p=2, d=1, q=1), with_x=True)
    with pytest.raises(UnsupportedModelError, match="exogenous features \\(month_index\\)"):
        to_ir(model)


def test_snarimax_with_a_nonlinear_regressor_is_refused():
    model = _airline(time_series.SNARIMAX(p=2, d=0, q=0, regressor=(
        preprocessing.StandardScaler() | tree.HoeffdingTreeRegressor())))
    with pytest.raises(UnsupportedModelError, match="StandardScaler \\| HoeffdingTreeRegressor"):
        to_ir(model)


def test_unfitted_forecasters_are_refused():
    hw = time_series.HoltWinters(alpha=0.3, beta=0.1, gamma=0.6, seasonality=12)
    for y in (112, 118, 132):  # fewer than a season: River cannot forecast yet
        hw.learn_one(y)
    with pytest.raises(EmptyModelError, match="max\\(2, seasonality\\) = 12"):
        to_ir(hw)
    with pytest.raises(EmptyModelError, match="LinearRegression"):
        to_ir(time_series.SNARIMAX(p=1, d=0, q=0, regressor=linear_model.LinearRegression()))


@pytest.mark.parametrize("case_id", ["holt-winters(mul)", "holt-winters(add)",
                                     "holt-winters(level)", "holt-winters(trend,mul)"])
def test_core_ml_holt_winters_is_rivers_forecast_in_double(case_id, tmp_path):
    """Classic float64 stages only (no floor, no comparison layer): River's forecast bit for bit
    at every step of a long horizon; a step that is not whole gives NaN, as the ONNX graph."""
    model, _ = learned(case_id)
    path = tmp_path / "m.mlmodel"
    estuary.export(model, path, sample=[{"step": 1}], format="coreml")
    loaded = estuary.load(path)
    assert loaded.metadata.precision == "float64"
    kinds = {m.WhichOneof("Type") for m in coreml.read_spec(path).pipelineRegressor.pipeline.models}
    assert kinds <= {"scaler", "glmRegressor", "featureVectorizer", "imputer"}
    H = 10007
    assert loaded.forecast(H) == model.forecast(H)
    odd = np.array([[2.5], [0.5], [-0.25], [1e-9 + 1]])
    onnx_path = tmp_path / "m.onnx"
    estuary.export(model, onnx_path, sample=[{"step": 1}], format="onnx")
    want = estuary.load(onnx_path).run(odd)["forecast"]
    got = loaded.run(odd)["forecast"]
    np.testing.assert_array_equal(got, want)  # NaN where ONNX says NaN, else the same bits
    assert np.isnan(got).all() == bool(to_ir(model).estimator.season)


@pytest.mark.parametrize("case_id", ["snarimax(p=12,d=1,q=12,m=12,sd=1)",
                                     "snarimax(p=2,q=1,m=12,sp=1,sq=1)",
                                     "snarimax(p=3,d=2)|linreg"])
def test_core_ml_snarimax_unrolls_rivers_recursion_in_double(case_id, tmp_path):
    """The recursion in float64 classic stages (the scaled lags an ulp from River's division):
    River's forecast within 1e-12 at every step of the unrolled horizon, NaN beyond it and for a
    step that is not whole, as the ONNX graph."""
    model, _ = learned(case_id)
    path = tmp_path / "m.mlmodel"
    estuary.export(model, path, sample=[{"step": 1}], format="coreml")
    loaded = estuary.load(path)
    assert loaded.metadata.precision == "float64"
    kinds = {m.WhichOneof("Type") for m in coreml.read_spec(path).pipelineRegressor.pipeline.models}
    assert kinds <= {"scaler", "glmRegressor", "featureVectorizer", "imputer",
                     "arrayFeatureExtractor"}
    H = to_ir(model).estimator.horizon
    got, want = np.array(loaded.forecast(H)), np.array(model.forecast(H))
    assert (np.abs(got - want) <= 1e-12 * np.maximum(1.0, np.abs(want))).all()
    beyond = loaded.run(np.array([[H + 1.0], [1e6], [1.5], [0.0]]))["forecast"]
    assert np.isnan(beyond).all()


@pytest.mark.parametrize("case_id", ["holt-winters(mul)", SNARIMAX[0]])
def test_export_without_sample_embeds_the_horizons_as_golden_vectors(case_id, tmp_path):
    """`estuary.export(forecaster, path)` with no sample: the golden vectors are River's
    forecasts at the probe horizons (its steps 0, -1, 1.5 and a missing step are refused, so
    without them there were none, and `estuary.load` refused the artifact)."""
    model, _ = learned(case_id)
    estuary.export(model, tmp_path / "model.onnx")
    loaded = estuary.load(tmp_path / "model.onnx")
    golden = loaded.metadata.golden_inputs
    steps = [int(row[0]) for row in golden]
    assert len(steps) >= 3 and steps[0] == 1 and steps == sorted(set(steps))
    assert [row[0] for row in golden] == steps  # whole steps ahead, no refused ones
    assert [out[0] for out in loaded.metadata.golden_outputs] == \
        [model.forecast(s)[s - 1] for s in steps]
    assert loaded.forecast(3) == model.forecast(3)
