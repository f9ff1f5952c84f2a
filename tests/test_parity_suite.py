"""Every catalogue case × every registered format, generated from the registry, in the real runtime.

The cases are the ones the registered extractors carry (`registry.catalogue()`); whether a pair
exports or is refused is decided from the declarations alone, before anything runs: an extractor's
`refusal`, or a format's `register_refusal` for an IR node type one of the case's extractors
`produces`. A declared refusal is asserted as a refusal with its reason, never skipped; every
other pair must export. For each exported pair: export, load (golden vectors re-run), parity on
the whole bundled dataset plus adversarial rows (labels 100 %, max abs diff within the format's
tolerance), metadata present, and determinism (same state → byte-identical artifact).
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
from catalog import all_cases, registered_classes
from conftest import learned

import estuary
from estuary import ir
from estuary.api import artifact_size
from estuary.converters import registry
from estuary.converters.registry import EMITTERS, EXTRACTORS, FORMATS, REFUSALS
from estuary.converters.river_to_ir import to_ir
from estuary.ir.evaluate import main_matrix
from estuary.ir.tasks import TASKS
from estuary.parity.reference import river_outputs
from estuary.runtimes import RUNTIMES
from estuary.runtimes.base import TOLERANCE
from estuary.snapshot import take_snapshot

CASES = {cid: factory for cid, _, factory in all_cases()}
FORMAT_NAMES = sorted(FORMATS)


def declared_refusal(case_id: str, fmt: str) -> str:
    """'' when the registry's declarations say the case exports to `fmt`, else the reasons."""
    classes = registered_classes(CASES[case_id]())
    whole = sorted({EXTRACTORS[c].refusal for c in classes} - {""})
    if whole:
        return "; ".join(whole)
    produced = set().union(*(EXTRACTORS[c].produces for c in classes))
    emitted = registry.emitted_as(fmt)  # ort: ONNX's graph, so ONNX's refusals
    return "; ".join(sorted({REFUSALS[(emitted, t)] for t in produced
                             if (emitted, t) in REFUSALS}))


PAIRS = [(cid, fmt, declared_refusal(cid, fmt)) for cid in CASES for fmt in FORMAT_NAMES]
EXPORTED = [pytest.param(cid, fmt, id=f"{cid}-{fmt}") for cid, fmt, why in PAIRS if not why]
REFUSED = [pytest.param(cid, fmt, why, id=f"{cid}-{fmt}") for cid, fmt, why in PAIRS if why]


def ir_node_types(node) -> set[type]:
    """Every Transform / Estimator type inside an IR node."""
    found = set()
    if isinstance(node, ir.Transform | ir.Estimator):
        found.add(type(node))
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            found |= ir_node_types(getattr(node, f.name))
    elif isinstance(node, tuple):
        for v in node:
            found |= ir_node_types(v)
    return found


def artifact_bytes(path) -> bytes:
    """A file's bytes, or a directory artifact's files (names and bytes, in name order)."""
    if not path.is_dir():
        return path.read_bytes()
    return b"".join(f.name.encode() + b"\0" + f.read_bytes() for f in sorted(path.iterdir()))


# ------------------------------------------------------------------ the registry is complete


def test_the_suite_is_not_empty_and_refuses_only_what_is_declared():
    assert len(EXPORTED) >= 5 * 45 and len(FORMAT_NAMES) == 5
    assert {fmt for _, fmt, why in PAIRS if not why} == set(FORMAT_NAMES)
    assert len(CASES) == len(all_cases())  # case ids are unique


def test_ort_exports_every_case_onnx_exports():
    """`.ort` is ONNX's graph in ONNX Runtime Mobile's file: the same cases export (and the
    parity tests below run each of them in onnxruntime from the .ort file)."""
    exported = {fmt: {cid for cid, f, why in PAIRS if f == fmt and not why}
                for fmt in ("onnx", "ort")}
    assert exported["ort"] == exported["onnx"] and len(exported["onnx"]) >= 45
    assert FORMATS["ort"].via == "onnx" and not FORMATS["ort"].by_default


def test_every_format_of_the_dev_extra_is_installed():
    """A format whose library is missing fails here instead of shrinking the suite."""
    from estuary.converters import formats

    assert registry.UNAVAILABLE == {}
    assert set(FORMAT_NAMES) == set(formats.FORMAT_MODULES)
    for fmt in FORMATS.values():
        assert fmt.runtimes, f"{fmt.name} names no runtime"
        assert fmt.extra == formats.FORMAT_MODULES[fmt.name][1]
        assert fmt.precision.startswith(("float64", "float32"))
        for name in fmt.runtimes:
            entry = RUNTIMES[name]
            assert entry.suffix in fmt.suffixes
            module = importlib.import_module(entry.module, "estuary.runtimes")
            assert callable(getattr(module, entry.function))


@pytest.mark.parametrize("river_type", sorted(EXTRACTORS, key=registry.qualname),
                         ids=registry.qualname)
def test_every_extractor_has_cases_that_hold_it(river_type):
    cases = registry.cases_of(river_type)
    assert cases, f"{registry.qualname(river_type)} has no catalogue case: add one to its extractor"
    for case in cases:
        assert river_type in registered_classes(case.build()), case.id
        assert case.id in CASES


@pytest.mark.parametrize("river_type", sorted(EXTRACTORS, key=registry.qualname),
                         ids=registry.qualname)
def test_every_produced_node_has_an_emitter_or_a_declared_refusal(river_type):
    ex = EXTRACTORS[river_type]
    assert ex.produces or ex.refusal
    for fmt in FORMAT_NAMES:
        emitted = registry.emitted_as(fmt)
        for t in ex.produces:
            assert ((emitted, t) in EMITTERS) != ((emitted, t) in REFUSALS), (fmt, t.__name__)


@pytest.mark.parametrize("case_id", list(CASES))
def test_declared_nodes_cover_the_ir(case_id):
    """What the suite decides from the declarations holds for the learned model: every IR node
    type in it is one its extractors declare (`produces`), or the extractor refuses the model."""
    model, _ = learned(case_id)  # every catalogue case, those refused outright included
    classes = registered_classes(model)
    refusal = "; ".join(sorted({EXTRACTORS[c].refusal for c in classes} - {""}))
    if refusal:
        with pytest.raises(estuary.UnsupportedModelError) as e:
            to_ir(model)
        assert all(part in str(e.value) for part in refusal.split("; "))
        return
    declared = {ir.Chain}.union(*(EXTRACTORS[c].produces for c in classes))
    assert ir_node_types(to_ir(model)) <= declared


# ------------------------------------------------------------------ refusals, with their reasons


@pytest.mark.parametrize("case_id, fmt, reason", REFUSED)
def test_refusal(case_id, fmt, reason, tmp_path):
    model, rows = learned(case_id)
    path = tmp_path / f"model{FORMATS[fmt].suffix}"
    with pytest.raises(estuary.UnsupportedModelError) as e:
        estuary.export(model, path, sample=rows[:50], format=fmt)
    for part in reason.split("; "):
        assert part in str(e.value)
    assert not path.exists()


# ------------------------------------------------------------------ exports, in the real runtime


@pytest.mark.parametrize("case_id, fmt", EXPORTED)
def test_parity(case_id, fmt, tmp_path):
    model, rows = learned(case_id)
    path = tmp_path / f"model{FORMATS[fmt].suffix}"
    exported = estuary.export(model, path, sample=rows[:50], format=fmt)
    assert path.exists() and exported.size_bytes == artifact_size(path)
    report = estuary.verify(model, path, rows)
    assert report.passed, report.to_text()
    assert report.n_rows >= len(rows)
    assert report.max_scaled_diff <= report.tolerance
    if report.task in ("classification", "multilabel"):  # multilabel: every label.<t>
        assert report.label_agreement == 1.0
    assert {"sample", "extreme"} <= set(report.rows_by_tag)
    # River's Normalizer raises on a row of zeros (a zero norm): then that row is skipped
    assert "zeros" in report.rows_by_tag or report.n_skipped > 0
    # River's compose.Select raises KeyError on a missing key: those rows are reported as skipped
    assert "missing" in report.rows_by_tag or report.n_skipped > 0
    assert report.runtime.split()[0] in {"onnxruntime", "jpmml-evaluator", "coreml",
                                         "@tensorflow/tfjs"}


@pytest.mark.parametrize("case_id, fmt", EXPORTED)
def test_metadata_and_golden(case_id, fmt, tmp_path):
    model, rows = learned(case_id)
    path = tmp_path / f"model{FORMATS[fmt].suffix}"
    exported = estuary.export(model, path, sample=rows[:20], format=fmt)
    loaded = estuary.load(path)
    meta = loaded.metadata
    assert meta.ir_hash == exported.ir_hash == ir.content_hash(to_ir(model))
    assert meta.schema == to_ir(model).schema
    assert len(meta.golden_inputs) >= 3
    assert meta.provenance["river_version"] == "0.26.1"
    # the tolerance is relative beyond 1 (a float32 leaf model of River's ~1e21 values)
    scale = max([1.0, *(abs(v) for out in meta.golden_outputs for v in out)])
    assert loaded.check_golden() <= TOLERANCE[meta.precision] * scale


@pytest.mark.parametrize("case_id, fmt", EXPORTED)
def test_deterministic_bytes(case_id, fmt, tmp_path):
    model, rows = learned(case_id)
    suffix = FORMATS[fmt].suffix
    snap = take_snapshot(model, rows[:10])
    paths = [estuary.write_snapshot(snap, tmp_path / f"a{suffix}", fmt).path,
             estuary.write_snapshot(snap, tmp_path / f"b{suffix}", fmt).path,
             estuary.export(model, tmp_path / f"c{suffix}", sample=rows[:10], format=fmt).path]
    a, b, c = map(artifact_bytes, paths)
    if not FORMATS[fmt].via:
        assert a == b == c
        return
    # .ort: onnxruntime's serializer writes some tables in an order that varies from one
    # conversion to the next (measured: 6 conversions of one model, 6 byte strings of one
    # length). Its source graph is the ONNX case's (byte-identical above); here the same
    # length, operator config, metadata and outputs on every row
    assert len(a) == len(b) == len(c)
    for companion in FORMATS[fmt].companions:
        assert len({(p.parent / (p.stem + companion)).read_bytes() for p in paths}) == 1
    loaded = [estuary.load(p) for p in paths]
    # the embedded digest is of each file's own bytes
    metas = [dataclasses.replace(m.metadata, integrity="") for m in loaded]
    assert metas[0] == metas[1] == metas[2]
    X = loaded[0].encoder.encode_many(rows)
    out = [m.outputs_matrix(X) for m in loaded]
    assert np.array_equal(out[0], out[1], equal_nan=True)
    assert np.array_equal(out[0], out[2], equal_nan=True)


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
    elif model_ir.task == "classification":
        labels = [model_ir.classes[i] for i in out["label"]]
        assert labels == [model.predict_one(x) for x in loaded_rows]
    else:  # River's own answers for the task, as the parity harness asks for them
        ref = river_outputs(model, loaded_rows, model_ir.task, model_ir.classes)
        spec = TASKS[model_ir.task]
        keep = [i for i, e in enumerate(ref.errors) if e is None]
        assert keep, ref.errors[:3]
        got = main_matrix(spec, out, model_ir.classes)[keep]
        want = ref.outputs[keep]
        assert (np.abs(got - want) <= 1e-6 * np.maximum(1.0, np.abs(want))).all()
        if spec.index:
            assert [model_ir.classes[j] for j in out[spec.index_output][keep]] == [
                ref.labels[i] for i in keep]
        if "is_anomaly" in out:  # a filter's flags: River's classify(score)
            assert [bool(f) for f in out["is_anomaly"][keep]] == [ref.labels[i] for i in keep]
