"""River `feature_extraction.PolynomialExtender` → IR `Polynomial`."""

from __future__ import annotations

import itertools
from collections import Counter
from numbers import Integral

from river import feature_extraction, linear_model, naive_bayes, preprocessing

from ...errors import UnsupportedModelError
from ...ir.features import Polynomial
from ..registry import Case, register_extractor, supported_models


def _refuse(p: feature_extraction.PolynomialExtender, reason: str) -> UnsupportedModelError:
    return UnsupportedModelError(p, supported_models(), reason=reason)


def _river_keys(columns: tuple[str, ...], ctx, p) -> list:
    """The dict key River's extender sees for each column: a raw numeric feature keeps its
    original key (River sorts int keys as ints); any other column is named by its string."""
    owner = {c: f for f in ctx.schema.features for c in f.columns}
    keys = []
    for c in columns:
        f = owner.get(c)
        if f is not None and f.kind == "categorical":
            raise _refuse(p, f"it receives the raw categorical feature {f.name!r}, whose values "
                          "River would multiply as they are; encode it in front of the extender")
        keys.append(f.key if f is not None and f.name == c else c)
    return keys



POLYNOMIAL_CASES = (
    Case("scaler|poly2|logreg", "Phishing",
         lambda: preprocessing.StandardScaler() | feature_extraction.PolynomialExtender()
         | linear_model.LogisticRegression()),
    Case("scaler|poly3-interactions-bias|scaler|linreg", "TrumpApproval",
         lambda: preprocessing.StandardScaler()
         | feature_extraction.PolynomialExtender(degree=3, interaction_only=True, include_bias=True)
         | preprocessing.StandardScaler() | linear_model.LinearRegression()),
    Case("scaler|poly3|gaussian-nb", "Bananas",
         lambda: preprocessing.StandardScaler() | feature_extraction.PolynomialExtender(degree=3)
         | naive_bayes.GaussianNB()),
)


@register_extractor(feature_extraction.PolynomialExtender, inputs=lambda p: {}, renames=True,
                    produces=(Polynomial,), cases=POLYNOMIAL_CASES)
def polynomial_extender(p: feature_extraction.PolynomialExtender, columns: tuple[str, ...],
                        ctx) -> Polynomial:
    """River's `transform_one`: for every combination of the present keys up to `degree` (with
    repetition unless `interaction_only`), the key `"*".join(map(str, sorted(combo)))` holds the
    product; a combination with an absent key is absent. Products are taken in schema column
    order: for degree ≥ 3 River multiplies in the row's key order, which can differ in the last
    bit (floating-point products are not associative).

    >>> polynomial_extender(feature_extraction.PolynomialExtender(), ("x", "y"), ctx).columns
    ('x', 'y', 'x*x', 'x*y', 'y*y')
    """
    if not columns:
        raise _refuse(p, "it learns nothing, so the keys it will receive are unknown; put a step "
                      "that knows them in front, e.g. compose.Select(*keys) or "
                      "preprocessing.StandardScaler()")
    if not isinstance(p.degree, Integral) or isinstance(p.degree, bool) or p.degree < 1:
        raise _refuse(p, f"degree={p.degree!r} is not a positive integer")
    keys = _river_keys(columns, ctx, p)
    combine = itertools.combinations if p.interaction_only else \
        itertools.combinations_with_replacement
    names, factors = [], []
    for size in range(1, int(p.degree) + 1):
        for combo in combine(range(len(columns)), size):
            try:
                names.append("*".join(map(str, sorted(keys[i] for i in combo))))
            except TypeError as e:  # River's own sorted() fails on such keys too
                raise _refuse(p, f"its keys cannot be sorted together ({e})") from e
            factors.append(tuple(columns[i] for i in combo))
    if p.include_bias and not (isinstance(p.bias_name, str) and p.bias_name):
        raise _refuse(p, f"bias_name={p.bias_name!r}: estuary needs a non-empty string")
    bias = p.bias_name if p.include_bias else ""
    every = [*names, bias] if bias else names
    if len(set(every)) != len(every):
        clash = sorted(n for n, k in Counter(every).items() if k > 1)[:5]
        raise _refuse(p, f"generated keys collide ({clash}): River would overwrite one product "
                      "with another; rename the keys so none contains '*'")
    return Polynomial(tuple(names), tuple(factors), bias)

