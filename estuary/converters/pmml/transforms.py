"""PMML for the IR transforms: Select, Scale, OneHot, Chain, Union as DerivedFields (double).

A transform maps `Fields` (column name → PMML field name, in column order) to new `Fields`.
Select and Union only rename; Scale and OneHot add one DerivedField per column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ... import ir
from ..registry import emit, register_emitter
from .document import Document, apply, const, if_else, ref

Fields = dict[str, str]


@dataclass(frozen=True)
class Context:
    """What every PMML emitter `emit(node, ctx)` writes into and reads: the document (its
    DerivedFields) and the fields holding the node's input columns. Transforms return new
    `Fields`, estimators a `Head` (the RegressionModel's tables)."""

    doc: Document
    fields: Fields

    def at(self, fields: Fields) -> Context:
        """The same document, other input fields."""
        return replace(self, fields=fields)


def emit_transform(step: ir.Transform, ctx: Context) -> Fields:
    return emit("pmml", step, ctx)


@register_emitter("pmml", ir.Select)
def select(step: ir.Select, ctx: Context) -> Fields:
    fields = ctx.fields
    return {c: fields[c] for c in step.columns}


@register_emitter("pmml", ir.Scale)
def scale(step: ir.Scale, ctx: Context) -> Fields:
    doc, fields = ctx.doc, ctx.fields
    out = {}
    for c, offset, divisor in zip(step.columns, step.offset, step.divisor):
        x = ref(fields[c])
        if divisor == 0:  # River's rule: zero variance → 0.0; a missing value stays missing
            expr = if_else(apply("isNotMissing", x), const(0.0))
        else:
            expr = apply("/", apply("-", x, const(offset)), const(divisor))
        out[c] = doc.derive(f"scaled({c})", expr)
    return out


@register_emitter("pmml", ir.OneHot)
def one_hot(step: ir.OneHot, ctx: Context) -> Fields:
    doc, fields = ctx.doc, ctx.fields
    if step.missing_as_nan:
        return {t: fields[s] for s, t in zip(step.source, step.target)}
    return {t: doc.derive(f"onehot({t})", ref(fields[s], missing_to=0.0))
            for s, t in zip(step.source, step.target)}


@register_emitter("pmml", ir.Chain)
def chain(step: ir.Chain, ctx: Context) -> Fields:
    fields = ctx.fields
    for s in step.steps:
        fields = emit_transform(s, ctx.at(fields))
    return fields


@register_emitter("pmml", ir.Union)
def union(step: ir.Union, ctx: Context) -> Fields:
    out: Fields = {}
    for branch in step.branches:
        for c, f in emit_transform(branch, ctx).items():
            out.setdefault(c, f)  # River's union: the first transformer wins a duplicate key
    return out
