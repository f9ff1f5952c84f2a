"""PMML for IR Linear: a RegressionModel, with River's clamped sigmoid, softmax and one-vs-rest
computed exactly in DerivedFields (PMML's own `logit` normalisation has no clamp)."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from ... import ir
from ..registry import register_emitter
from .document import (
    Head,
    add_all,
    apply,
    const,
    if_else,
    probabilities_head,
    ref,
    regression_table,
)
from .transforms import Context


def clamped_sigmoid(z: Element) -> Element:
    """River's `utils.math.sigmoid`: 1 / (1 + exp(-z)), exactly 0 below -30 and 1 above 30."""
    p = apply("/", const(1.0), apply("+", const(1.0), apply("exp", apply("*", const(-1.0), z))))
    return if_else(apply("lessThan", z, const(-30.0)), const(0.0),
                   if_else(apply("greaterThan", z, const(30.0)), const(1.0), p))


@register_emitter("pmml", ir.Linear)
def linear(est: ir.Linear, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    # An absent key contributes nothing to River's dot product: read missing as 0. The
    # DerivedField's double type makes the mapped 0 a number (inside an Apply it is a string).
    zeroed = [doc.derive(f"present({c})", ref(fields[c], missing_to=0.0)) for c in est.columns]
    if est.link == "identity":
        return Head("none", [regression_table(est.intercepts[0],
                                              tuple(zip(zeroed, est.weights[0])))])
    z = [doc.derive(f"z{k}", apply("+", add_all(
        [apply("*", ref(x), const(w)) for x, w in zip(zeroed, row)]), const(b)))
         for k, (row, b) in enumerate(zip(est.weights, est.intercepts))]
    if est.link == "sigmoid":
        p = doc.derive("sigmoid(z0)", clamped_sigmoid(ref(z[0])))
        # River's proba of classes[0] is 1 - p: computed exactly; classes[1] gets 1 - (1 - p).
        q = doc.derive(f"p({doc.labels[0]})", apply("-", const(1.0), ref(p)))
        return probabilities_head(doc, [q], "none")
    if est.link == "softmax":
        top = doc.derive("max(z)", apply("max", *[ref(zk) for zk in z]))
        e = [doc.derive(f"exp({label})", apply("exp", apply("-", ref(zk), ref(top))))
             for zk, label in zip(z, doc.labels)]
        return probabilities_head(doc, e, "simplemax")
    p = [doc.derive(f"sigmoid({label})", clamped_sigmoid(ref(zk)))  # ovr_sigmoid
         for zk, label in zip(z, doc.labels)]
    total = doc.derive("sum(sigmoid)", add_all([ref(pk) for pk in p]))
    positive = apply("greaterThan", ref(total), const(0.0))
    q = [doc.derive(f"q({label})", if_else(positive, ref(pk), const(1.0)))  # uniform if Σ = 0
         for pk, label in zip(p, doc.labels)]
    return probabilities_head(doc, q, "simplemax")

