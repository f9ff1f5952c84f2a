"""ONNX for IR Ordinal and Polynomial (float64, exact as the numpy evaluator)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from ...ir.features import Ordinal, Polynomial, block_matrix
from ..registry import register_emitter
from .transforms import Context, Tensor, take


@register_emitter("onnx", Ordinal)
def ordinal(step: Ordinal, ctx: Context) -> Tensor:
    """codes = unknown + nan_to_zero(S) · W, then NaN where any column of the feature is NaN
    (a mask, because in one MatMul a NaN would spread to every feature's code)."""
    g, x, columns = ctx.graph, ctx.x, ctx.columns
    S = take(g, x, columns, tuple(c for src in step.sources for c in src))
    sizes = [len(src) for src in step.sources]
    deltas = [np.asarray(c, dtype=np.float64) - step.unknown for c in step.codes]
    codes = g.op("Add", g.op("MatMul", g.nan_to_zero(S), g.const(block_matrix(sizes, deltas))),
                 g.const([[float(step.unknown)] * len(sizes)]))
    n_missing = g.op("MatMul", g.op("Cast", g.op("IsNaN", S), to=TensorProto.DOUBLE),
                     g.const(block_matrix(sizes)))
    missing = g.op("Greater", n_missing, g.const(0.0))
    return g.op("Where", missing, g.const(np.nan), codes), step.targets


@register_emitter("onnx", Polynomial)
def polynomial(step: Polynomial, ctx: Context) -> Tensor:
    """Per degree d: d gathers multiplied left to right (NaN propagates: a missing factor
    makes the product missing); the bias is a constant column of ones."""
    g, x, columns = ctx.graph, ctx.x, ctx.columns
    pos = {c: i for i, c in enumerate(columns)}
    parts, order = [], []
    for d in sorted({len(f) for f in step.factors}):
        terms = [k for k, f in enumerate(step.factors) if len(f) == d]
        product = g.gather_columns(x, [pos[step.factors[k][0]] for k in terms])
        for j in range(1, d):
            product = g.op("Mul", product, g.gather_columns(x, [pos[step.factors[k][j]]
                                                                 for k in terms]))
        parts.append(product)
        order.extend(terms)
    if step.bias:
        shape = g.op("Shape", g.gather_columns(x, [0]))
        parts.append(g.op("ConstantOfShape", shape,
                          value=helper.make_tensor("one", TensorProto.DOUBLE, [1], [1.0])))
        order.append(len(step.factors))
    out = parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=1)
    if order != sorted(order):  # River's order: by degree already, unless the IR says otherwise
        where = {k: i for i, k in enumerate(order)}
        out = g.gather_columns(out, [where[k] for k in range(len(order))])
    return out, step.output_columns(columns)
