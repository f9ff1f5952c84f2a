"""ONNX for IR EstimatorChain (River's ClassifierChain, RegressorChain): each member's own
transforms and estimator, emitted by their registered emitters on the chain's input with the
earlier targets' columns appended (P(True) or the prediction, as River writes them into the
row); the members' outputs side by side."""

from __future__ import annotations

import numpy as np

from ...ir import arithmetic
from ...ir.multioutput import EncodedLabels, EstimatorChain
from ..registry import emit, register_emitter
from .graph import OnnxOps
from .transforms import Context, emit_transform, take


@register_emitter("onnx", EstimatorChain)
def estimator_chain(est: EstimatorChain, ctx: Context) -> dict[str, str]:
    g = ctx.graph
    x, columns = take(g, ctx.x, ctx.columns, est.columns), est.columns
    outputs = []
    for target, chain, member in zip(est.targets, est.transforms, est.estimators, strict=True):
        y, y_columns = emit_transform(chain, ctx.at(x, columns))
        out = emit("onnx", member, ctx.at(take(g, y, y_columns, member.columns), member.columns))
        out = out[est.kind]
        if est.kind == "value":
            out = g.op("Reshape", out, g.const([-1, 1], np.int64))
        outputs.append(out)
        if est.feeds:
            fed = g.gather_columns(out, [1]) if est.kind == "probabilities" else out
            x, columns = g.op("Concat", x, fed, axis=1), columns + (target,)
    return {est.kind: g.op("Concat", *outputs, axis=1) if len(outputs) > 1 else outputs[0]}


@register_emitter("onnx", EncodedLabels)
def encoded_labels(est: EncodedLabels, ctx: Context) -> dict[str, str]:
    """River's MultiClassEncoder: the member's code probabilities, then
    `ir.arithmetic.encoded_labels` (the first most probable code's combination)."""
    g = ctx.graph
    y, y_columns = emit_transform(est.transform, ctx.at(take(g, ctx.x, ctx.columns, est.columns),
                                                        est.columns))
    p = emit("onnx", est.member, ctx.at(take(g, y, y_columns, est.member.columns),
                                        est.member.columns))["probabilities"]
    return {"probabilities": arithmetic.encoded_labels(OnnxOps(g), p, est.table)}
