"""MLflow registration (estuary.integrations.mlflow): three versions published and registered (v2
fails parity), the registry's versions, metrics, tags and alias, the champion loaded as pyfunc
and compared with the ONNX artifact exactly, and `mlflow models serve --env-manager local`
answering a request.

mlflow 3.17.2 cannot live in the dev venv (it needs pyarrow < 26 and cryptography < 51; the spark
and sign extras pin 26.0.1 and 51.0.1), so these tests build a venv of their own with
`pip install -e .[mlflow]` (kept in $ESTUARY_MLFLOW_VENV, default ~/.cache/estuary/mlflow-venv,
and reused while pyproject.toml's mlflow extra is unchanged) and run the MLflow side there.
A venv that cannot be built fails the suite, with pip's last words.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import estuary
from estuary.online.store import Store
from estuary.online.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = Path(__file__).with_name("mlflow_scenario.py")


def _requirements() -> str:
    """estuary's own dependencies and its [mlflow] extra, as pyproject.toml states them."""
    text = (ROOT / "pyproject.toml").read_text()
    extra = re.search(r"^mlflow = \[.*\]$", text, re.M)
    core = re.search(r"^dependencies = \[.*?\]$", text, re.M | re.S)
    assert extra and core, "pyproject.toml lost its dependencies or its [mlflow] extra"
    return core.group(0) + "\n" + extra.group(0)


@pytest.fixture(scope="session")
def mlflow_venv() -> Path:
    """A venv with estuary (editable: this checkout) and its [mlflow] extra. Rebuilt when
    estuary's dependencies or the extra change; pointed at another checkout (CI's fresh clone) with a --no-deps install."""
    home = Path(os.environ.get("ESTUARY_MLFLOW_VENV",
                               Path.home() / ".cache" / "estuary" / "mlflow-venv"))
    stamp, checkout = home / "estuary-stamp", home / "estuary-checkout"
    want = hashlib.sha256(_requirements().encode()).hexdigest()
    python = home / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        if not checkout.exists() or checkout.read_text() != str(ROOT):
            done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                                   "-e", str(ROOT)], capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(f"estuary could not be installed into {home}: "
                            f"{(done.stderr or done.stdout)[-3000:]}")
            checkout.write_text(str(ROOT))
    else:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
        # the dev venv's versions, but for the three mlflow needs older: the same river,
        # numpy and onnxruntime, and pip resolves in minutes instead of backtracking
        frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                                capture_output=True, text=True, check=True).stdout.splitlines()
        constraints = home / "constraints.txt"
        constraints.write_text("\n".join(
            line for line in frozen if "==" in line and line.split("==")[0].lower()
            not in {"pyarrow", "cryptography", "python-dateutil"}) + "\n")
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e",
                               f"{ROOT}[mlflow]", "-c", str(constraints)],
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            pytest.fail(f"the MLflow venv could not be built in {home}: "
                        f"{(done.stderr or done.stdout)[-3000:]}")
        stamp.write_text(want)
        checkout.write_text(str(ROOT))
    return home


@pytest.fixture(scope="session")
def scenario(mlflow_venv, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("mlflow")
    done = subprocess.run([str(mlflow_venv / "bin" / "python"), str(SCENARIO), str(root)],
                          capture_output=True, text=True, timeout=900, cwd=root)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["root"] = root
    return result


def test_three_versions_registered_and_the_alias_only_on_passing_ones(scenario):
    results = scenario["results"]
    assert [(r["store_version"], r["published"], r["model_version"], r["alias_moved"])
            for r in results] == [(1, True, "1", True), (2, False, "2", False),
                                  (3, True, "3", True)]
    registry = scenario["registry"]
    assert registry["champion"] == "3"
    code, said = scenario["cli"]
    assert code == 0 and said.startswith("nothing to register: every version of "), said
    versions = registry["versions"]
    assert sorted(versions) == ["1", "2", "3"]
    assert versions["3"]["aliases"] == ["champion"]
    assert versions["1"]["aliases"] == versions["2"]["aliases"] == []
    assert [versions[v]["tags"]["estuary.status"] for v in "123"] == [
        "published", "rejected", "published"]
    assert [versions[v]["tags"]["estuary.store_version"] for v in "123"] == ["1", "2", "3"]


def test_run_metrics_and_artifacts_are_the_stores(scenario):
    store = Store(scenario["root"] / scenario["name"])
    for v, rejected in (("1", False), ("2", True), ("3", False)):
        manifest = store.open(int(v), rejected=rejected).manifest
        run = scenario["registry"]["versions"][v]
        metrics = run["metrics"]
        assert metrics["parity.passed"] == (0.0 if rejected else 1.0)
        for fmt, entry in manifest.formats.items():
            report = entry.report
            if report is None:  # v2's broken format: its golden check failed on load
                assert rejected and entry.error.startswith("GoldenCheckError")
                assert metrics[f"parity.{fmt}.passed"] == 0.0
                continue
            assert metrics[f"parity.{fmt}.max_abs_diff"] == report.max_abs_diff
            assert metrics[f"parity.{fmt}.max_scaled_diff"] == report.max_scaled_diff
            assert metrics[f"parity.{fmt}.rows"] == report.n_rows
            assert metrics[f"parity.{fmt}.label_agreement"] == report.label_agreement
            assert metrics[f"parity.{fmt}.passed"] == float(report.passed)
        assert run["params"]["ir_hash"] == manifest.ir_hash
        files = {f"estuary/{name}" for name in manifest.files} | {
            "estuary/manifest.json", "estuary/parity.json"}
        assert set(run["artifacts"]) == files
    assert scenario["registry"]["versions"]["2"]["metrics"]["parity.broken.passed"] == 0.0
    assert "estuary/model.required_operators.config" in scenario["registry"]["versions"]["3"][
        "artifacts"]  # the .ort's operator config travels with it


def test_champion_as_pyfunc_equals_the_artifact_exactly(scenario):
    pyfunc = scenario["pyfunc"]
    assert pyfunc["columns"] == ["label", "probabilities[False]", "probabilities[True]"]
    assert pyfunc["labels_equal"] and pyfunc["proba_equal"] and pyfunc["finite"]


def test_champion_has_the_artifacts_signature_and_mlflow_enforces_it(scenario):
    pyfunc = scenario["pyfunc"]
    features = sorted({k for r in scenario["rows"] for k in r})
    assert sorted(pyfunc["signature_inputs"]) == [[f, "double", False] for f in features]
    assert pyfunc["signature_outputs"] == [["label", "boolean"],
                                           ["probabilities[False]", "double"],
                                           ["probabilities[True]", "double"]]
    assert pyfunc["absent_column_equal"] is True  # an optional column: a missing value
    assert pyfunc["wrong_type"] != "accepted"
    assert pyfunc["first_feature"] in pyfunc["wrong_type"]


def test_mlflow_models_serve_answers(scenario, mlflow_venv):
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": scenario["tracking_uri"],
           "PATH": f"{mlflow_venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(
        [str(mlflow_venv / "bin" / "mlflow"), "models", "serve", "-m",
         f"models:/{scenario['name']}@champion", "--env-manager", "local", "--host",
         "127.0.0.1", "-p", str(port)], env=env, cwd=scenario["root"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(f"{url}/ping", server, timeout=180)
        rows = scenario["rows"]
        columns = sorted({k for r in rows for k in r})
        body = json.dumps({"dataframe_split": {"columns": columns,
                                               "data": [[r[c] for c in columns] for r in rows]}})
        request = urllib.request.Request(f"{url}/invocations", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            predictions = json.loads(answer.read())["predictions"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server this test started, and its workers
        server.wait(timeout=30)
    store = Store(scenario["root"] / scenario["name"])
    artifact = estuary.load(store.open().file_for("onnx"))
    proba = artifact.predict_proba_many(rows)
    assert [p["label"] for p in predictions] == artifact.predict_many(rows)
    assert [[p["probabilities[False]"], p["probabilities[True]"]] for p in predictions] == \
        proba.tolist()


def _wait_for(url: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow models serve exited {server.returncode}: "
                                 f"{server.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    raise AssertionError(f"mlflow models serve did not answer {url} within {timeout:.0f} s")
