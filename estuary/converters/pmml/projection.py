"""PMML for IR Project: River's `ir.arithmetic.project`, one DerivedField per target (double)."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.projection import Project
from ..registry import register_emitter
from .document import PmmlOps, ref
from .transforms import Context, Fields


@register_emitter("pmml", Project)
def project(step: Project, ctx: Context) -> Fields:
    fields, doc = ctx.fields, ctx.doc
    first = [ref(fields[c]) for c in step.first_sources] if step.missing_when_empty else None
    out = arithmetic.project(PmmlOps(doc), [ref(fields[c]) for c in step.sources], step.matrix,
                             first)
    return {t: doc.derive(f"projection({t})", e) for t, e in zip(step.targets, out)}
