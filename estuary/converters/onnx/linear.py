"""ONNX for IR Linear: a float64 MatMul, then River's link from `ir.arithmetic`."""

from __future__ import annotations

import numpy as np

from ... import ir
from ...ir import arithmetic
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context


@register_emitter("onnx", ir.Linear)
def linear(est: ir.Linear, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    W = np.asarray(est.weights, dtype=np.float64).reshape(len(est.intercepts), len(est.columns))
    # River rounds each product w·x on its own (one beyond ±1.8e308 is ±inf, and +inf + -inf is
    # NaN); onnxruntime's MatMul fuses multiply-adds, so an overflowing product can vanish into
    # the running sum (-inf where River says NaN: a polynomial of a huge input). Mul, then sum.
    present = g.nan_to_zero(x)
    if len(W) == 1:  # one output: [N, F] · [1, F] summed over F is already [N, 1]
        dot = g.reduce("ReduceSum", g.op("Mul", present, g.const(W)), 1, True)
    else:
        x3 = g.op("Unsqueeze", present, g.const([1], np.int64))  # [N, 1, F]
        dot = g.reduce("ReduceSum", g.op("Mul", x3, g.const(W)), 2, False)  # [N, K]
    z = g.op("Add", dot, g.const(est.intercepts))
    o = OnnxOps(g)
    scores = arithmetic.link(o, est.link, z)
    return {scores.kind: arithmetic.normalised(o, scores)}
