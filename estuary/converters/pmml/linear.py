"""PMML for IR Linear: the decision values as DerivedFields, then River's link from
`ir.arithmetic` (PMML's own `logit` normalisation has no clamp, so the link is computed)."""

from __future__ import annotations

from ... import ir
from ...ir import arithmetic
from ..registry import register_emitter
from .document import (
    Document,
    Head,
    PmmlOps,
    add_all,
    apply,
    const,
    probabilities_head,
    ref,
    regression_table,
)
from .transforms import Context


def decision_fields(est: ir.Linear, doc: Document, fields: dict[str, str]) -> list[str]:
    """z_k = Σ_j w_kj · x_j + b_k, River's order (the dot product, then the intercept). An absent
    key contributes nothing to River's dot product: missing reads as 0 (the DerivedField's double
    type makes the mapped 0 a number; inside an Apply it would be a string)."""
    zeroed = [doc.derive(f"present({c})", ref(fields[c], missing_to=0.0)) for c in est.columns]
    return [doc.derive(f"z{k}", apply("+", add_all(
        [apply("*", ref(x), const(w)) for x, w in zip(zeroed, row)]), const(b)))
        for k, (row, b) in enumerate(zip(est.weights, est.intercepts))]


def scores_head(doc: Document, o: PmmlOps, scores: arithmetic.Scores) -> Head:
    """The model element for a link's scores: a value through a RegressionTable (0 + 1·v is v);
    binary probabilities by their first class (JPMML gives the other 1 − it); otherwise one
    table per class with `simplemax`, which divides by the sum: River's `p / total`."""
    if scores.kind == "value":
        return Head("none", [regression_table(0.0, ((o.fields(scores.values, "value")[0], 1.0),))])
    if scores.complementary:
        return probabilities_head(doc, o.fields(scores.values[:1], "p"), "none")
    return probabilities_head(doc, o.fields(scores.values, "p"), "simplemax")


@register_emitter("pmml", ir.Linear)
def linear(est: ir.Linear, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    o = PmmlOps(doc)
    z = [ref(zk) for zk in decision_fields(est, doc, fields)]
    return scores_head(doc, o, arithmetic.link(o, est.link, z))
