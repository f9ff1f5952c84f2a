"""Export then verify of one model state: River answers each probe row once (export's golden rows
are handed to verify while the state fingerprint holds), the leaf rows are built once per IR, and
verify re-checks the golden vectors of any bytes export did not check itself."""

from __future__ import annotations

import pytest
from test_export_verify_reuse import _nba_tree  # the same mixed-leaf tree

import estuary
from estuary.converters.river_to_ir.reuse import ir_of
from estuary.errors import IntegrityError
from estuary.parity import handoff
from estuary.parity.probes import probe_rows, same_row
from estuary.runtimes import base as runtime_base


@pytest.fixture
def asked(monkeypatch):
    """Rows River is asked about by verify (handoff's calls of river_outputs)."""
    seen: list[int] = []
    real = handoff.river_outputs

    def counting(model, rows, *args, **kwargs):
        seen.append(len(rows))
        return real(model, rows, *args, **kwargs)

    monkeypatch.setattr(handoff, "river_outputs", counting)
    return seen


def _summary(report):
    return (report.passed, report.n_rows, report.n_skipped, report.max_abs_diff,
            report.label_agreement, report.rows_by_tag, report.diff_counts)


def test_verify_asks_river_only_about_rows_export_did_not(tmp_path, asked):
    model, rows = _nba_tree()
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows[:200])
    probes = probe_rows(ir_of(model), rows[:200])
    leaves = sum(p.tag == "leaf" for p in probes)
    assert leaves > 50
    asked.clear()
    shared = estuary.verify(model, path, rows[:200])
    assert sum(asked) <= len(probes) - leaves  # every leaf row's answer came from export
    handoff.forget(model)
    asked.clear()
    fresh = estuary.verify(model, path, rows[:200])
    assert sum(asked) == len(probes)  # nothing held: River answers every row
    assert shared.passed and _summary(shared) == _summary(fresh)


def test_no_answer_outlives_a_learn_one(tmp_path, asked):
    model, rows = _nba_tree()
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows[:200])
    for x in rows[:300]:
        model.learn_one(x, 1)
    asked.clear()
    n = len(probe_rows(ir_of(model), rows[:200]))
    estuary.verify(model, tmp_path / "m.onnx", rows[:200])  # the old artifact, the new state
    assert sum(asked) == n  # the state moved: River is asked about every row again


def test_a_re_export_of_the_same_state_asks_river_nothing(tmp_path, asked):
    model, rows = _nba_tree()
    first = estuary.export(model, tmp_path / "a.onnx", sample=rows[:200])
    assert sum(asked) > 0  # River answered the golden candidates
    asked.clear()
    again = estuary.export(model, tmp_path / "b.onnx", sample=rows[:200])
    assert sum(asked) == 0  # the same probe row objects: every answer was held
    assert again.snapshot.golden_outputs == first.snapshot.golden_outputs
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_a_re_verify_of_the_same_state_asks_river_nothing(tmp_path, asked):
    model, rows = _nba_tree()
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows[:200])
    first = estuary.verify(model, path, rows[:200])
    asked.clear()
    again = estuary.verify(model, path, [dict(r) for r in rows[:200]])  # equal copies
    assert sum(asked) == 0
    assert again.passed and _summary(again) == _summary(first)
    other = [dict(r) for r in rows[:200]]
    key = next(k for k, v in other[0].items() if isinstance(v, float))
    other[0][key] = -other[0][key] if other[0][key] else -0.0  # another row: asked again
    asked.clear()
    estuary.verify(model, path, other)
    assert sum(asked) > 0


def test_probe_rows_are_remembered_for_the_same_sample_content():
    model, rows = _nba_tree()
    model_ir = ir_of(model)
    first = probe_rows(model_ir, rows[:50])
    again = probe_rows(model_ir, [dict(r) for r in rows[:50]])
    assert all(a.row is b.row for a, b in zip(first, again)) and len(first) == len(again)
    zero = [dict(r) for r in rows[:50]]
    key = next(iter(zero[1]))
    for value in (-0.0, 0.0, 0, False):  # equal numbers River could tell apart
        zero[1][key] = value
        made = probe_rows(model_ir, zero)
        assert made[1].row == zero[1] and type(made[1].row[key]) is type(value)
        assert str(made[1].row[key]) == str(value)
    reordered = [dict(reversed(list(r.items()))) for r in rows[:50]]
    assert list(probe_rows(model_ir, reordered)[0].row) == list(reordered[0])


def test_leaf_rows_are_built_once_per_ir_and_base_row():
    model, rows = _nba_tree()
    model_ir = ir_of(model)
    first = [p.row for p in probe_rows(model_ir, rows[:8]) if p.tag == "leaf"]
    again = [p.row for p in probe_rows(model_ir, rows[:200]) if p.tag == "leaf"]
    assert first and all(a is b for a, b in zip(first, again)) and len(first) == len(again)
    other = [p.row for p in probe_rows(model_ir, rows[5:200]) if p.tag == "leaf"]
    assert not any(a is b for a, b in zip(first, other))  # another first row: rebuilt


def test_same_row_tells_apart_what_river_could_answer_differently():
    assert same_row({"x": 1.0, "c": "a"}, {"c": "a", "x": 1.0})
    assert same_row({"x": float("nan")}, {"x": float("nan")})
    assert not same_row({"x": 0.0}, {"x": -0.0})
    assert not same_row({"x": 1}, {"x": 1.0})
    assert not same_row({"x": True}, {"x": 1})
    assert not same_row({"x": 1.0}, {"x": 1.0, "y": 2.0})


def test_verify_rechecks_bytes_export_did_not_check(tmp_path):
    model, rows = _nba_tree()
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows[:50])
    assert estuary.verify(model, path, rows[:50]).passed
    data = bytearray(path.read_bytes())
    marker = data.index(b"sha256:") + len(b"sha256:")
    data[marker] = ord("0") if data[marker] != ord("0") else ord("1")  # another digest
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        estuary.verify(model, path, rows[:50])
    assert len(runtime_base._GOLDEN_PASSED) <= runtime_base.MAX_GOLDEN_PASSED


def test_a_re_export_writes_the_bytes_a_fresh_build_writes(tmp_path):
    """The ONNX bytes held per IR object are used only for equal golden rows and provenance:
    another sample gives other bytes, each equal to a build with nothing held."""
    from estuary.converters import onnx as onnx_format

    model, rows = _nba_tree()
    a = estuary.export(model, tmp_path / "a.onnx", sample=rows[:200])
    b = estuary.export(model, tmp_path / "b.onnx", sample=rows[1:201])  # other golden rows
    assert a.snapshot.model is b.snapshot.model
    assert a.snapshot.golden_inputs != b.snapshot.golden_inputs
    held = {p: (tmp_path / p).read_bytes() for p in ("a.onnx", "b.onnx")}
    assert held["a.onnx"] != held["b.onnx"]
    for name, sample in (("a.onnx", rows[:200]), ("b.onnx", rows[1:201])):
        onnx_format._WRITTEN.clear()
        estuary.export(model, tmp_path / "fresh.onnx", sample=sample)
        assert (tmp_path / "fresh.onnx").read_bytes() == held[name]
    model.learn_one(rows[0], 1)
    c = estuary.export(model, tmp_path / "c.onnx", sample=rows[:200])
    assert c.snapshot.model is not a.snapshot.model
    assert estuary.verify(model, tmp_path / "c.onnx", rows[:200]).passed


def test_a_re_verify_reuses_the_probe_matrix_only_for_the_same_row_objects(tmp_path):
    from estuary.parity import harness

    model, rows = _nba_tree()
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows[:100])
    estuary.verify(model, path, rows[:100])
    first = harness._ENCODED[0][3]
    assert not first.flags.writeable
    estuary.verify(model, path, [dict(r) for r in rows[:100]])  # equal content: same probes
    assert harness._ENCODED[0][3] is first
    estuary.verify(model, path, rows[1:101])  # other rows: encoded afresh
    assert harness._ENCODED[0][3] is not first


def test_a_scaler_switched_to_no_std_is_a_new_state(tmp_path):
    from river import datasets, linear_model, preprocessing

    data = list(datasets.Phishing())[:400]
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for x, y in data:
        model.learn_one(x, y)
    path = tmp_path / "m.onnx"
    rows = [x for x, _ in data[:200]]
    estuary.export(model, path, sample=rows)
    assert estuary.verify(model, path, rows).passed
    before = ir_of(model)
    model["StandardScaler"].with_std = False  # a parameter River's transform reads
    assert ir_of(model) is not before
    assert not estuary.verify(model, path, rows).passed


def test_a_linear_model_given_another_loss_is_a_new_state():
    from river import datasets, linear_model, optim

    model = linear_model.LinearRegression()
    for x, y in list(datasets.TrumpApproval())[:100]:
        model.learn_one(x, y)
    before = ir_of(model)
    assert ir_of(model) is before
    model.loss = optim.losses.Squared()  # an equal loss, but another object
    assert ir_of(model) is not before


def test_held_answers_are_river_s_own_and_unmoved_by_their_caller():
    """Answers held from two `keep` calls (export's, then verify's) come back as River gives
    them, bit for bit, in the caller's row order; a caller writing into the Reference it got
    (compare marks skipped rows in its errors) does not change what is held."""
    import numpy as np

    from estuary.parity.reference import river_outputs

    model, rows = _nba_tree()
    model_ir = ir_of(model)
    rows = [p.row for p in probe_rows(model_ir, rows[:60])]
    handoff.forget(model)
    first = handoff.river_outputs_reusing(model, rows[::3], "classification", model_ir.classes,
                                          hold=True)
    first.errors[0] = "marked by a caller"
    handoff.river_outputs_reusing(model, rows, "classification", model_ir.classes, hold=True)
    shuffled = rows[::-1]
    held = handoff.river_outputs_reusing(model, shuffled, "classification", model_ir.classes)
    fresh = river_outputs(model, shuffled, "classification", model_ir.classes)
    assert np.array_equal(held.outputs, fresh.outputs, equal_nan=True)
    assert held.outputs.tobytes() == fresh.outputs.tobytes()
    assert held.labels == fresh.labels and held.errors == fresh.errors
    assert "marked by a caller" not in held.errors
    handoff.forget(model)


def test_a_linear_model_s_next_state_gets_the_same_probe_rows_and_river_is_asked_again(
        tmp_path, asked):
    """Probe rows that follow from the schema and the sample alone (`probes.structural_only`)
    are the same row objects in the next state of a learning model; River's answers are not:
    verify asks River about every row again, and its report equals one with nothing held."""
    from river import datasets, linear_model, preprocessing

    from estuary.parity import probes as probes_module

    data = list(datasets.Phishing())[:500]
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for x, y in data[:300]:
        model.learn_one(x, y)
    rows = [x for x, _ in data[:200]]
    first = probe_rows(ir_of(model), rows)
    assert probes_module.structural_only(ir_of(model))
    for x, y in data[300:]:
        model.learn_one(x, y)
    path = tmp_path / "m.onnx"
    estuary.export(model, path, sample=rows)
    again = probe_rows(ir_of(model), rows)
    assert len(again) == len(first) and all(a.row is b.row for a, b in zip(first, again))
    asked.clear()
    held = estuary.verify(model, path, rows)
    assert sum(asked) == len(again)  # a new state: River answers every row again
    probes_module._STRUCTURAL.clear()
    handoff.forget(model)
    fresh = estuary.verify(model, path, [dict(r) for r in rows])
    assert held.passed and _summary(held) == _summary(fresh)
    model.learn_one({**data[0][0], "new_feature": 2.0}, data[0][1])  # another schema
    assert not any(a.row is b.row for a, b in zip(first, probe_rows(ir_of(model), rows)))


def test_a_tree_s_probe_rows_are_not_held_across_states():
    from estuary.parity import probes as probes_module

    model, rows = _nba_tree()
    assert not probes_module.structural_only(ir_of(model))
