"""TF.js for IR EstimatorChain (River's ClassifierChain, RegressorChain, PerOutput*): each
member as a model of its own (its transforms and estimator through their registered TF.js
emitters, linear members with their exact float32 fold) on the chain's input with the earlier
targets' columns appended, P(True) or the prediction as River writes them into the row (in
float32: the parity report measures it). The members' outputs side by side."""

from __future__ import annotations

import numpy as np

from ... import ir
from ...ir.multioutput import EncodedLabels, EstimatorChain
from ..registry import register_emitter, register_refusal
from .transforms import FORMAT, Context, emit_model


def _member_model(columns: tuple[str, ...], chain: ir.Chain, member: ir.Estimator,
                  kind: str) -> ir.Model:
    """A member as a model whose raw inputs are its input columns (numbers, by name)."""
    schema = ir.FeatureSchema(tuple(ir.Feature(c, c) for c in columns))
    if kind == "probabilities":
        return ir.Model(schema, chain, member, "classification", (False, True))
    return ir.Model(schema, chain, member, "regression")


@register_emitter(FORMAT, EstimatorChain)
def estimator_chain(est: EstimatorChain, ctx: Context) -> dict[str, str]:
    g = ctx.graph
    x, columns = ctx.transformed(), est.columns
    outputs = []
    for target, chain, member in zip(est.targets, est.transforms, est.estimators, strict=True):
        out = emit_model(_member_model(columns, chain, member, est.kind), g, x)[est.kind]
        out = g.op("Reshape", out, g.const([-1, est.width], np.int32, "shape"))
        outputs.append(out)
        if est.feeds:
            fed = g.gather_columns(out, [1]) if est.kind == "probabilities" else out
            x, columns = g.op("ConcatV2", x, fed, g.axis(1), N=2), columns + (target,)
    if len(outputs) == 1:
        return {est.kind: outputs[0]}
    return {est.kind: g.op("ConcatV2", *outputs, g.axis(1), N=len(outputs))}


register_refusal(FORMAT, EncodedLabels, "float32 code probabilities can pick another most "
                 "probable combination than River's float64 ones when two are nearly equal; "
                 "export to ONNX or PMML")
