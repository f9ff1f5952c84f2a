"""A small builder for PMML 4.4: unique field names, DerivedFields and Apply expressions.

Every intermediate value is a continuous double DerivedField in the TransformationDictionary;
expressions are `xml.etree` elements. Numbers are written with Python's shortest round-trip
repr, which Java's `Double.parseDouble` reads back to the same double.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element, SubElement

import numpy as np

from ...ir.arithmetic import GraphOps
from ..names import unique_name

NAMESPACE = "http://www.dmg.org/PMML-4_4"


def num(value: float) -> str:
    """xs:double text of `value` that reads back to exactly the same double."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(value)


def element(tag: str, attrs: dict | None = None, *children: Element) -> Element:
    el = Element(tag, {k: v for k, v in (attrs or {}).items() if v is not None})
    el.extend(children)
    return el


def const(value: float) -> Element:
    el = Element("Constant", {"dataType": "double"})
    el.text = num(value)
    return el


def ref(field: str, missing_to: float | None = None) -> Element:
    """FieldRef; with `missing_to` a missing value reads as that number. JPMML types the
    mapped value as a string: use `missing_to` only as a DerivedField's whole expression."""
    return element("FieldRef", {"field": field,
                                "mapMissingTo": None if missing_to is None else num(missing_to)})


def apply(function: str, *args: Element, missing_to: float | None = None) -> Element:
    """Apply of a PMML built-in; a missing argument makes it missing (or `missing_to`, with
    the same caveat as `ref`)."""
    return element("Apply", {"function": function,
                             "mapMissingTo": None if missing_to is None else num(missing_to)},
                   *args)


def if_else(condition: Element, then: Element, otherwise: Element | None = None) -> Element:
    """PMML `if`: without `otherwise` the result is missing when the condition is false."""
    return apply("if", condition, then, *([otherwise] if otherwise is not None else []))


def add_all(terms: list[Element]) -> Element:
    """((t0 + t1) + t2) + ...: left to right, the order River and numpy sum in."""
    if not terms:
        return const(0.0)
    total = terms[0]
    for t in terms[1:]:
        total = apply("+", total, t)
    return total


class Document:
    """Accumulates DerivedFields; every field name it hands out is unique in the document."""

    def __init__(self, reserved: tuple[str, ...], labels: tuple[str, ...] = ()):
        self.used: set[str] = set(reserved)
        self.derived: list[Element] = []
        self.labels = labels  # target categories (str of each class), in IR class order

    def name(self, hint: str) -> str:
        return unique_name(hint, self.used, "~", 2)

    def derive(self, hint: str, expression: Element) -> str:
        """A continuous double DerivedField computing `expression`; returns its name."""
        name = self.name(hint)
        field = Element("DerivedField", {"name": name, "optype": "continuous",
                                         "dataType": "double"})
        field.append(expression)
        self.derived.append(field)
        return name


def regression_table(intercept: float = 0.0, predictors: tuple[tuple[str, float], ...] = (),
                     category: str | None = None) -> Element:
    table = element("RegressionTable", {"intercept": num(intercept), "targetCategory": category})
    for field, coefficient in predictors:
        SubElement(table, "NumericPredictor", {"name": field, "coefficient": num(coefficient)})
    return table


class Head:
    """The model element's core: a RegressionModel's normalisation and its RegressionTables."""

    def __init__(self, normalization: str, tables: list[Element]):
        self.normalization = normalization
        self.tables = tables


def probabilities_head(doc: Document, probabilities: list[str], normalization: str) -> Head:
    """One RegressionTable per class reading one field with coefficient 1 (0 + 1·p is p).

    `none` (binary only; `probabilities` = [P(classes[0])]): JPMML gives the first table's value
    to its category and 1 − it to the other; on a tie it predicts the first table's category,
    as River's `max` over its probability dict does.
    `simplemax`: p_k / Σ p in class order, exact ratios, ties kept, the first maximum wins.
    """
    if normalization == "none":
        return Head("none", [regression_table(0.0, ((probabilities[0], 1.0),), doc.labels[0]),
                             regression_table(0.0, (), doc.labels[1])])
    return Head(normalization, [regression_table(0.0, ((p, 1.0),), label)
                                for p, label in zip(probabilities, doc.labels)])


BOOLEAN_FUNCTIONS = frozenset({"equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan",
                               "greaterOrEqual", "isMissing", "isNotMissing", "and", "or", "not"})


class PmmlOps(GraphOps):
    """`ir.arithmetic.Ops` over PMML expressions: River's formulas as Apply elements (double),
    each operation the PMML built-in named in NODE_TYPES (PMML has no logistic function: the
    sigmoid is River's formula).

    A class vector is a list of expressions, one per class; a plain number is a Constant. `keep`
    turns a numeric Apply into a DerivedField (a FieldRef reads it), so a value used twice is
    computed once; conditions stay inline (a DerivedField is a double).
    """

    NODE_TYPES = {"add": "+", "sub": "-", "mul": "*", "div": "/", "less": "lessThan",
                  "greater": "greaterThan", "equal": "equal", "exp": "exp", "log": "ln",
                  "log1p": "ln1p", "sqrt": "sqrt", "floor": "floor", "erf": "erf", "is_nan": "isMissing"}

    def __init__(self, doc: Document) -> None:
        super().__init__(doc)
        self.doc = doc

    @staticmethod
    def _el(v: Any) -> Element:
        return v if isinstance(v, Element) else const(float(v))

    def _map(self, fn: Callable[..., Element], *args: Any) -> Any:
        lists = [a for a in args if isinstance(a, list)]
        if not lists:
            return fn(*[self._el(a) for a in args])
        n = len(lists[0])
        return [fn(*[self._el(a[k] if isinstance(a, list) else a) for a in args])
                for k in range(n)]

    def _node(self, operation: str, *inputs: Any) -> Any:
        function = self.NODE_TYPES[operation]
        return self._map(lambda *xs: apply(function, *xs), *inputs)

    def const(self, value: Any) -> Any:
        """A Constant; an array of K values (a row of per-class constants) a class vector."""
        if np.ndim(value) > 0:
            return [const(float(v)) for v in np.ravel(value)]
        return const(float(value))

    def column(self, x: list, j: int) -> Element:
        return x[j]

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        if isinstance(condition, bool):
            return a if condition else b
        if isinstance(condition, tuple):  # known per class when the document is written
            return [(a[k] if isinstance(a, list) else a) if c else
                    (b[k] if isinstance(b, list) else b) for k, c in enumerate(condition)]
        return self._map(if_else, condition, a, b)

    def matmul(self, x: list, W: Any) -> list:
        """x · W as one sum per column of W, left to right, skipping its zero weights."""
        W = np.asarray(W, dtype=np.float64)
        return [add_all([apply("*", self._el(x[s]), const(float(W[s, t])))
                         for s in range(W.shape[0]) if W[s, t] != 0])
                for t in range(W.shape[1])]

    def max_classes(self, v: list) -> Element:
        return apply("max", *[self._el(e) for e in v])

    def sum_classes(self, v: list) -> Element:
        return add_all([self._el(e) for e in v])

    def concat_classes(self, parts: list) -> list:
        return [e for p in parts for e in (p if isinstance(p, list) else [p])]

    def keep(self, v: Any, hint: str) -> Any:
        if isinstance(v, list):
            return [self.keep(e, f"{hint}[{k}]") for k, e in enumerate(v)]
        v = self._el(v)
        if v.tag != "Apply" or v.get("function") in BOOLEAN_FUNCTIONS:
            return v  # a condition stays inline: a DerivedField here is a double
        return ref(self.doc.derive(hint, v))

    def fields(self, v: list, hint: str) -> list[str]:
        """A class vector as DerivedField names (a model's outputs read fields)."""
        names = self.doc.labels if len(self.doc.labels) == len(v) else range(len(v))
        return [e.get("field") if e.tag == "FieldRef" else self.doc.derive(f"{hint}({label})", e)
                for e, label in zip(v, names)]
