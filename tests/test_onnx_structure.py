"""Shapes and the checker's pass held per ONNX graph structure (`converters/onnx/structure.py`):
the next snapshot of a learning model skips both, and writes the very bytes a build with nothing
held writes; anything that could change a shape is in the key."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from river import linear_model, preprocessing

import estuary
from estuary.converters import onnx as onnx_format
from estuary.converters.onnx import broadcast, structure
from estuary.online.testing import phishing


@pytest.fixture
def calls(monkeypatch):
    """Calls of ONNX shape inference (broadcast's) and of the checker, counted."""
    seen = {"infer": 0, "check": 0}
    infer, check = onnx.shape_inference.infer_shapes, onnx.checker.check_model

    def counting_infer(*args, **kwargs):
        seen["infer"] += 1
        return infer(*args, **kwargs)

    def counting_check(*args, **kwargs):
        seen["check"] += 1
        return check(*args, **kwargs)

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", counting_infer)
    monkeypatch.setattr(onnx.checker, "check_model", counting_check)
    return seen


def _snapshots(tmp_path, n: int = 3):
    """(path, model state) of `n` snapshots of one Scaler|LogReg that learns 150 events between
    them, exported with whatever is held."""
    data = phishing(600)
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    rows = [x for x, _ in data]
    out = []
    for k in range(n):
        for x, y in data[k * 150:(k + 1) * 150]:
            model.learn_one(x, y)
        path = tmp_path / f"s{k}.onnx"
        estuary.export(model, path, sample=rows[:100])
        out.append((path, model.clone(include_attributes=True)))
    return out, rows


def test_the_next_snapshot_skips_inference_and_checker_and_writes_the_same_bytes(tmp_path,
                                                                                   calls):
    structure.forget()
    snapshots, rows = _snapshots(tmp_path)
    assert calls == {"infer": 1, "check": 1}  # the first snapshot only: then held
    X = estuary.load(snapshots[0][0]).encoder.encode_many(rows[:300])
    for path, state in snapshots:
        structure.forget()
        onnx_format._WRITTEN.clear()
        fresh = tmp_path / "fresh.onnx"
        estuary.export(state, fresh, sample=rows[:100])  # nothing held: inferred and checked
        assert fresh.read_bytes() == path.read_bytes()
        assert estuary.verify(state, path, rows[:100]).passed
        session = ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
        assert session.run(None, {"input": X})[1].tobytes() == ort.InferenceSession(
            fresh.read_bytes(), providers=["CPUExecutionProvider"]).run(
            None, {"input": X})[1].tobytes()
    assert len({p.read_bytes() for p, _ in snapshots}) == len(snapshots)  # other weights


def test_a_new_feature_is_a_new_structure(tmp_path, calls):
    structure.forget()
    data = phishing(300)
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for x, y in data[:200]:
        model.learn_one(x, y)
    rows = [x for x, _ in data]
    estuary.export(model, tmp_path / "a.onnx", sample=rows[:50])
    model.learn_one({**data[200][0], "new_feature": 1.5}, data[200][1])  # one more column
    estuary.export(model, tmp_path / "b.onnx", sample=rows[:50])
    assert calls == {"infer": 2, "check": 2}
    assert estuary.verify(model, tmp_path / "b.onnx", rows[:50]).passed


def _graph(shape_value: list[int], scale: float, limit: float) -> onnx.ModelProto:
    """x [N, 2] * s reshaped by an int64 constant, beside a Range whose float limit decides its
    length."""
    n = helper.make_node
    consts = {"s": np.array([[scale, 2.0]]), "shape": np.array(shape_value, np.int64),
              "start": np.array(0.0), "limit": np.array(limit), "delta": np.array(1.0)}
    graph = helper.make_graph(
        [n("Mul", ["x", "s"], ["m"]), n("Reshape", ["m", "shape"], ["y"]),
         n("Range", ["start", "limit", "delta"], ["r"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None),
         helper.make_tensor_value_info("r", TensorProto.DOUBLE, None)],
        initializer=[numpy_helper.from_array(v, k) for k, v in consts.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def test_the_key_holds_every_value_that_can_decide_a_shape():
    base = structure.key(_graph([-1], 1.5, 3.0))
    assert base is not None
    assert structure.key(_graph([-1], -7.25, 3.0)) == base  # a float read by Mul: dims only
    assert structure.key(_graph([-1, 1], 1.5, 3.0)) != base  # an int64 shape: by value
    assert structure.key(_graph([-1], 1.5, 4.0)) != base  # a float Range reads: by value
    shapes = [broadcast.inferred_shapes(_graph([-1], 1.5, v))["r"] for v in (3.0, 4.0)]
    assert shapes[0] != shapes[1]  # which is why: Range's length follows its float limit


def test_a_graph_past_the_size_limit_is_not_keyed():
    big = _graph([-1], 1.5, 3.0)
    big.graph.initializer.append(numpy_helper.from_array(
        np.zeros(structure.MAX_BYTES // 8 + 1), "unused"))
    assert structure.key(big) is None


def test_a_reranked_constant_is_the_tensor_numpy_writes():
    """`broadcast._reshaped` copies raw bytes with new dims: the same TensorProto bytes as
    numpy's to_array / reshape / from_array, which still takes tensors in typed fields."""
    for value in (np.array([1.5, -0.0, np.nan, 5e-324]), np.array(2.0), np.arange(6.0)):
        raw = numpy_helper.from_array(value, "c")
        dims = (1,) + value.shape if value.ndim else (1, 1)
        want = numpy_helper.from_array(numpy_helper.to_array(raw).reshape(dims), "c_r")
        got = broadcast._reshaped(raw, "c_r", dims)
        assert got.SerializeToString(deterministic=True) == want.SerializeToString(
            deterministic=True)
    typed = helper.make_tensor("t", TensorProto.DOUBLE, [2], [1.0, 2.0])  # double_data
    got = broadcast._reshaped(typed, "t_r", (1, 2))
    assert got.HasField("raw_data")
    assert np.array_equal(numpy_helper.to_array(got), np.array([[1.0, 2.0]]))
