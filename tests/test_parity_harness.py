"""The harness must catch a wrong artifact, and its reports must say so in every format."""

from __future__ import annotations

import dataclasses
import json
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from conftest import learned as learned_case
from river import datasets, linear_model, preprocessing

import estuary
from estuary import ir
from estuary.parity import compare, probe_rows
from estuary.parity.probes import raw_column_map
from estuary.snapshot import take_snapshot


@pytest.fixture(scope="module")
def learned():
    """Scaler | LogisticRegression learned on the whole Phishing dataset (shared, read-only)."""
    return learned_case("scaler|logreg")


def broken_artifact(model, rows, path):
    """Same model with one weight flipped: what a buggy emitter would produce."""
    snap = take_snapshot(model, rows[:10])
    est = snap.model.estimator
    weights = (tuple(-w for w in est.weights[0]),)
    bad_model = dataclasses.replace(snap.model, estimator=dataclasses.replace(est, weights=weights))
    estuary.write_snapshot(dataclasses.replace(snap, model=bad_model), path, check=False)
    return estuary.load(path, check=False)


def test_wrong_artifact_fails_with_evidence(learned, tmp_path):
    model, rows = learned
    loaded = broken_artifact(model, rows, tmp_path / "bad.onnx")
    report = compare(model, loaded, probe_rows(ir.from_json(ir.to_json(take_snapshot(model).model)), rows))
    assert not report.passed
    assert report.label_agreement < 0.5
    assert report.max_abs_diff > 0.1
    assert len(report.worst_rows) == 5 and not report.worst_rows[0].label_ok
    suite = ET.fromstring(report.to_junit_xml())
    assert suite.tag == "testsuite" and int(suite.get("failures")) >= 2
    assert {c.get("name") for c in suite.iter("testcase")} == {"max_diff", "labels", "verdict"}
    data = json.loads(report.to_json())
    assert data["passed"] is False and data["runtime"].startswith("onnxruntime ")
    assert report.to_html().startswith("<!doctype html>") and "FAIL" in report.to_html()
    with pytest.raises(estuary.GoldenCheckError):
        estuary.load(tmp_path / "bad.onnx")


def test_passing_report_contents(learned, tmp_path):
    model, rows = learned
    estuary.export(model, tmp_path / "m.onnx", sample=rows[:10])
    report = estuary.verify(model, tmp_path / "m.onnx", rows)
    assert report.passed and report.label_agreement == 1.0
    assert report.n_rows == len(rows) + sum(v for k, v in report.rows_by_tag.items() if k != "sample")
    assert report.rows_by_tag["sample"] == len(rows)
    assert report.artifact_ir_hash == report.ir_hash
    suite = ET.fromstring(report.to_junit_xml())
    assert suite.get("failures") == "0"


def test_model_that_kept_learning_is_flagged(learned, tmp_path):
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    stream = list(datasets.Phishing())
    for x, y in stream[:100]:
        model.learn_one(x, y)
    estuary.export(model, tmp_path / "m.onnx")
    for x, y in stream[100:]:
        model.learn_one(x, y)
    report = estuary.verify(model, tmp_path / "m.onnx", [x for x, _ in stream])
    assert not report.passed
    assert "another model state" in report.summary()


def test_threshold_probes_invert_the_scaler():
    schema = ir.FeatureSchema((ir.Feature("a", "a"), ir.Feature("b", "b")))

    @dataclasses.dataclass(frozen=True)
    class Stump(ir.Linear):
        def thresholds(self):
            return {"a": (0.25,), "b": (1.5,)}

    scale = ir.Scale(("a", "b"), (10.0, 0.0), (4.0, 1.0))
    est = Stump(("a", "b"), ((1.0, 1.0),), (0.0,), "identity")
    model = ir.Model(schema, ir.Chain((scale,)), est, "regression")
    assert raw_column_map(model) == {"a": ("a", 10.0, 4.0), "b": ("b", 0.0, 1.0)}
    values = {}
    for p in probe_rows(model, [{"a": 1.0, "b": 2.0}]):
        if p.tag == "threshold":
            for k, v in p.row.items():
                if v != {"a": 1.0, "b": 2.0}[k]:
                    values.setdefault(k, set()).add(v)
    assert values["a"] == {np.nextafter(11.0, 0), 11.0, np.nextafter(11.0, 20)}
    assert values["b"] == {np.nextafter(1.5, 0), 1.5, np.nextafter(1.5, 2)}


def test_label_read_from_probabilities_only_for_rivers_generic_predict_one(learned):
    from river import tree

    from estuary.parity.reference import reads_label_from_proba, river_outputs

    model, rows = learned
    assert reads_label_from_proba(model) and reads_label_from_proba(tree.HoeffdingTreeClassifier())

    class OwnRule:  # a classifier whose predict_one is not River's generic argmax
        def predict_proba_one(self, x):
            return {False: 0.9, True: 0.1}

        def predict_one(self, x):
            return True

    assert not reads_label_from_proba(OwnRule())
    assert river_outputs(OwnRule(), [{}], "classification", (False, True)).labels == [True]
    ref = river_outputs(model, rows[:200], "classification", (False, True))
    assert ref.labels == [model.predict_one(x) for x in rows[:200]]


def test_a_row_the_encoder_refuses_is_listed_as_refused_not_compared(tmp_path):
    """River answers a row whose number is text (AdPredictor activates a truthy value), the
    artifact's encoder refuses it: the report counts and lists it as refused with the encoder's
    message, never with the artifact's answer for an all-missing row as if it were compared."""
    from river import compose

    model = compose.Select("a", "b") | linear_model.AdPredictor()
    for i in range(50):
        model.learn_one({"a": float(i % 7), "b": float(i % 3 + 1)}, i % 2 == 0)
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=[{"a": 1.0, "b": 2.0}])
    rows = [{"a": 1.0, "b": 2.0}, {"a": 2.0, "b": "x"}]
    model.predict_proba_one(rows[1])  # River answers it
    report = estuary.verify(model, path, rows, adversarial=False)
    assert not report.passed  # River answered, the artifact cannot: FAIL, as before
    assert (report.n_rows, report.n_refused, report.rows_by_tag) == (1, 1, {"sample": 1})
    assert report.label_agreement == 1.0 and report.max_abs_diff < 1e-9  # the compared row
    data = json.loads(report.to_json())
    assert data["n_refused"] == 1
    refused, compared = data["worst_rows"]
    assert {k: refused[k] for k in ("index", "row", "artifact", "diff", "label_ok", "refused")} == {
        "index": 1, "row": {"a": 2.0, "b": "x"}, "artifact": [], "diff": "nan",
        "label_ok": False, "refused": "feature 'b': expected a number, got str 'x'"}
    assert (compared["index"], compared["refused"], compared["label_ok"]) == (0, "", True)
    assert report.to_text().splitlines()[3:] == [
        "  worst #1 (sample): refused by the artifact's input contract: "
        "feature 'b': expected a number, got str 'x'",
        f"  worst #0 (sample): diff {report.worst_rows[1].diff:.3g} label_ok=True"]
    assert report.summary().endswith(", 1 rows River answers that the artifact's input contract "
                                     "refuses (not compared)")
    failed = {c.get("name"): c.find("failure") for c in ET.fromstring(report.to_junit_xml())
              .iter("testcase")}
    assert failed["max_diff"] is None and failed["labels"] is None
    assert failed["input_contract"].get("message") == (
        "1 rows River answers are refused by the artifact's input contract; first: "
        "feature 'b': expected a number, got str 'x'")
    assert "refused by the artifact&#x27;s input contract: feature &#x27;b&#x27;" in report.to_html()


def test_the_pytest_failure_message_shows_no_artifact_answer_for_a_refused_row():
    from estuary.parity.report import ParityReport, WorstRow
    from estuary.testing import failure_message

    row = WorstRow(1, "sample", {"b": "x"}, [0.56, 0.44], [], float("nan"), False,
                   refused="feature 'b': expected a number, got str 'x'")
    report = ParityReport("onnx", "m.onnx", "onnxruntime", "m", "h", "classification", 0, None,
                          0.0, 0.0, 1e-9, "float64", False, worst_rows=(row,), n_refused=1)
    assert failure_message(report).splitlines()[2:] == [
        "  worst row #1 (sample): refused by the artifact's input contract: "
        "feature 'b': expected a number, got str 'x'",
        '    row       {"b": "x"}', "    River     [0.56, 0.44]"]
