"""PMML for the IR transforms: Select, Scale, OneHot, Chain, Union as DerivedFields (double).

A transform maps `Fields` (column name → PMML field name, in column order) to new `Fields`.
Select and Union only rename; Scale and OneHot add one DerivedField per column.
"""

from __future__ import annotations

from ... import ir
from ..registry import emitter_for, register_emitter
from .document import Document, apply, const, if_else, ref

Fields = dict[str, str]


def emit_transform(step: ir.Transform, doc: Document, fields: Fields) -> Fields:
    return emitter_for("pmml", step)(step, doc, fields)


@register_emitter("pmml", ir.Select)
def select(step: ir.Select, doc: Document, fields: Fields) -> Fields:
    return {c: fields[c] for c in step.columns}


@register_emitter("pmml", ir.Scale)
def scale(step: ir.Scale, doc: Document, fields: Fields) -> Fields:
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
def one_hot(step: ir.OneHot, doc: Document, fields: Fields) -> Fields:
    if step.missing_as_nan:
        return {t: fields[s] for s, t in zip(step.source, step.target)}
    return {t: doc.derive(f"onehot({t})", ref(fields[s], missing_to=0.0))
            for s, t in zip(step.source, step.target)}


@register_emitter("pmml", ir.Chain)
def chain(step: ir.Chain, doc: Document, fields: Fields) -> Fields:
    for s in step.steps:
        fields = emit_transform(s, doc, fields)
    return fields


@register_emitter("pmml", ir.Union)
def union(step: ir.Union, doc: Document, fields: Fields) -> Fields:
    out: Fields = {}
    for branch in step.branches:
        for c, f in emit_transform(branch, doc, fields).items():
            out.setdefault(c, f)  # River's union: the first transformer wins a duplicate key
    return out
