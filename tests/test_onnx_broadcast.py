"""ONNX graphs shaped for onnxruntime's fast element-wise loops (`converters/onnx/broadcast.py`):
the rewrite changes constants' shapes and adds Shape/Expand nodes, never a result."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from river import linear_model, preprocessing

import estuary
from estuary.converters.onnx.broadcast import prebroadcast
from estuary.online.testing import phishing


def _model() -> onnx.ModelProto:
    """x [N, 3] → ((x - m) / d, NaN → 0) · w summed, + b, compared with a scalar: every
    constant shape the emitters write ([1, F], [F], [], [1])."""
    c = {"m": np.array([[0.5, -1.0, 2.0]]), "d": np.array([3.0, 0.1, 7.0]), "zero": np.array(0.0),
         "w": np.array([[1.5, -2.0, 0.25]]), "axes": np.array([1], np.int64),
         "b": np.array([0.3]), "t": np.array(1.0)}
    n = helper.make_node
    nodes = [n("Sub", ["x", "m"], ["s1"]), n("Div", ["s1", "d"], ["s"]),
             n("IsNaN", ["s"], ["nan"]), n("Where", ["nan", "zero", "s"], ["s0"]),
             n("Mul", ["s0", "w"], ["p"]), n("ReduceSum", ["p", "axes"], ["dot"], keepdims=1),
             n("Add", ["dot", "b"], ["z"]), n("Greater", ["z", "t"], ["above"]),
             n("Cast", ["above"], ["flag"], to=TensorProto.DOUBLE)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 3])],
        [helper.make_tensor_value_info("z", TensorProto.DOUBLE, ["N", 1]),
         helper.make_tensor_value_info("flag", TensorProto.DOUBLE, ["N", 1])],
        initializer=[numpy_helper.from_array(v, k) for k, v in c.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def _run(model: onnx.ModelProto, X: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": X})


def test_the_rewrite_shapes_constants_and_keeps_every_bit():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3)) * 10.0 ** rng.integers(-300, 300, size=(500, 3))
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:5] = [[np.inf, -np.inf, 1e308], [-1e308, 5e-324, -0.0], [np.nan] * 3, [0.0] * 3,
             [1e-300, np.inf, np.nan]]
    before = _run(_model(), X)
    rewritten = prebroadcast(_model())
    onnx.checker.check_model(rewritten, full_check=True)
    for a, b in zip(before, _run(rewritten, X)):
        assert np.array_equal(a.view(np.int64), b.view(np.int64))  # NaN payloads and -0.0 too
    for one_row in (X[:1], X[2:3]):
        for a, b in zip(_run(_model(), one_row), _run(rewritten, one_row)):
            assert np.array_equal(a.view(np.int64), b.view(np.int64))
    shapes = {t.name: tuple(t.dims) for t in rewritten.graph.initializer}
    ops = {n.output[0]: n for n in rewritten.graph.node}
    by_op = {n.op_type: n for n in rewritten.graph.node}
    # [1, F] against [N, F]: read expanded to x's shape (one Shape node for the three of them)
    for op in ("Sub", "Div", "Mul"):
        assert ops[by_op[op].input[1]].op_type == "Expand", op
    assert [n.op_type for n in rewritten.graph.node].count("Shape") == 1
    assert shapes[ops[by_op["Div"].input[1]].input[0]] == (1, 3)  # [3] got its rank first
    # scalars and [1] against [N, 1]: the output's rank, no Expand; Where keeps its [1, 1]
    assert shapes[by_op["Add"].input[1]] == shapes[by_op["Greater"].input[1]] == (1, 1)
    assert shapes[by_op["Where"].input[1]] == (1, 1)
    assert "zero" not in shapes and "t" not in shapes  # the unranked originals are unread


def test_an_exported_logistic_regression_names_its_outputs_without_identity(tmp_path):
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    rows = []
    for x, y in phishing(200):
        model.learn_one(x, y)
        rows.append(x)
    path = estuary.export(model, tmp_path / "m.onnx", sample=rows[:20]).path
    proto = onnx.load(path)
    kinds = [n.op_type for n in proto.graph.node]
    assert "Identity" not in kinds and "Unsqueeze" not in kinds
    outputs = {o.name: o.type.tensor_type.elem_type for o in proto.graph.output}
    assert outputs == {"label": TensorProto.INT64, "probabilities": TensorProto.DOUBLE}
    loaded = estuary.load(path)  # the golden vectors reproduce
    expected = [[model.predict_proba_one(x)[c] for c in loaded.classes] for x in rows]
    np.testing.assert_allclose(loaded.predict_proba_many(rows), expected, rtol=1e-12, atol=0)
