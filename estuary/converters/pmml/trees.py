"""PMML for IR trees: each output is a DerivedField whose expression is the tree itself, a
nested `if` per split (`x <= threshold`, a missing value goes where `missing_left` says) with
the leaf's expression at the bottom: class probabilities, naive Bayes, a mean or a linear model.
JPMML evaluates only the branch taken, so a row costs one root-to-leaf path per output.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.etree.ElementTree import Element

from ...ir import arithmetic
from ...ir.trees import NaiveBayesLeaves, TreeClassifier, TreeRegressor, TreeStructure
from ..registry import register_emitter
from .document import (
    Document,
    Head,
    PmmlOps,
    add_all,
    apply,
    const,
    element,
    if_else,
    probabilities_head,
    ref,
    regression_table,
)
from .transforms import Context


def boolean(value: bool) -> Element:
    el = element("Constant", {"dataType": "boolean"})
    el.text = "true" if value else "false"
    return el


def route(tree: TreeStructure, xs: list[str], at_leaf: Callable[[int], Element]) -> Element:
    """The tree as nested ifs; `at_leaf(l)` is the expression of leaf `l`."""

    def node(i: int) -> Element:
        if tree.leaf[i] >= 0:
            return at_leaf(tree.leaf[i])
        x = ref(xs[tree.feature[i]])
        goes_left = if_else(apply("isMissing", x), boolean(tree.missing_left[i]),
                            apply("lessOrEqual", x, const(tree.threshold[i])))
        return if_else(goes_left, node(tree.left[i]), node(tree.right[i]))

    return node(0)


def _naive_bayes_leaf(doc: Document, nb: NaiveBayesLeaves, leaf: int, xs: list[str],
                      labels: tuple[str, ...]) -> list:
    """River's `do_naive_bayes_prediction` in leaf `leaf`: one probability per class (classes
    the leaf has not seen are left out of the softmax and get 0)."""
    o = PmmlOps(doc)
    seen = [k for k in range(len(nb.prior[leaf])) if nb.present[leaf][k]]
    votes = []
    for k in seen:
        terms = []
        for j, x in enumerate(xs):
            if nb.gauss_on[leaf][j][k]:
                t = arithmetic.leaf_gaussian_term(o, ref(x), nb.mu[leaf][j][k],
                                                  nb.neg2var[leaf][j][k], nb.half_log_tau,
                                                  nb.log_sd[leaf][j][k])
                terms.append(o.where(o.is_nan(ref(x)), 0.0, t))
            if nb.cat_on[leaf][j][k]:  # River adds nothing for an absent key (NaN column),
                hit = o.where(o.equal(ref(x), 1.0), nb.cat_log[leaf][j][k], 0.0)  # and JPMML
                terms.append(o.where(o.is_nan(ref(x)), 0.0, hit))  # refuses equal(missing)
        votes.append(ref(doc.derive(f"vote(leaf {leaf}, {labels[k]})",
                                    apply("+", const(nb.prior[leaf][k]), add_all(terms)))))
    p = arithmetic.vote_softmax(o, votes, True)
    names = dict(zip(seen, o.fields(p, f"p(leaf {leaf})")))
    return [ref(names[k]) if k in names else const(0.0) for k in range(len(nb.prior[leaf]))]


def class_probability_fields(est: TreeClassifier, doc: Document, fields: dict[str, str],
                             labels: tuple[str, ...]) -> list[str]:
    """One DerivedField per class (in `labels` order, the estimator's classes): the leaf's
    probability of that class. Ensembles combine these across members."""
    xs = [fields[c] for c in est.columns]
    nb_leaves = {leaf: _naive_bayes_leaf(doc, est.nb, leaf, xs, labels)
                 for leaf, on in enumerate(est.naive_bayes) if on}

    def at_leaf(k: int) -> Callable[[int], Element]:
        return lambda leaf: (nb_leaves[leaf][k] if leaf in nb_leaves
                             else const(est.class_probs[leaf][k]))

    return [doc.derive(f"p({label})", route(est.tree, xs, at_leaf(k)))
            for k, label in enumerate(labels)]


@register_emitter("pmml", TreeClassifier)
def tree_classifier(est: TreeClassifier, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    probabilities = class_probability_fields(est, doc, fields, doc.labels)
    return probabilities_head(doc, probabilities, "simplemax")


def tree_value_field(est: TreeRegressor, doc: Document, fields: dict[str, str]) -> str:
    """The DerivedField holding the tree's prediction."""
    xs = [fields[c] for c in est.columns]
    zeroed: list[str] = []
    if any(est.model):  # a linear leaf reads an absent key as 0
        zeroed = [doc.derive(f"present({c})", ref(fields[c], missing_to=0.0))
                  for c in est.columns]

    def at_leaf(leaf: int) -> Element:
        if not est.model[leaf]:
            return const(est.means[leaf])
        dot = add_all([apply("*", ref(x), const(w)) for x, w in zip(zeroed, est.weights[leaf])])
        return apply("+", dot, const(est.intercepts[leaf]))

    return doc.derive("tree", route(est.tree, xs, at_leaf))


@register_emitter("pmml", TreeRegressor)
def tree_regressor(est: TreeRegressor, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    return Head("none", [regression_table(0.0, ((tree_value_field(est, doc, fields), 1.0),))])
