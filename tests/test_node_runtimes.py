"""The Node runtimes: every ONNX artifact of the catalogue in onnxruntime-web (wasm) under Node,
one shared long-lived Node process, bad artifacts → ArtifactError, a crash → a clear error and a
restart on next use."""

from __future__ import annotations

import json
import os
import signal

import pytest
from conftest import CASE_IDS, learned

import estuary
from estuary.converters.river_to_ir import to_ir
from estuary.converters.tfjs import MODEL_JSON, write_tfjs
from estuary.errors import ArtifactError
from estuary.parity import compare
from estuary.parity.probes import probe_rows
from estuary.runtimes.node import NodeRuntimeError, load_tfjs, runner
from estuary.snapshot import take_snapshot


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_every_onnx_artifact_passes_in_onnxruntime_web(case_id, tmp_path):
    model, rows = learned(case_id)
    path = estuary.export(model, tmp_path / "model.onnx", sample=rows[:50]).path
    loaded = estuary.load(path, runtime="onnxruntime-web-node")
    assert str(loaded.runtime).startswith("onnxruntime-web (Node wasm) 1.")
    report = compare(model, loaded, probe_rows(to_ir(model), rows))
    assert report.passed, report.to_text()
    assert report.max_scaled_diff <= 1e-6
    if report.task == "classification":
        assert report.label_agreement == 1.0


def test_one_node_process_serves_every_model(tmp_path):
    model, rows = learned("scaler|logreg")
    onnx = estuary.export(model, tmp_path / "m.onnx", sample=rows[:5]).path
    tfjs = write_tfjs(take_snapshot(model, rows[:5]), tmp_path / "m.tfjs")
    a = estuary.load(onnx, runtime="onnxruntime-web-node")
    pid = runner().pid()
    b = load_tfjs(tfjs)
    assert runner().pid() == pid is not None
    assert a.predict_many(rows[:100]) == b.predict_many(rows[:100]) == [
        model.predict_one(x) for x in rows[:100]]


def test_a_crashed_node_process_is_reported_and_restarted(tmp_path):
    model, rows = learned("logreg")
    loaded = load_tfjs(write_tfjs(take_snapshot(model, rows[:5]), tmp_path / "m.tfjs"))
    before = loaded.predict_proba_one(rows[0])
    os.kill(runner().pid(), signal.SIGKILL)  # the runner this test session started
    with pytest.raises(NodeRuntimeError, match="Node runner died"):
        loaded.predict_one(rows[0])
    assert loaded.predict_proba_one(rows[0]) == before  # restarted; the model reloaded


@pytest.fixture()
def tfjs_dir(tmp_path):
    model, rows = learned("scaler|softmax")
    return write_tfjs(take_snapshot(model, rows[:5]), tmp_path / "m.tfjs")


def test_malformed_model_json(tfjs_dir):
    (tfjs_dir / MODEL_JSON).write_text('{"format": "graph-model", "modelTopology": ')
    with pytest.raises(ArtifactError, match="model.json is not valid JSON"):
        estuary.load(tfjs_dir)


def test_missing_weight_shard(tfjs_dir):
    (tfjs_dir / "group1-shard1of1.bin").unlink()
    with pytest.raises(ArtifactError, match="weight shard 'group1-shard1of1.bin' cannot be read"):
        estuary.load(tfjs_dir)


def test_wrong_shard_size(tfjs_dir):
    shard = tfjs_dir / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:-4])
    with pytest.raises(ArtifactError, match="hold .* bytes but model.json declares"):
        estuary.load(tfjs_dir)


def test_shard_path_outside_the_artifact(tfjs_dir):
    doc = json.loads((tfjs_dir / MODEL_JSON).read_text())
    doc["weightsManifest"][0]["paths"] = ["../../etc/passwd"]
    (tfjs_dir / MODEL_JSON).write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match="plain file name"):
        estuary.load(tfjs_dir)


def test_not_a_directory(tmp_path):
    bogus = tmp_path / "m.tfjs"
    bogus.write_text("{}")
    with pytest.raises(ArtifactError, match="not a TF.js model directory"):
        estuary.load(bogus)


def test_truncated_onnx_in_onnxruntime_web(tmp_path):
    model, rows = learned("scaler|logreg")
    path = estuary.export(model, tmp_path / "m.onnx", sample=rows[:5]).path
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ArtifactError):
        estuary.load(path, runtime="onnxruntime-web-node")
