"""PMML for IR ensembles: each member's output as DerivedFields (its transforms, then its
per-class probabilities or its value), combined in River's order. Members may be trees or
linear models; another member type is refused by name."""

from __future__ import annotations

from ... import ir
from ...errors import UnsupportedModelError
from ...ir import arithmetic
from ...ir.ensembles import EnsembleClassifier, EnsembleRegressor, Member
from ...ir.trees import TreeClassifier, TreeRegressor
from ..registry import register_emitter
from .document import (
    Document,
    Head,
    PmmlOps,
    add_all,
    apply,
    const,
    if_else,
    probabilities_head,
    ref,
    regression_table,
)
from .linear import decision_fields
from .transforms import Context, emit_transform
from .trees import class_probability_fields, tree_value_field

MEMBER_TYPES = ("TreeClassifier", "TreeRegressor", "Linear (identity, sigmoid)")


def _refuse(est: ir.Estimator) -> UnsupportedModelError:
    return UnsupportedModelError(type(est).__name__, list(MEMBER_TYPES),
                                 reason="PMML ensembles take tree and linear members only")


def member_fields(m: Member, doc: Document, fields: dict[str, str], classifier: bool) -> list[str]:
    """Per-class probability fields (member class order), or a one-element list: the value."""
    fields = emit_transform(m.transform, Context(doc, fields))
    est = m.estimator
    if classifier and isinstance(est, TreeClassifier):
        return class_probability_fields(est, doc, fields, tuple(f"m{k}" for k in m.class_index))
    if not classifier and isinstance(est, TreeRegressor):
        return [tree_value_field(est, doc, fields)]
    if isinstance(est, ir.Linear):
        o = PmmlOps(doc)
        scores = arithmetic.link(o, est.link, [ref(z) for z in decision_fields(est, doc, fields)])
        if (scores.kind == "probabilities") == classifier and not scores.normalise:
            return o.fields(scores.values, "member")
    raise _refuse(est)


@register_emitter("pmml", EnsembleClassifier)
def ensemble_classifier(est: EnsembleClassifier, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    per_class: list[list] = [[] for _ in range(est.n_classes)]
    for m, w in zip(est.members, est.weights, strict=True):
        for k, f in zip(m.class_index, member_fields(m, doc, fields, True), strict=True):
            per_class[k].append(ref(f) if w == 1.0 else apply("*", ref(f), const(w)))
    # simplemax divides each class's sum by their total: River's `proba / total`
    sums = [doc.derive(f"sum({label})", add_all(terms))
            for label, terms in zip(doc.labels, per_class)]
    return probabilities_head(doc, sums, "simplemax")


def order_statistic(doc: Document, values: list[str], s: int) -> str:
    """The s-th smallest of `values` (0-based); JPMML has no `median`. It is the v_i with
    #{v_j < v_i} <= s < #{v_j <= v_i}; equal values satisfy it together, so the first wins."""

    def count(test: str, i: int):
        return add_all([if_else(apply(test, ref(v), ref(values[i])), const(1.0), const(0.0))
                        for v in values])

    found = None
    for i in reversed(range(len(values))):
        below = doc.derive(f"n_below({i})", count("lessThan", i))
        upto = doc.derive(f"n_upto({i})", count("lessOrEqual", i))
        hit = apply("and", apply("lessOrEqual", ref(below), const(float(s))),
                    apply("greaterThan", ref(upto), const(float(s))))
        found = if_else(hit, ref(values[i]), found) if found is not None else ref(values[i])
    return doc.derive(f"order_statistic({s})", found)


@register_emitter("pmml", EnsembleRegressor)
def ensemble_regressor(est: EnsembleRegressor, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    values = [member_fields(m, doc, fields, False)[0] for m in est.members]
    if est.combine == "median":
        n = len(values)
        if n % 2:
            value = order_statistic(doc, values, n // 2)
        else:  # numpy: the mean of the middle two
            value = doc.derive("median", apply("/", apply(
                "+", ref(order_statistic(doc, values, n // 2 - 1)),
                ref(order_statistic(doc, values, n // 2))), const(2.0)))
    else:
        terms = [ref(v) if w == 1.0 else apply("*", ref(v), const(w))
                 for v, w in zip(values, est.weights, strict=True)]
        value = doc.derive("ensemble", apply("/", add_all(terms), const(est.divisor)))
    return Head("none", [regression_table(0.0, ((value, 1.0),))])
