"""`estuary learn`, `estuary serve` and the online part of `estuary demo`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from estuary.cli import app
from estuary.demo import online_demo
from estuary.online import Store
from estuary.online.sources import add_events
from estuary.online.testing import free_port, phishing, redis_server

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_learn_from_redis(tmp_path):
    with redis_server() as url:
        asyncio.run(add_events(url, "events", phishing(600)))
        result = runner.invoke(app, [
            "learn", "--source", url, "--stream", "events", "--target", "y", "--model", "logreg",
            "--store", str(tmp_path / "models"), "--every", "200", "--formats", "onnx",
            "--until-idle", "--idle-ms", "200", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] and summary["events"] == 600 and summary["latest"] >= 1
    assert summary["versions"][-1]["n_events"] == 600
    assert "published after 600 events" in result.stderr


def test_learn_from_file_and_bad_input(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"x": x, "y": y}) + "\n" for x, y in phishing(300)))
    result = runner.invoke(app, ["learn", "--source", str(rows), "--store", str(tmp_path / "m"),
                                 "--every", "100", "--formats", "onnx,pmml"])
    assert result.exit_code == 0, result.output
    assert "latest version" in result.stdout
    assert Store(tmp_path / "m").open().manifest.n_events == 300
    bad = runner.invoke(app, ["learn", "--source", str(rows), "--store", str(tmp_path / "m"),
                              "--model", "no-such-model"])
    assert bad.exit_code == 2 and "logreg" in bad.stderr
    bad = runner.invoke(app, ["learn", "--source", str(rows), "--store", str(tmp_path / "m"),
                              "--formats", "tflite"])
    assert bad.exit_code == 2 and "tflite" in bad.stderr


def test_serve_command(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"x": x, "y": y}) + "\n" for x, y in phishing(200)))
    assert runner.invoke(app, ["learn", "--source", str(rows), "--store", str(tmp_path / "m"),
                               "--formats", "onnx"]).exit_code == 0
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "estuary", "serve", str(tmp_path / "m"),
                             "--port", str(port)], env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert health["ok"] and health["version"] == 1
        r = httpx.post(f"http://127.0.0.1:{port}/predict", json=phishing(1)[0][0])
        assert r.status_code == 200 and r.json()["prediction"] in (True, False)
    finally:
        proc.terminate()
        proc.wait(10)
    assert runner.invoke(app, ["serve", str(tmp_path / "nope")]).exit_code == 2


@pytest.mark.parametrize("dataset", ["phishing", "trumpapproval"])
def test_online_demo_publishes_every_format(tmp_path, dataset):
    results = online_demo(tmp_path, dataset, every=300)
    assert results and all(r.published for r in results)
    assert results[-1].reason == "end of stream"
    store = Store(tmp_path / "store")
    assert store.latest_number() == results[-1].version
    assert all(e.passed for e in store.open().manifest.formats.values())
