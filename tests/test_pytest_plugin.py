"""estuary's pytest plugin and `estuary.testing.assert_parity`: the sample project in
examples/parity-ci runs with the exact pytest command its CI files give, its reports land on
disk, a failing check quotes the worst rows, and the CI files are structurally valid."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest
import yaml
from river import datasets, linear_model, preprocessing

import estuary
from estuary.testing import assert_parity

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "parity-ci"
WORKFLOW = EXAMPLE / ".github" / "workflows" / "parity.yml"
GITLAB = EXAMPLE / ".gitlab-ci.yml"
ROWS = [x for x, _ in datasets.Phishing()]


def _github_pytest_command() -> str:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["parity"]["steps"]
    return next(s["run"] for s in steps if "pytest" in s.get("run", ""))


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins.get("estuary") == "estuary.pytest_plugin"


def test_the_sample_project_runs_its_ci_command_and_writes_reports(tmp_path):
    command = shlex.split(_github_pytest_command())
    assert command[:3] == ["python", "-m", "pytest"]
    project = tmp_path / "project"  # a copy: the run writes reports/ into it
    subprocess.run(["cp", "-r", str(EXAMPLE), str(project)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run([sys.executable, *command[1:], "-q", "-p", "no:cacheprovider"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    reports = project / "reports"
    stem = "test_onnx_artifact_matches_the_river_model"
    assert sorted(p.name for p in reports.iterdir()) == sorted(
        [f"{stem}.json", f"{stem}.junit.xml", f"{stem}.html", "pytest.junit.xml"])
    report = json.loads((reports / f"{stem}.json").read_text())
    assert report["passed"] is True and report["format"] == "onnx"
    assert report["label_agreement"] == 1.0 and report["n_rows"] > 250
    assert report["runtime"].startswith("onnxruntime ")
    suite = ET.parse(reports / f"{stem}.junit.xml").getroot()
    assert suite.tag == "testsuite" and suite.get("failures") == "0"
    assert {c.get("name") for c in suite.iter("testcase")} == {"max_diff", "labels", "verdict"}
    assert "PASS onnx in onnxruntime" in (reports / f"{stem}.html").read_text()
    pytest_junit = ET.parse(reports / "pytest.junit.xml").getroot()
    assert pytest_junit.find("testsuite").get("tests") == "1"


def _model(n: int):
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for x, y in list(datasets.Phishing())[:n]:
        model.learn_one(x, y)
    return model


def test_a_failed_check_quotes_the_worst_rows_and_still_writes_reports(tmp_path):
    exported = _model(50)
    artifact = estuary.export(exported, tmp_path / "model.onnx", sample=ROWS[:50]).path
    with pytest.raises(AssertionError) as info:
        assert_parity(_model(1000), artifact, ROWS[:200], reports=tmp_path / "r", name="churn v2")
    message = str(info.value)
    assert message.startswith("estuary parity failed: FAIL onnx in onnxruntime")
    assert message.count("worst row #") == 5
    report = json.loads((tmp_path / "r" / "churn_v2.json").read_text())
    worst = report["worst_rows"][0]
    assert f"worst row #{worst['index']} ({worst['tag']})" in message
    assert json.dumps(worst["row"], sort_keys=True)[:400] in message
    assert report["passed"] is False
    suite = ET.parse(tmp_path / "r" / "churn_v2.junit.xml").getroot()
    assert int(suite.get("failures")) >= 1


def test_without_reports_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = _model(200)
    artifact = estuary.export(model, tmp_path / "m.onnx", sample=ROWS[:20]).path
    report = assert_parity(model, artifact, ROWS[:50], adversarial=False)
    assert report.passed and report.n_rows == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_the_ci_files_are_valid_jobs():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as True
    job = workflow["jobs"]["parity"]
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    assert all(isinstance(s, dict) and ("uses" in s) != ("run" in s) for s in steps)
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses == ["actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4"]
    upload = steps[-1]
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    assert [s["run"] for s in steps if "run" in s][0] == "pip install -r requirements.txt"
    requirements = (EXAMPLE / "requirements.txt").read_text().split()
    assert f"estuary-ml=={estuary.__version__}" in requirements

    gitlab = yaml.safe_load(GITLAB.read_text())
    job = gitlab["parity"]
    assert set(job) == {"image", "stage", "script", "artifacts"}
    assert job["script"] == ["pip install -r requirements.txt", _github_pytest_command()]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "reports/*.junit.xml"
    assert job["artifacts"]["paths"] == ["reports/"]


def _schema_errors(schema_file: str, document: dict) -> list[str]:
    """Errors against SchemaStore's schema as vendored by check-jsonschema (no network)."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendor.joinpath(schema_file).read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_ci_files_pass_their_json_schemas():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1's boolean `on`, as GitHub reads it
    assert _schema_errors("github-workflows.json", workflow) == []
    assert _schema_errors("gitlab-ci.json", yaml.safe_load(GITLAB.read_text())) == []
    broken = {**workflow, "jobs": {"parity": {"steps": workflow["jobs"]["parity"]["steps"]}}}
    assert [e.split(":")[0] for e in _schema_errors("github-workflows.json", broken)] == [
        "['jobs', 'parity']"]  # a job without runs-on is no job
    assert _schema_errors("gitlab-ci.json", {"parity": {"scrpt": ["pytest"]}}) != []


def _worst_rows_svg(page: str) -> str:
    """The worst-rows chart of an HTML report (the page also draws a diff histogram)."""
    label = page.index("aria-label='worst rows")
    start = page.rindex("<svg", 0, label)
    return page[start:page.index("</svg>", label)]


def test_the_html_report_draws_the_worst_rows(tmp_path):
    exported = _model(50)
    artifact = estuary.export(exported, tmp_path / "model.onnx", sample=ROWS[:50]).path
    with pytest.raises(AssertionError):
        assert_parity(_model(1000), artifact, ROWS[:200], reports=tmp_path, name="bad")
    page = (tmp_path / "bad.html").read_text()
    svg = _worst_rows_svg(page)
    assert svg.count("<rect") == 5 and "tolerance 1e-09" in svg
    assert svg.count("fill='#cf222e'") >= 1  # failed rows are red
    ET.fromstring(svg + "</svg>")  # well-formed
    model = _model(300)
    good = estuary.export(model, tmp_path / "good.onnx", sample=ROWS[:50]).path
    assert_parity(model, good, ROWS[:100], reports=tmp_path, name="good")
    svg = _worst_rows_svg((tmp_path / "good.html").read_text())
    assert "fill='#cf222e'" not in svg and svg.count("fill='#1a7f37'") == 5
