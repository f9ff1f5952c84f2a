"""ONNX for IR ensembles: every member is emitted as its own float64 subgraph (its transforms,
then its estimator's registered emitter), and the members are combined with plain ops in River's
order: weighted probabilities added member by member, then divided by their total; regressors
a weighted sum over a divisor, or numpy's median through TopK."""

from __future__ import annotations

import numpy as np

from ...ir import arithmetic
from ...ir.ensembles import EnsembleClassifier, EnsembleRegressor, Member
from ..registry import emit, register_emitter
from .graph import Graph, OnnxOps
from .transforms import Context, emit_transform, take


def member_output(m: Member, g: Graph, x: str, columns: tuple[str, ...]) -> dict[str, str]:
    xm, cols = emit_transform(m.transform, Context(g, x, columns))
    wanted = m.estimator.columns
    return emit("onnx", m.estimator, Context(g, take(g, xm, cols, wanted), wanted))


@register_emitter("onnx", EnsembleClassifier)
def ensemble_classifier(est: EnsembleClassifier, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    total = None
    for m, w in zip(est.members, est.weights, strict=True):
        p = member_output(m, g, x, est.columns)["probabilities"]
        if list(m.class_index) != list(range(est.n_classes)):  # place: x·1 + 0 is exact
            place = np.zeros((len(m.class_index), est.n_classes))
            place[np.arange(len(m.class_index)), list(m.class_index)] = 1.0
            p = g.op("MatMul", p, g.const(place))
        if w != 1.0:
            p = g.op("Mul", p, g.const(w))
        total = p if total is None else g.op("Add", total, p)
    return {"probabilities": arithmetic.ensemble_probabilities(OnnxOps(g), total)}


@register_emitter("onnx", EnsembleRegressor)
def ensemble_regressor(est: EnsembleRegressor, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    flat = g.const([-1], np.int64)
    values = [g.op("Reshape", member_output(m, g, x, est.columns)["value"], flat)
              for m in est.members]
    if est.combine == "median":
        n = len(values)
        stacked = g.op("Concat", *[g.op("Unsqueeze", v, g.const([1], np.int64)) for v in values],
                       axis=1)
        ordered, _ = g.op("TopK", stacked, g.const([n], np.int64), axis=1, largest=0, sorted=1,
                          n_out=2)

        def column(k: int) -> str:
            return g.op("Gather", ordered, g.const(k, np.int64), axis=1)

        if n % 2:
            return {"value": column(n // 2)}
        return {"value": g.op("Div", g.op("Add", column(n // 2 - 1), column(n // 2)),
                              g.const(2.0))}
    total = None
    for v, w in zip(values, est.weights, strict=True):
        term = v if w == 1.0 else g.op("Mul", v, g.const(w))
        total = term if total is None else g.op("Add", total, term)
    return {"value": g.op("Div", total, g.const(est.divisor))}
