"""PMML for IR Lookup: River's `ir.arithmetic.lookup` as one DerivedField (double)."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.lookup import Lookup
from ..registry import register_emitter
from .document import PmmlOps, ref
from .transforms import Context, Fields


@register_emitter("pmml", Lookup)
def lookup(step: Lookup, ctx: Context) -> Fields:
    onehot = [ref(ctx.fields[c]) for c in step.sources]
    (value,) = arithmetic.lookup(PmmlOps(ctx.doc), onehot, step.table, step.default)
    return {step.target: ctx.doc.derive(f"lookup({step.target})", value)}
