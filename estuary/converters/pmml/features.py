"""PMML for IR Ordinal and Polynomial as DerivedFields (double; missing propagates through
every Apply, as NaN does in the numpy evaluator)."""

from __future__ import annotations

from ...ir.features import Ordinal, Polynomial
from ..registry import register_emitter
from .document import add_all, apply, const, ref
from .transforms import Context, Fields


@register_emitter("pmml", Ordinal)
def ordinal(step: Ordinal, ctx: Context) -> Fields:
    """code = ((unknown + s_1·(c_1 - unknown)) + s_2·(c_2 - unknown)) + ...: whole numbers,
    exact; one missing one-hot column makes the code missing."""
    doc, fields = ctx.doc, ctx.fields
    out = {}
    for target, src, codes in zip(step.targets, step.sources, step.codes):
        terms = [const(float(step.unknown))]
        terms += [apply("*", ref(fields[c]), const(float(code - step.unknown)))
                  for c, code in zip(src, codes)]
        out[target] = doc.derive(f"ordinal({target})", add_all(terms))
    return out


def _product(factors: list[str]) -> object:
    expr = ref(factors[0])
    for f in factors[1:]:
        expr = apply("*", expr, ref(f))  # left to right, as the numpy evaluator multiplies
    return expr


@register_emitter("pmml", Polynomial)
def polynomial(step: Polynomial, ctx: Context) -> Fields:
    doc, fields = ctx.doc, ctx.fields
    out = {}
    for name, factors in zip(step.columns, step.factors):
        if len(factors) == 1:  # River's 1 · x is x
            out[name] = fields[factors[0]]
        else:
            out[name] = doc.derive(f"product({name})", _product([fields[f] for f in factors]))
    if step.bias:
        out[step.bias] = doc.derive(f"bias({step.bias})", const(1.0))
    return out
