"""PMML for IR GaussianNB: River's joint log-likelihoods and its logsumexp softmax, in
DerivedFields, with River's operation order: z = (x - mu) / sigma,
pdf = exp((-0.5 * z) * z) / sqrt(2π) / sigma, term = ln(eps + pdf); a missing value adds 0.
"""

from __future__ import annotations

import math

from ...ir.naive_bayes import SQRT_TAU, BernoulliNB, GaussianNB, gaussian_nb_arrays
from ..registry import register_emitter
from .document import Document, Head, add_all, apply, const, if_else, probabilities_head, ref
from .transforms import Context


def _term(x: str, mu: float, sigma: float, usable: bool, epsilon: float):
    if not usable:  # no usable Gaussian: a present value adds log(epsilon)
        return if_else(apply("isMissing", ref(x)), const(0.0), const(math.log(epsilon)))
    z = apply("/", apply("-", ref(x), const(mu)), const(sigma))
    e = apply("exp", apply("*", apply("*", const(-0.5), z), z))
    pdf = apply("/", apply("/", e, const(SQRT_TAU)), const(sigma))
    return if_else(apply("isMissing", ref(x)), const(0.0),
                   apply("ln", apply("+", const(epsilon), pdf)))


def river_softmax(doc: Document, jll: list[str]) -> list[str]:
    """exp(jll - logsumexp(jll)) as scipy's logsumexp: the max split off, log1p of the rest."""
    top = doc.derive("max(jll)", apply("max", *[ref(j) for j in jll]))

    def is_max(j: str):
        return apply("equal", ref(j), ref(top))

    m = doc.derive("n_max(jll)", add_all([if_else(is_max(j), const(1.0), const(0.0))
                                          for j in jll]))
    rest = add_all([if_else(is_max(j), const(0.0), apply("exp", apply("-", ref(j), ref(top))))
                    for j in jll])
    s = apply("/", rest, ref(m))
    lse = doc.derive("logsumexp(jll)", apply("+", apply("+", apply("ln1p", s),
                                                        apply("ln", ref(m))), ref(top)))
    return [doc.derive(f"p({label})", apply("exp", apply("-", ref(j), ref(lse))))
            for j, label in zip(jll, doc.labels)]


@register_emitter("pmml", GaussianNB)
def gaussian_nb(est: GaussianNB, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    means, sigmas, usable = gaussian_nb_arrays(est)
    xs = [fields[c] for c in est.columns]
    jll = []
    for c, label in enumerate(doc.labels):
        terms = [_term(x, means[c, j], sigmas[c, j], bool(usable[c, j]), est.epsilon)
                 for j, x in enumerate(xs)]
        jll.append(doc.derive(f"jll({label})",
                              apply("+", const(est.log_priors[c]), add_all(terms))))
    return probabilities_head(doc, river_softmax(doc, jll), "simplemax")


@register_emitter("pmml", BernoulliNB)
def bernoulli_nb(est: BernoulliNB, ctx: Context) -> Head:
    doc, fields = ctx.doc, ctx.fields
    xs = [fields[c] for c in est.columns]
    jll = []
    for c, label in enumerate(doc.labels):
        terms = []
        for j, x in enumerate(xs):
            on, off = est.log_on[c][j], est.log_off[c][j]
            if on == off == 0.0:  # outside River's vocabulary
                continue
            hit = apply("greaterThan", ref(x), const(est.threshold))
            terms.append(if_else(apply("isMissing", ref(x)), const(off),
                                 if_else(hit, const(on), const(off))))
        jll.append(doc.derive(f"jll({label})",
                              apply("+", const(est.log_priors[c]), add_all(terms))))
    return probabilities_head(doc, river_softmax(doc, jll), "simplemax")
