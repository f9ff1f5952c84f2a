"""PMML for IR GaussianNB and BernoulliNB: River's terms and softmax from `ir.arithmetic`,
one joint log-likelihood DerivedField per class (terms summed in column order, as River)."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.naive_bayes import BernoulliNB, GaussianNB, gaussian_nb_arrays
from ..registry import register_emitter
from .document import Head, PmmlOps, add_all, apply, const, ref
from .linear import scores_head
from .transforms import Context


@register_emitter("pmml", GaussianNB)
def gaussian_nb(est: GaussianNB, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    means, sigmas, usable = gaussian_nb_arrays(est)
    o = PmmlOps(doc)
    xs = [ref(fields[c]) for c in est.columns]
    jll = []
    for c, label in enumerate(doc.labels):
        terms = [arithmetic.gaussian_log_term(o, x, means[c, j], sigmas[c, j], bool(usable[c, j]),
                                              est.epsilon) for j, x in enumerate(xs)]
        jll.append(ref(doc.derive(f"jll({label})",
                                  apply("+", const(est.log_priors[c]), add_all(terms)))))
    return scores_head(doc, o, arithmetic.Scores(
        "probabilities", arithmetic.logsumexp_softmax(o, jll)))


@register_emitter("pmml", BernoulliNB)
def bernoulli_nb(est: BernoulliNB, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    o = PmmlOps(doc)
    xs = [ref(fields[c]) for c in est.columns]
    jll = []
    for c, label in enumerate(doc.labels):
        terms = [arithmetic.bernoulli_term(o, x, est.threshold, on, off)
                 for x, on, off in zip(xs, est.log_on[c], est.log_off[c])
                 if not on == off == 0.0]  # outside River's vocabulary: adds nothing
        jll.append(ref(doc.derive(f"jll({label})",
                                  apply("+", const(est.log_priors[c]), add_all(terms)))))
    return scores_head(doc, o, arithmetic.Scores(
        "probabilities", arithmetic.logsumexp_softmax(o, jll)))
