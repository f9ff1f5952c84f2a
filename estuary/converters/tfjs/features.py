"""TF.js for IR Ordinal (float32, exact: whole-number codes below 2^24), and the split that lets
a Linear model sit behind a transform its affine fold cannot express.

Polynomial is not emitted: TF.js multiplies in float32, where a factor beyond float32's range
(River's extreme rows: 1e300 after a scaler) becomes inf and the products that follow
(inf · 0 = NaN, sums of ±inf) no longer follow River's float64 arithmetic. Export such
pipelines to ONNX (onnxruntime-web runs it in the browser, in float64) or PMML.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.elementwise import Fill
from ...ir.features import Ordinal, block_matrix
from ..registry import EMITTERS, register_emitter
from .graph import Graph
from .transforms import FORMAT, Context, Tensor, emit_transform, take

FLOAT32_EXACT = 2 ** 24  # every integer up to this is a float32
AFFINE = (ir.Select, ir.Scale, ir.OneHot, Fill)  # what `ir.affine.fold` turns into per-column affines


@register_emitter(FORMAT, Ordinal)
def ordinal(step: Ordinal, ctx: Context) -> Tensor:
    """codes = unknown + nan_to_zero(S) · W, NaN where any column of the feature is NaN (a
    mask: in one MatMul a NaN would reach every feature's code). Products of 0/1 and whole
    numbers, one non-zero term per code: exact in float32 while the codes are below 2^24."""
    g, x, columns = ctx.graph, ctx.x, ctx.columns
    every = [step.unknown, *(c for codes in step.codes for c in codes)]
    if max(abs(c) for c in every) > FLOAT32_EXACT:
        have = sorted(t.__name__ for f, t in EMITTERS if f == FORMAT)
        raise UnsupportedModelError("Ordinal", have, reason=(
            f"a code beyond ±{FLOAT32_EXACT} is not a float32 number; TF.js has no float64"))
    S = take(g, x, columns, tuple(c for src in step.sources for c in src))
    sizes = [len(src) for src in step.sources]
    deltas = [np.asarray(c, dtype=np.float64) - step.unknown for c in step.codes]
    codes = g.op("AddV2", g.op("MatMul", g.nan_to_zero(S), g.const(block_matrix(sizes, deltas)),
                               transpose_a=False, transpose_b=False),
                 g.const([float(step.unknown)] * len(sizes)))
    isnan = g.op("Cast", g.op("IsNan", S), SrcT=np.bool_, DstT=np.float32)
    n_missing = g.op("MatMul", isnan, g.const(block_matrix(sizes)), transpose_a=False,
                     transpose_b=False)
    missing = g.op("Greater", n_missing, g.const(0.0))
    return g.where(missing, g.const(np.full(len(sizes), np.nan)), codes), step.targets


def _affine(step: ir.Transform) -> bool:
    if isinstance(step, ir.Chain):
        return all(_affine(s) for s in step.steps)
    if isinstance(step, ir.Union):
        return all(_affine(b) for b in step.branches)
    return isinstance(step, AFFINE)


def emit_unfoldable_prefix(model: ir.Model, g: Graph, x: str) -> tuple[ir.Model, str]:
    """For a Linear model: emit the front steps up to the last one that is not per-column
    affine (Ordinal, ...) as graph ops, and return the model that reads their output as its raw
    input, for `linear.emit_linear` to fold exactly. A step without a TF.js emitter raises
    `UnsupportedModelError` naming it, here.

    >>> model, x = emit_unfoldable_prefix(model, g, "input")
    """
    steps = model.transform.steps
    cut = max((i + 1 for i, s in enumerate(steps) if not _affine(s)), default=0)
    if cut == 0:
        return model, x
    y, columns = emit_transform(ir.Chain(steps[:cut]), Context(g, x, model.schema.columns))
    schema = ir.FeatureSchema(tuple(ir.Feature(c, c) for c in columns))
    return dataclasses.replace(model, schema=schema, transform=ir.Chain(steps[cut:])), y
