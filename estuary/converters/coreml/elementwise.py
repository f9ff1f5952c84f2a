"""Core ML for IR Fill: a float64 Imputer whose per-column values are the fills (NaN, i.e. no
change, for the columns passed on). Binarize is refused: no float64 Core ML model compares an
input with a number, and float32 layers move values within float32 rounding of the threshold."""

from __future__ import annotations

import math

from ...ir.elementwise import Binarize, Fill, Normalize
from ..registry import register_emitter, register_refusal
from .transforms import Block, Context


@register_emitter("coreml", Fill)
def fill(step: Fill, ctx: Context) -> Block:
    vector = step.vector(ctx.columns)

    def imputer(p) -> None:
        p.imputedDoubleArray.vector.extend(float(v) for v in vector)
        p.replaceDoubleValue = math.nan

    width = len(ctx.columns)
    return ctx.stages.array("imputer", ctx.x, width, width, imputer, "filled"), ctx.columns


register_refusal("coreml", Binarize, "no float64 Core ML model compares an input with a "
                 "number, and float32 layers move a value within float32 rounding of the "
                 "threshold (e.g. 1e-300 against 0.0) to the other side; export to ONNX or PMML")
register_refusal("coreml", Normalize, "Core ML's Normalizer model divides every column, a "
                 "missing one too (0.0 where River leaves the key out), and the float32 layers "
                 "overflow on huge rows; export to ONNX or PMML")
