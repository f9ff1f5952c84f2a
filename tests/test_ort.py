"""ONNX Runtime Mobile's `.ort` format and the onnxruntime-node runtime: every catalogue case's
ONNX runs in onnxruntime-node (native, under Node), and its `.ort` in onnxruntime-node and
onnxruntime (the parity suite, generated from the registry, runs `.ort` in onnxruntime for every
case and checks its determinism); the reduced-operator config ships beside the artifact; the
metadata survives the conversion; corrupt `.ort` files are refused with `ArtifactError`."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from conftest import CASE_IDS, learned

import estuary
from estuary.converters.ort import CONFIG_SOURCE, config_path
from estuary.converters.river_to_ir import to_ir
from estuary.errors import ArtifactError, IntegrityError
from estuary.ir.artifact import METADATA_KEY
from estuary.parity import compare
from estuary.parity.probes import probe_rows
from estuary.parity.reference import river_outputs


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_every_onnx_case_runs_in_onnxruntime_node(case_id, tmp_path):
    model, rows = learned(case_id)
    probes = probe_rows(to_ir(model), rows)
    onnx = estuary.export(model, tmp_path / "model.onnx", sample=rows[:50]).path
    ort = estuary.export(model, tmp_path / "model.ort", sample=rows[:50]).path
    outputs = []
    reference = None  # River's answers on the probes, taken once for both artifacts
    for path, runtime in ((onnx, "onnxruntime-node"), (ort, "onnxruntime-node-ort")):
        loaded = estuary.load(path, runtime=runtime)
        assert str(loaded.runtime) == "onnxruntime-node (Node native cpu) 1.31.1"
        assert loaded.format == path.suffix[1:]
        meta = loaded.metadata
        reference = reference or river_outputs(model, [p.row for p in probes], meta.task,
                                               meta.classes)
        report = compare(model, loaded, probes, reference=reference)
        assert report.passed, report.to_text()
        assert report.max_scaled_diff <= 1e-6
        if report.task == "classification":
            assert report.label_agreement == 1.0
        outputs.append(loaded.outputs_matrix(loaded.encoder.encode_many([p.row for p in probes])))
    # the same graph in the same native runtime: the .ort computes what the .onnx does
    assert np.array_equal(outputs[0], outputs[1], equal_nan=True)


def test_ort_keeps_the_metadata_and_ships_its_operator_config(tmp_path):
    model, rows = learned("scaler|logreg")
    onnx = estuary.export(model, tmp_path / "m.onnx", sample=rows[:20]).path
    ort = estuary.export(model, tmp_path / "m.ort", sample=rows[:20]).path
    a, b = estuary.load(onnx), estuary.load(ort)
    assert b.format == "ort" and str(b.runtime).startswith("onnxruntime 1.")
    assert b.metadata.schema == a.metadata.schema and b.metadata.ir_hash == a.metadata.ir_hash
    assert b.metadata.golden_outputs == a.metadata.golden_outputs
    assert b.check_integrity() is True  # the digest was stamped into the .ort itself
    assert ort.read_bytes()[4:8] == b"ORTM"
    config = config_path(ort).read_text().splitlines()
    assert config_path(ort).name == "m.required_operators.config"
    assert config[:2] == ["# Generated from model/s:", CONFIG_SOURCE]
    ops = {op for line in config[2:] for op in line.split(";")[2].split(",")}
    assert {"Sub", "Div", "ArgMax"} <= ops  # the scaler, the sigmoid's division, the label
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.onnx", "m.ort", "m.required_operators.config"]  # nothing stray from staging
    X = a.encoder.encode_many(rows[:300])
    assert np.array_equal(a.outputs_matrix(X), b.outputs_matrix(X))


def test_a_failed_ort_export_leaves_the_previous_pair(tmp_path):
    model, rows = learned("scaler|logreg")
    ort = estuary.export(model, tmp_path / "m.ort", sample=rows[:20]).path
    before = ort.read_bytes(), config_path(ort).read_bytes()
    with pytest.raises(estuary.InvalidOptionError):
        estuary.export(model, ort, sample=rows[:20], options={"opset": 3})
    assert (ort.read_bytes(), config_path(ort).read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ort", "m.required_operators.config"]


def test_the_converter_leaves_the_root_logger_alone(tmp_path):
    model, rows = learned("logreg")
    root = logging.getLogger()
    handlers = list(root.handlers)
    estuary.export(model, tmp_path / "m.ort", sample=rows[:5])
    assert root.handlers == handlers


@pytest.fixture()
def ort_file(tmp_path):
    model, rows = learned("scaler|logreg")
    return estuary.export(model, tmp_path / "m.ort", sample=rows[:5]).path


@pytest.mark.parametrize("runtime", ["onnxruntime-ort", "onnxruntime-node-ort"])
def test_truncated_ort_is_refused(ort_file, runtime):
    ort_file.write_bytes(ort_file.read_bytes()[:-300])
    with pytest.raises(ArtifactError):
        estuary.load(ort_file, runtime=runtime)


@pytest.mark.parametrize("runtime", ["onnxruntime-ort", "onnxruntime-node-ort"])
def test_an_edited_ort_fails_its_integrity_check(ort_file, runtime):
    data = ort_file.read_bytes()
    meta = json.loads(estuary.load(ort_file).metadata.to_json())
    assert meta["integrity"].startswith("sha256:")
    # change one golden output digit inside the embedded JSON: same length, valid FlatBuffers
    text = data.decode("latin-1")
    start = text.index('"golden_outputs"')
    digit = next(i for i in range(start + 20, len(text)) if text[i] in "123456789")
    edited = text[:digit] + str(int(text[digit]) % 9 + 1) + text[digit + 1:]
    ort_file.write_bytes(edited.encode("latin-1"))
    with pytest.raises((IntegrityError, estuary.GoldenCheckError)):
        estuary.load(ort_file, runtime=runtime)


def test_node_reads_the_ort_metadata_itself(ort_file):
    """The JS library parses the FlatBuffers metadata_props (js/src/estuary.js), not Python."""
    from estuary.runtimes.node import request

    reply = request("load", kind="onnx-node", path=str(ort_file), check=True)
    assert json.loads(reply["metadata"]) == json.loads(estuary.load(ort_file).metadata.to_json())
    assert reply["runtime"]["name"] == "onnxruntime-node" and reply["golden_max_diff"] < 1e-12
    assert METADATA_KEY == "estuary"


def test_publishing_includes_ort_when_named(tmp_path):
    from estuary.online.freeze import freeze
    from estuary.online.publish import publish
    from estuary.online.store import Store

    model, rows = learned("scaler|logreg")
    store = Store(tmp_path / "store")
    default = publish(freeze(model, rows[:100]), store)
    assert "ort" not in default.reports  # published only when named
    named = publish(freeze(model, rows[:100]), store, formats=("onnx", "ort"))
    assert named.published and named.reports["ort"].passed
    version = store.open()  # every file checked against the manifest
    assert version.number == named.version
    assert {"model.ort", "model.required_operators.config"} <= set(version.manifest.files)
    loaded = estuary.load(version.file_for("ort"))
    assert loaded.predict_many(rows[:50]) == estuary.load(version.file_for("onnx")).predict_many(
        rows[:50]) == [model.predict_one(x) for x in rows[:50]]
