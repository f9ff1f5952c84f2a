"""Chains (River's ClassifierChain, RegressorChain) exported as per-target artifacts: each
member fed the earlier targets' outputs as River feeds them; outputs named per target; refusals."""

from __future__ import annotations

import onnx
import pytest
from conftest import learned
from river import linear_model, multioutput

import estuary
from estuary import streams
from estuary.converters.river_to_ir import to_ir
from estuary.errors import UnsupportedModelError, WrongTaskError
from estuary.runtimes import coreml

TARGETS = ("phishing", "popup", "ip")


def _export(model, rows, tmp_path, fmt="onnx"):
    suffix = estuary.converters.registry.FORMATS[fmt].suffix
    path = tmp_path / f"model{suffix}"
    estuary.export(model, path, sample=rows[:20], format=fmt)
    return path, estuary.load(path)


@pytest.mark.parametrize("case_id", ["classifier-chain(scaler|logreg)",
                                     "scaler|classifier-chain(logreg)"])
def test_classifier_chain_is_rivers_per_target(case_id, tmp_path):
    model, rows = learned(case_id)
    path, loaded = _export(model, rows, tmp_path)
    names = [o.name for o in onnx.load(path).graph.output]
    assert names == [f"{what}.{t}" for t in TARGETS for what in ("label", "probabilities")]
    assert loaded.metadata.task == "multilabel" and loaded.classes == TARGETS
    worst = 0.0
    for x in rows:
        got, want = loaded.predict_proba_one(x), model.predict_proba_one(x)
        assert set(got) == set(TARGETS)
        worst = max(worst, *(abs(got[t][v] - want[t][v]) for t in TARGETS for v in (False, True)))
    assert worst <= 1e-12
    assert loaded.predict_many(rows) == [model.predict_one(x) for x in rows]
    report = estuary.verify(model, path, rows)
    assert report.passed and report.max_abs_diff <= 1e-12 and report.n_rows >= len(rows)


def test_regressor_chain_is_rivers_per_target(tmp_path):
    model, rows = learned("regressor-chain(scaler|linreg)")
    path, loaded = _export(model, rows, tmp_path)
    assert [o.name for o in onnx.load(path).graph.output] == ["value.approval", "value.gallup"]
    got, want = loaded.predict_many(rows), [model.predict_one(x) for x in rows]
    assert all(g.keys() == w.keys() for g, w in zip(got, want))
    assert max(abs(g[t] - w[t]) / max(1.0, abs(w[t]))
               for g, w in zip(got, want) for t in w) <= 1e-12
    with pytest.raises(WrongTaskError, match="multitarget"):
        loaded.forecast(3)


def test_the_second_member_reads_the_first_targets_probability():
    """The fed column is in the member's IR: River's weight for `phishing` in the `popup`
    classifier, not a guess."""
    model, _ = learned("classifier-chain(scaler|logreg)")
    chain = to_ir(model).estimator
    second = chain.estimators[1]
    assert "phishing" in second.columns and "popup" not in second.columns
    weight = second.weights[0][second.columns.index("phishing")]
    assert weight == model["popup"]["LogisticRegression"].weights["phishing"]


@pytest.mark.parametrize("case_id", ["classifier-chain(scaler|logreg)",
                                     "regressor-chain(scaler|linreg)", "per-output(scaler|logreg)"])
def test_pmml_chains_linear_members_exactly(case_id, tmp_path):
    """JPMML: each member's link as DerivedFields, P(True) or the value fed forward by name;
    its ModelVerification re-runs the golden rows on load."""
    model, rows = learned(case_id)
    path, loaded = _export(model, rows, tmp_path, "pmml")
    got, want = loaded.predict_many(rows), [model.predict_one(x) for x in rows]
    assert got == want if loaded.metadata.task == "multilabel" else all(
        abs(g[t] - w[t]) <= 1e-12 * max(1.0, abs(w[t])) for g, w in zip(got, want) for t in w)
    report = estuary.verify(model, path, rows)
    assert report.passed and report.max_scaled_diff <= 1e-12


@pytest.mark.parametrize("fmt", ["onnx", "pmml"])
def test_multiclass_encoder_gives_the_most_probable_combination(fmt, tmp_path):
    """Every target gets the first most probable code's value with that probability (or 1
    minus it), as River's MultiClassEncoder.predict_proba_one."""
    model, rows = learned("multiclass-encoder(scaler|softmax)")
    path, loaded = _export(model, rows, tmp_path, fmt)
    assert loaded.classes == ("ip", "phishing", "popup")  # River's sorted combinations
    worst = max(abs(loaded.predict_proba_one(x)[t][v] - model.predict_proba_one(x)[t][v])
                for x in rows[:300] for t in loaded.classes for v in (False, True))
    assert worst <= 1e-12
    assert loaded.predict_many(rows) == [model.predict_one(x) for x in rows]
    assert estuary.verify(model, path, rows).passed


@pytest.mark.parametrize("case_id", ["classifier-chain(scaler|logreg)",
                                     "regressor-chain(scaler|linreg)"])
def test_tfjs_chains_in_float32(case_id, tmp_path):
    """Each member through TF.js's own emitters (the exact float32 linear fold), fed forward in
    float32: within the float32 tolerance of River, labels River's on every row."""
    model, rows = learned(case_id)
    path, loaded = _export(model, rows, tmp_path, "tfjs")
    report = estuary.verify(model, path, rows)
    assert report.passed and report.precision == "float32" and report.max_scaled_diff <= 1e-5
    if loaded.metadata.task == "multilabel":
        assert loaded.predict_many(rows) == [model.predict_one(x) for x in rows]


@pytest.mark.parametrize("case_id", ["classifier-chain(scaler|logreg)",
                                     "scaler|classifier-chain(logreg)",
                                     "regressor-chain(scaler|linreg)"])
def test_core_ml_chains_in_double(case_id, tmp_path):
    """Every member a float64 classic Core ML model fed P(True) (or the value) through a
    FeatureVectorizer: River's numbers within 1e-12 in the spec evaluator, every label River's."""
    model, rows = learned(case_id)
    path, loaded = _export(model, rows, tmp_path, "coreml")
    report = estuary.verify(model, path, rows)
    assert report.passed and report.precision == "float64" and report.max_scaled_diff <= 1e-12
    outputs = [o.name for o in coreml.read_spec(path).description.output]
    assert outputs == [name for name, _, _ in loaded.task.target_outputs(loaded.classes)]
    if loaded.metadata.task == "multilabel":
        assert report.label_agreement == 1.0  # the harness compares every label.<t>
        assert loaded.predict_many(rows) == [model.predict_one(x) for x in rows]
        got = [loaded.predict_proba_one(x) for x in rows]
        want = [model.predict_proba_one(x) for x in rows]
        assert max(abs(g[t][v] - w[t][v]) for g, w in zip(got, want) for t in TARGETS
                   for v in (False, True)) <= 1e-12


def test_core_ml_chain_label_is_rivers_max_without_rounding():
    """The label stages on [P(False), P(True)] one ulp apart, tied, at 0/1, denormal and NaN:
    River's `max` over {False: .., True: ..} (the first on a tie), in the spec evaluator."""
    import math

    import numpy as np

    from estuary._coremltools import Model_pb2
    from estuary.converters.coreml import multioutput as cm
    from estuary.converters.coreml.builder import Stages, array_type, describe, int64_type
    from estuary.runtimes.coreml_spec import evaluate

    s = Stages()
    cm._label(s, "p", "label.t")
    spec = Model_pb2.Model(specificationVersion=4)
    describe(spec.description, [("p", array_type(2))], [("label.t", int64_type())])
    spec.pipeline.models.extend(s.models)
    half = 0.5
    pairs = [(half, half), (half, math.nextafter(half, 1)), (math.nextafter(half, 1), half),
             (1 - math.nextafter(half, 0), math.nextafter(half, 0)), (0.0, 1.0), (1.0, 0.0),
             (0.0, 5e-324), (5e-324, 0.0), (0.0, 0.0), (math.nan, math.nan), (0.3, 0.7)]
    got = evaluate(spec, {"p": np.array(pairs)})["label.t"].tolist()
    want = [int(max({False: f, True: t}.items(), key=lambda kv: kv[1])[0]) for f, t in pairs]
    assert got == want


def test_multiclass_members_are_refused():
    model = multioutput.ClassifierChain(linear_model.SoftmaxRegression())
    for x, y in list(streams.MultiLabelPhishing())[:100]:
        model.learn_one(x, y)
    with pytest.raises(UnsupportedModelError, match="multi-class"):
        to_ir(model)


def test_a_target_that_is_also_an_input_key_is_refused():
    model = multioutput.RegressorChain(linear_model.LinearRegression())
    for x, y in list(streams.MultiTargetTrump())[:50]:
        model.learn_one(x, {**y, "ipsos": x["ipsos"]})
    with pytest.raises(UnsupportedModelError, match="'ipsos' is also an input key"):
        to_ir(model)


@pytest.mark.parametrize("case_id", ["classifier-chain(scaler|logreg)",
                                     "regressor-chain(scaler|linreg)",
                                     "multiclass-encoder(scaler|softmax)"])
def test_onnxruntime_web_reads_the_per_target_outputs(case_id, tmp_path):
    """The JS client names the per-target outputs from the metadata's targets, checks the golden
    rows side by side and answers as onnxruntime does (onnxruntime-web, wasm, under Node)."""
    model, rows = learned(case_id)
    path, native = _export(model, rows, tmp_path)
    web = estuary.load(path, runtime="onnxruntime-web-node")
    assert web.runtime.name.startswith("onnxruntime-web")
    X = web.encoder.encode_many(rows[:200])
    assert (abs(web.outputs_matrix(X) - native.outputs_matrix(X)) <= 1e-12 * abs(
        native.outputs_matrix(X)).clip(1.0)).all()  # wasm's MatMul: an ulp apart at most
    if web.metadata.task == "multilabel":
        assert web.predict_many(rows[:200]) == native.predict_many(rows[:200])
