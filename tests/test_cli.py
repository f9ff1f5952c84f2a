"""The `estuary` CLI: exit codes, files on disk and JSON, on real River models and bundled data."""

from __future__ import annotations

import csv
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import onnx
import pytest
from river import datasets, linear_model, preprocessing, rules
from typer.testing import CliRunner

import estuary
from estuary.cli import app
from estuary.demo import DATASETS, run_demo

runner = CliRunner()
ROOT = Path(estuary.__file__).resolve().parents[1]


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _phishing_model(n: int | None = None):
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    rows = []
    for i, (x, y) in enumerate(datasets.Phishing()):
        if n is not None and i >= n:
            break
        model.learn_one(x, y)
        rows.append((x, y))
    return model, rows


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Pickles of a full and a 50-row Phishing model, the rows as CSV and JSONL, one export."""
    d = tmp_path_factory.mktemp("cli")
    model, rows = _phishing_model()
    small, _ = _phishing_model(50)
    (d / "model.pkl").write_bytes(pickle.dumps(model))
    (d / "small.pkl").write_bytes(pickle.dumps(small))
    with (d / "rows.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0][0]))
        writer.writeheader()
        writer.writerows(x for x, _ in rows)
    with (d / "rows.jsonl").open("w") as f:
        for i, (x, y) in enumerate(rows):  # both shapes: {"x": .., "y": ..} and a plain row
            f.write(json.dumps({"x": x, "y": y} if i % 2 else x) + "\n")
    result = run("export", d / "model.pkl", "--out", d / "out", "--sample", d / "rows.csv")
    assert result.exit_code == 0, result.output
    return d


def test_export_writes_artifact(files, tmp_path):
    result = run("export", files / "model.pkl", "--format", "onnx", "--out", tmp_path,
                 "--name", "phish", "--sample", files / "rows.jsonl", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["path"] == str(tmp_path / "phish.onnx")
    assert (tmp_path / "phish.onnx").stat().st_size == facts["size_bytes"] > 0
    assert len(facts["ir_hash"]) == 64 and facts["snapshot_id"]
    assert facts["sample_rows"] == 1250
    assert (files / "out" / "model.onnx").is_file()  # the fixture's export: default name


def test_verify_passes_and_writes_reports(files, tmp_path):
    junit, page = tmp_path / "r" / "parity.xml", tmp_path / "r" / "parity.html"
    result = run("verify", files / "model.pkl", files / "out" / "model.onnx",
                 "--data", files / "rows.jsonl", "--json", "--junit", junit, "--html", page)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] is True and report["rows_by_tag"]["sample"] == 1250
    assert "PASS onnx" in result.stderr  # the human text goes to stderr with --json
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("failures") == "0"
    assert page.read_text().startswith("<!doctype html>")


def test_verify_text_and_limit(files):
    result = run("verify", files / "model.pkl", files / "out" / "model.onnx",
                 "--data", files / "rows.csv", "--limit", "10")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("PASS onnx in onnxruntime")
    assert "sample 10" in result.stdout


def test_verify_other_model_fails(files, tmp_path):
    junit = tmp_path / "parity.xml"
    result = run("verify", files / "small.pkl", files / "out" / "model.onnx",
                 "--data", files / "rows.csv", "--json", "--junit", junit)
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["passed"] is False
    assert int(ET.parse(junit).getroot().get("failures")) >= 1


def test_inspect(files):
    artifact = files / "out" / "model.onnx"
    result = run("inspect", artifact)
    assert result.exit_code == 0, result.output
    assert "age_of_domain" in result.stdout and "golden vectors: 8 reproduce" in result.stdout
    result = run("inspect", artifact, "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert len(facts["ir_hash"]) == 64 and facts["task"] == "classification"
    assert facts["classes"] == [False, True] and facts["schema"]["n_columns"] == 9
    assert facts["golden"]["passed"] is True and facts["provenance"]["river_version"]


def test_inspect_truncated_artifact(files, tmp_path):
    data = (files / "out" / "model.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    result = run("inspect", tmp_path / "cut.onnx")
    assert result.exit_code == 2, result.output
    assert "re-export" in result.stderr and "Traceback" not in result.output


def test_corrupted_golden_vectors(files, tmp_path):
    path = tmp_path / "golden.onnx"
    proto = onnx.load(files / "out" / "model.onnx")
    for prop in proto.metadata_props:
        if prop.key == "estuary":
            meta = json.loads(prop.value)
            meta["golden_outputs"][0][0] += 0.5
            prop.value = json.dumps(meta)
    onnx.save(proto, path)
    result = run("inspect", path, "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["golden"]["passed"] is False
    assert "golden vectors do not reproduce" in result.stderr
    result = run("verify", files / "model.pkl", path, "--data", files / "rows.csv")
    assert result.exit_code == 1, result.output


def test_unsupported_model_lists_supported(tmp_path):
    model = rules.AMRules()
    for x, y in datasets.TrumpApproval().take(100):
        model.learn_one(x, y)
    (tmp_path / "amrules.pkl").write_bytes(pickle.dumps(model))
    result = run("export", tmp_path / "amrules.pkl", "--out", tmp_path)
    assert result.exit_code == 2, result.output
    assert "AMRules" in result.stderr and "Supported:" in result.stderr
    assert "river.linear_model.LogisticRegression" in result.stderr
    assert "Traceback" not in result.output and not list(tmp_path.glob("*.onnx"))


@pytest.mark.parametrize("content", [None, b"not a pickle at all\n", b"\x80\x04\x95"])
def test_bad_pickle(tmp_path, content):
    path = tmp_path / "model.pkl"
    if content is not None:
        path.write_bytes(content)
    result = run("export", path, "--out", tmp_path)
    assert result.exit_code == 2, result.output
    assert "model.pkl" in result.stderr and "Traceback" not in result.output


def test_bad_format(files, tmp_path):
    result = run("export", files / "model.pkl", "--out", tmp_path, "--format", "tflite", "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)
    assert error["error_type"] == "UnknownFormatError" and "onnx" in error["error"]


@pytest.mark.parametrize("name, text, where", [
    ("bad.csv", "a,b\n1,2\n1,2,3\n", "line 3"),
    ("bad.jsonl", '{"a": 1}\n\n{oops\n', "line 3"),
    ("bad.jsonl", '{"a": 1}\n[1, 2]\n', "line 2"),
    ("empty.csv", "", "line 1"),
    ("rows.txt", "a\n1\n", "unknown data file type"),
])
def test_bad_data_file(files, tmp_path, name, text, where):
    (tmp_path / name).write_text(text)
    result = run("verify", files / "model.pkl", files / "out" / "model.onnx",
                 "--data", tmp_path / name, "--json")
    assert result.exit_code == 2, result.output
    assert where in result.stderr and "Traceback" not in result.output
    error = json.loads(result.stdout)  # cells and errors: tests/test_readers.py
    assert error["error_type"] == "DataFileError" and where in error["error"]


def test_missing_data_and_artifact(files, tmp_path):
    result = run("verify", files / "model.pkl", files / "out" / "model.onnx",
                 "--data", tmp_path / "nope.csv")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    result = run("inspect", tmp_path / "nope.onnx")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_usage_errors_exit_2(files):
    assert run("export", files / "model.pkl").exit_code == 2  # --out is required
    assert run("demo", "--dataset", "iris").exit_code == 2
    assert run("frobnicate").exit_code == 2


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_run_demo_every_dataset(tmp_path, dataset):
    reports = run_demo(tmp_path, dataset)
    assert reports and all(r.passed for r in reports)
    assert (tmp_path / f"{dataset}.onnx").is_file()


def test_python_m_estuary_demo(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run([sys.executable, "-m", "estuary", "demo", "--out", str(tmp_path),
                           "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] is True and result["dataset"] == "phishing"
    assert [r["format"] for r in result["runs"]] == sorted(estuary.converters.registry.FORMATS)
    assert all(Path(r["path"]).exists() and r["report"]["passed"] for r in result["runs"])
    assert "estuary demo" in proc.stderr  # the table goes to stderr with --json


def test_demo_task_anomaly_runs_end_to_end(tmp_path):
    """`estuary demo --task anomaly`: HalfSpaceTrees on the seeded synthetic stream, every
    format exported and verified, then the Learner publishes to OUT/store."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run([sys.executable, "-m", "estuary", "demo", "--task", "anomaly",
                           "--out", str(tmp_path), "--json"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] is True and result["dataset"] == "anomalies"
    assert {r["format"] for r in result["runs"]} >= {"onnx", "pmml", "tfjs", "coreml"}
    assert all(r["report"]["passed"] and r["report"]["task"] == "anomaly" for r in result["runs"])
    assert result["versions"] and all(v["published"] for v in result["versions"])
    assert run("demo", "--task", "clustering").exit_code == 2  # the tasks are named
