"""ONNX for IR Project: River's `ir.arithmetic.project` as float64 MatMuls."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.projection import Project
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context, Tensor, take


@register_emitter("onnx", Project)
def project(step: Project, ctx: Context) -> Tensor:
    g, x, columns = ctx.graph, ctx.x, ctx.columns
    first = take(g, x, columns, step.first_sources) if step.missing_when_empty else None
    out = arithmetic.project(OnnxOps(g), take(g, x, columns, step.sources), step.matrix, first)
    return out, step.targets
