"""TF.js for IR ensembles (ARF, bagging): River's weighted sum of the members' probabilities,
normalised, or the weighted mean / median of their values.

Members that are all trees are routed together (trees.emit_forest). Any other mix is emitted
member by member, each as the model it is (its transforms after the ensemble's, then its
estimator), and combined here: probabilities placed in the ensemble's class order and weighed
by one MatMul each (x · w, one non-zero term per output).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import ir
from ...ir.ensembles import EnsembleClassifier, EnsembleRegressor
from ..registry import register_emitter
from .graph import Graph
from .transforms import FORMAT, Context, emit_model
from .trees import TREES, TreeMember, emit_forest, median, normalised

EmitModel = Callable[[ir.Model, Graph, str], dict[str, str]]


def members_as_models(model: ir.Model) -> list[TreeMember]:
    """Each member as the model it is: the schema, the ensemble's transforms then its own, and
    its estimator; with its weight and class places."""
    est = model.estimator
    return [TreeMember(ir.Model(model.schema, ir.Chain((model.transform, m.transform)),
                                m.estimator, model.task, model.classes), w, m.class_index)
            for m, w in zip(est.members, est.weights, strict=True)]


def emit_ensemble(model: ir.Model, g: Graph, x: str, emit_model: EmitModel) -> dict[str, str]:
    est = model.estimator
    members = members_as_models(model)
    if all(isinstance(m.model.estimator, TREES) for m in members):
        return emit_forest(model, members, g, x)
    if model.task == "classification":
        total = None
        for m in members:
            p = emit_model(m.model, g, x)["probabilities"]
            place = np.zeros((len(m.class_index), est.n_classes))
            place[np.arange(len(m.class_index)), list(m.class_index)] = m.weight
            term = g.op("MatMul", p, g.const(place))
            total = term if total is None else g.op("AddV2", total, term)
        return normalised(g, total)
    column = g.const([-1, 1], np.int32, "shape")
    values = [g.op("Reshape", emit_model(m.model, g, x)["value"], column) for m in members]
    stacked = values[0] if len(values) == 1 else g.op("ConcatV2", *values, g.axis(1),
                                                      N=len(values))
    if est.combine == "median":
        return {"value": median(g, stacked, len(members))}
    weights = np.asarray(est.weights, dtype=np.float64)[:, None] / est.divisor
    return {"value": g.op("MatMul", stacked, g.const(weights))}


@register_emitter(FORMAT, EnsembleClassifier)
@register_emitter(FORMAT, EnsembleRegressor)
def ensemble(est: EnsembleClassifier | EnsembleRegressor, ctx: Context) -> dict[str, str]:
    """Members read the raw input as models of their own (`emit_model`): the whole model,
    `ctx.model`, with `ctx.x` its raw input."""
    return emit_ensemble(ctx.model, ctx.graph, ctx.x, emit_model)
