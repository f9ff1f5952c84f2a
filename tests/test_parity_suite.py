"""Every registered River model × every registered format, in the real runtime.

For each pair: export, load (golden vectors re-run), parity on the whole bundled dataset plus
adversarial rows (labels 100 %, max abs diff within the format's tolerance), metadata present,
and determinism (same state → byte-identical artifact).
"""

from __future__ import annotations

import pytest

import estuary
from estuary import ir
from estuary.api import artifact_size
from estuary.converters.registry import FORMATS
from estuary.converters.river_to_ir import to_ir
from estuary.runtimes.base import TOLERANCE
from estuary.snapshot import take_snapshot

FORMAT_NAMES = sorted(FORMATS)


@pytest.fixture(params=FORMAT_NAMES)
def fmt(request):
    return FORMATS[request.param]


def nodes_without_emitter(node, fmt: str) -> set[str]:
    """IR node types inside `node` that `fmt` has no emitter for."""
    import dataclasses

    from estuary.converters.registry import EMITTERS

    missing = set()
    if dataclasses.is_dataclass(node) and isinstance(node, (ir.Transform, ir.Estimator)):
        if (fmt, type(node)) not in EMITTERS:
            missing.add(type(node).__name__)
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            missing |= nodes_without_emitter(getattr(node, f.name), fmt)
    elif isinstance(node, tuple):
        for v in node:
            missing |= nodes_without_emitter(v, fmt)
    return missing


def artifact_bytes(path) -> bytes:
    """A file's bytes, or a directory artifact's files (names and bytes, in name order)."""
    if not path.is_dir():
        return path.read_bytes()
    return b"".join(f.name.encode() + b"\0" + f.read_bytes() for f in sorted(path.iterdir()))


def test_parity(case, fmt, tmp_path):
    case_id, model, rows = case
    path = tmp_path / f"model{fmt.suffix}"
    missing = nodes_without_emitter(to_ir(model), fmt.name)
    if missing:  # a format that cannot express the model must refuse clearly, and write nothing
        with pytest.raises(estuary.UnsupportedModelError, match=sorted(missing)[0]):
            estuary.export(model, path, sample=rows[:50])
        assert not path.exists()
        return
    exported = estuary.export(model, path, sample=rows[:50])
    assert path.exists() and exported.size_bytes == artifact_size(path)
    report = estuary.verify(model, path, rows)
    assert report.passed, report.to_text()
    assert report.n_rows >= len(rows)
    assert report.max_scaled_diff <= report.tolerance
    if report.task == "classification":
        assert report.label_agreement == 1.0
    assert {"sample", "zeros", "extreme"} <= set(report.rows_by_tag)
    # River's compose.Select raises KeyError on a missing key: those rows are reported as skipped
    assert "missing" in report.rows_by_tag or report.n_skipped > 0
    assert report.runtime.split()[0] in {"onnxruntime", "jpmml-evaluator", "coreml",
                                         "@tensorflow/tfjs"}


def test_metadata_and_golden(case, fmt, tmp_path):
    case_id, model, rows = case
    if nodes_without_emitter(to_ir(model), fmt.name):
        pytest.skip(f"{fmt.name} cannot express {case_id} (refusal tested in test_parity)")
    path = tmp_path / f"model{fmt.suffix}"
    exported = estuary.export(model, path, sample=rows[:20])
    loaded = estuary.load(path)
    meta = loaded.metadata
    assert meta.ir_hash == exported.ir_hash == ir.content_hash(to_ir(model))
    assert meta.schema == to_ir(model).schema
    assert len(meta.golden_inputs) >= 3
    assert meta.provenance["river_version"] == "0.26.1"
    # the tolerance is relative beyond 1 (a float32 leaf model of River's ~1e21 values)
    scale = max([1.0, *(abs(v) for out in meta.golden_outputs for v in out)])
    assert loaded.check_golden() <= TOLERANCE[meta.precision] * scale


def test_deterministic_bytes(case, fmt, tmp_path):
    case_id, model, rows = case
    if nodes_without_emitter(to_ir(model), fmt.name):
        pytest.skip(f"{fmt.name} cannot express {case_id} (refusal tested in test_parity)")
    snap = take_snapshot(model, rows[:10])
    a = artifact_bytes(estuary.write_snapshot(snap, tmp_path / f"a{fmt.suffix}").path)
    b = artifact_bytes(estuary.write_snapshot(snap, tmp_path / f"b{fmt.suffix}").path)
    c = artifact_bytes(estuary.export(model, tmp_path / f"c{fmt.suffix}", sample=rows[:10]).path)
    assert a == b == c


def test_ir_round_trip_and_numpy_evaluator(case):
    case_id, model, rows = case
    model_ir = to_ir(model)
    assert ir.from_json(ir.to_json(model_ir)) == model_ir
    assert ir.content_hash(ir.from_json(ir.to_json(model_ir))) == ir.content_hash(model_ir)
    loaded_rows = rows[:200]
    from estuary.rows import RowEncoder

    out = ir.evaluate(model_ir, RowEncoder(model_ir.schema).encode_many(loaded_rows))
    if model_ir.task == "regression":
        ref = [model.predict_one(x) for x in loaded_rows]
        assert max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(out["value"], ref)) <= 1e-6
    else:
        labels = [model_ir.classes[i] for i in out["label"]]
        assert labels == [model.predict_one(x) for x in loaded_rows]
