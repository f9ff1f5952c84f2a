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
    z = g.op("Add", g.op("MatMul", g.nan_to_zero(x), g.const(W.T)), g.const(est.intercepts))
    o = OnnxOps(g)
    scores = arithmetic.link(o, est.link, z)
    return {scores.kind: arithmetic.normalised(o, scores)}
