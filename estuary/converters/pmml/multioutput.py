"""PMML for IR EstimatorChain (River's ClassifierChain, RegressorChain, PerOutput*) whose
members are linear models: each member's transforms and decision values as DerivedFields
(`linear.decision_fields`), River's link from `ir.arithmetic`, and its P(True) (or value)
written into a DerivedField named for the next members, as River writes it into the row. The
model element predicts nothing itself; the per-target outputs are OutputFields (`__init__`).
Members of other kinds end their own RegressionModel, which cannot feed the next member:
refused with that reason."""

from __future__ import annotations

from ... import ir
from ...errors import UnsupportedModelError
from ...ir import arithmetic
from ...ir.multioutput import EncodedLabels, EstimatorChain
from ..registry import register_emitter, supported_models
from .document import Head, PmmlOps, ref
from .linear import decision_fields
from .transforms import Context, emit_transform


class TargetsHead(Head):
    """A head with no tables: `targets` are the fields of every target's outputs side by side
    ([P(False), P(True)] or [value] per target)."""

    def __init__(self, targets: list[str]):
        super().__init__("none", [])
        self.targets = targets


def _linear_outputs(member: ir.Estimator, chain: ir.Chain, ctx: Context, o: PmmlOps) -> list:
    """A linear member's outputs as expressions: its transforms, decision values and link."""
    if not isinstance(member, ir.Linear):
        raise UnsupportedModelError(
            type(member).__name__, supported_models(), reason="PMML writes linear members "
            "only here: another member ends in its own model element, which cannot feed the "
            "next step; export to ONNX")
    inner = emit_transform(chain, ctx)
    z = [ref(f) for f in decision_fields(member, ctx.doc, {c: inner[c] for c in member.columns})]
    values = arithmetic.normalised(o, arithmetic.link(o, member.link, z))
    return values if isinstance(values, list) else [values]


@register_emitter("pmml", EstimatorChain)
def estimator_chain(est: EstimatorChain, ctx: Context) -> Head:
    doc, o = ctx.doc, PmmlOps(ctx.doc)
    fields = {c: ctx.fields[c] for c in est.columns}
    out: list[str] = []
    for target, chain, member in zip(est.targets, est.transforms, est.estimators, strict=True):
        values = _linear_outputs(member, chain, ctx.at(fields), o)
        names = [v.get("field") if v.tag == "FieldRef" else doc.derive(f"{target}[{k}]", v)
                 for k, v in enumerate(o._el(v) for v in values)]
        out += names
        if est.feeds:
            fields = {**fields, target: names[-1]}  # P(True), or the value
    return TargetsHead(out)


@register_emitter("pmml", EncodedLabels)
def encoded_labels(est: EncodedLabels, ctx: Context) -> Head:
    """River's MultiClassEncoder over a linear member: `ir.arithmetic.encoded_labels`."""
    doc, o = ctx.doc, PmmlOps(ctx.doc)
    p = _linear_outputs(est.member, est.transform, ctx.at({c: ctx.fields[c] for c in est.columns}),
                        o)
    values = arithmetic.encoded_labels(o, [o.keep(v, "p(code)") for v in p], est.table)
    return TargetsHead([doc.derive(f"{est.targets[k // 2]}[{k % 2}]", o._el(v))
                        for k, v in enumerate(values)])
