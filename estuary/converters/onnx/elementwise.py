"""ONNX for IR Fill and Binarize: River's formulas (`ir.arithmetic`) on the whole row tensor,
float64, with a constant row for the per-column fill values and a mask for the binarised
columns."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.elementwise import Binarize, Fill, Normalize
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context, Tensor


@register_emitter("onnx", Fill)
def fill(step: Fill, ctx: Context) -> Tensor:
    o = OnnxOps(ctx.graph)
    return arithmetic.fill_missing(o, ctx.x, o.const([step.vector(ctx.columns)])), ctx.columns


@register_emitter("onnx", Binarize)
def binarize(step: Binarize, ctx: Context) -> Tensor:
    o = OnnxOps(ctx.graph)
    return o.where(step.mask(ctx.columns), arithmetic.binarize(o, ctx.x, step.threshold),
                   ctx.x), ctx.columns


@register_emitter("onnx", Normalize)
def normalize(step: Normalize, ctx: Context) -> Tensor:
    return arithmetic.l2_normalize(OnnxOps(ctx.graph), ctx.x), ctx.columns
