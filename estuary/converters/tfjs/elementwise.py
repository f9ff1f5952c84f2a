"""TF.js for IR Fill (River's `ir.arithmetic.fill_missing` on the row tensor; the fill values
rounded to float32 like every TF.js number). Binarize is refused: TF.js compares in float32,
and a value within float32 rounding of the threshold (a tiny positive number against River's
default 0.0 threshold becomes 0.0) lands on the other side."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.elementwise import Binarize, Fill, Normalize
from ..registry import register_emitter, register_refusal
from .graph import TfjsOps
from .transforms import FORMAT, Context, Tensor


@register_emitter(FORMAT, Fill)
def fill(step: Fill, ctx: Context) -> Tensor:
    o = TfjsOps(ctx.graph)
    return arithmetic.fill_missing(o, ctx.x, o.const(step.vector(ctx.columns))), ctx.columns


register_refusal(FORMAT, Binarize, "TF.js compares in float32: a value within float32 rounding "
                 "of the threshold (e.g. 1e-300 against 0.0) falls on the other side; export to "
                 "ONNX or PMML (float64)")
register_refusal(FORMAT, Normalize, "TF.js squares in float32, where a value beyond 1.8e19 "
                 "overflows: River's norm of a huge row is finite, TF.js's is inf (inf / inf = "
                 "NaN); export to ONNX or PMML (float64)")
