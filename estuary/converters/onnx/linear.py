"""ONNX for IR Linear: float64 MatMul, River's clamped sigmoid, softmax and one-vs-rest."""

from __future__ import annotations

import numpy as np

from ... import ir
from ..registry import register_emitter
from .graph import Graph
from .transforms import Context


def clamped_sigmoid(g: Graph, z: str) -> str:
    """River's `utils.math.sigmoid`: 1 / (1 + exp(-z)), exactly 0 below -30 and 1 above 30."""
    p = g.op("Reciprocal", g.op("Add", g.const(1.0), g.op("Exp", g.op("Neg", z))))
    high = g.op("Where", g.op("Greater", z, g.const(30.0)), g.const(1.0), p)
    return g.op("Where", g.op("Less", z, g.const(-30.0)), g.const(0.0), high)


@register_emitter("onnx", ir.Linear)
def linear(est: ir.Linear, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    W = np.asarray(est.weights, dtype=np.float64).reshape(len(est.intercepts), len(est.columns))
    z = g.op("Add", g.op("MatMul", g.nan_to_zero(x), g.const(W.T)), g.const(est.intercepts))
    if est.link == "identity":
        return {"value": z}
    if est.link == "sigmoid":
        p = clamped_sigmoid(g, z)
        return {"probabilities": g.op("Concat", g.op("Sub", g.const(1.0), p), p, axis=1)}
    if est.link == "softmax":
        shifted = g.op("Sub", z, g.op("ReduceMax", z, g.const([1], np.int64), keepdims=1))
        e = g.op("Exp", shifted)
        return {"probabilities": g.op("Div", e, g.op("ReduceSum", e, g.const([1], np.int64),
                                                     keepdims=1))}
    p = clamped_sigmoid(g, z)  # ovr_sigmoid
    total = g.op("ReduceSum", p, g.const([1], np.int64), keepdims=1)
    positive = g.op("Greater", total, g.const(0.0))
    safe_total = g.op("Where", positive, total, g.const(1.0))
    uniform = g.const(1.0 / len(est.intercepts))
    return {"probabilities": g.op("Where", positive, g.op("Div", p, safe_total), uniform)}
