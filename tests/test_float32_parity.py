"""The float32 formats within issue 13's 1e-5 of River (relative above 1), in the real runtimes:
@tensorflow/tfjs under Node and estuary's Core ML spec evaluator. Each case below was above it
before a per-format rewrite (benchmarks/README.md, "Parity tolerance"): naive-Bayes tree leaves
and centre distances take x - mu at float64 precision (TF.js: from the `keys` input; Core ML: a
float64 GLMRegressor), a single tree's linear leaves are summed exactly, SNARIMAX's forecasts
are folded in float64 at export. What cannot be carried is refused at export, typed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import learned

import estuary
from estuary.converters.registry import FORMATS
from estuary.errors import UnsupportedModelError
from estuary.runtimes.base import TOLERANCE

# (case, format, its worst relative difference before the rewrite)
REWRITTEN = [
    ("htc_nba_bananas", "tfjs", 7.3e-5),
    ("scaler_htc_nba_bananas", "tfjs", 4.3e-5),
    ("htc_nba_bananas", "coreml", 2.9e-5),
    ("scaler_htc_nba_bananas", "coreml", 2.3e-5),
    ("htr_model_trumpapproval", "tfjs", 7.8e-5),
    ("scaler_htr_model_trumpapproval", "tfjs", 1.9e-5),
    ("scaler_htr_adaptive_trumpapproval", "tfjs", 1.9e-5),
    ("scaler|kmeans", "tfjs", 5.3e-5),
    ("snarimax(p=12,d=1,q=12,m=12,sd=1)", "tfjs", 1.7e-5),
    ("amf-reg5-trump", "tfjs", 0.0),  # the batched mean-leaf forest (forest.forest_means)
]


def test_the_float32_tolerance_is_the_issues():
    assert TOLERANCE["float32"] == 1e-5


@pytest.mark.parametrize("case_id,fmt,before", REWRITTEN)
def test_rewritten_cases_are_within_1e_5_in_the_real_runtime(case_id, fmt, before, tmp_path):
    model, rows = learned(case_id)
    path = tmp_path / f"model{FORMATS[fmt].suffix}"
    estuary.export(model, path, sample=rows[:50], format=fmt, check=False)
    report = estuary.verify(model, path, rows)
    assert report.precision == "float32" and report.tolerance == 1e-5
    assert report.passed, report.to_text()
    # float32 rounding of the output itself, not the drift the rewrite removed
    assert report.max_scaled_diff <= 1e-6


def _amf_regressor(n: int):
    from river import datasets, forest

    model = forest.AMFRegressor(seed=1)  # River's defaults: 10 trees, no max_nodes
    rows = []
    for x, y in datasets.TrumpApproval().take(n):
        model.learn_one(x, y)
        rows.append(x)
    return model, rows


def test_tfjs_refuses_trees_too_big_to_route_at_export(tmp_path):
    """River's default AMFRegressor grows a leaf for almost every row: 2.5M routing products a
    row in TF.js (minutes to verify); refused when exported, naming what to bound."""
    model, rows = _amf_regressor(500)
    with pytest.raises(UnsupportedModelError) as e:
        estuary.export(model, tmp_path / "amf.tfjs", sample=rows[:20], format="tfjs",
                       check=False)
    message = str(e.value)
    assert type(e.value) is UnsupportedModelError
    assert e.value.model_type == "river.forest.AMFRegressor"
    assert "max_nodes" in message and "ONNX" in message and "above 2,000,000" in message
    assert not (tmp_path / "amf.tfjs").exists()


def test_a_bounded_amf_regressor_still_exports_to_tfjs(tmp_path):
    """The same model with max_nodes bounding its trees is under the routing limit."""
    from river import datasets, forest

    model = forest.AMFRegressor(seed=1, n_estimators=3, max_nodes=60)
    rows = []
    for x, y in datasets.TrumpApproval().take(300):
        model.learn_one(x, y)
        rows.append(x)
    path = tmp_path / "amf.tfjs"
    estuary.export(model, path, sample=rows[:20], format="tfjs", check=False)
    report = estuary.verify(model, path, rows[:100])
    assert report.passed and report.max_scaled_diff <= 1e-5
    got = np.array(estuary.load(path).predict_many(rows[:5]))
    want = np.array([model.predict_one(x) for x in rows[:5]])
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_a_diverged_linear_regressor_is_within_1e_5_in_tfjs(tmp_path):
    """The census's BanditRegressor (River's defaults around StandardScaler | LinearRegression)
    picks a linear model whose weights diverged to ~1e11: its terms cancel to ~1e9, and the
    float32 input's rounding alone was 1e-4 of the value; TF.js now reads the input exactly
    from its `keys` input."""
    from river import model_selection

    from estuary import census

    spec = census.spec_for("model_selection", "BanditRegressor",
                           model_selection.BanditRegressor, "predictor")
    model, rows = census.learn(spec)
    path = tmp_path / "bandit.tfjs"
    estuary.export(model, path, sample=rows[:50], format="tfjs", check=False)
    report = estuary.verify(model, path, rows[:200])
    assert report.passed, report.to_text()
    assert report.max_scaled_diff <= 1e-6
