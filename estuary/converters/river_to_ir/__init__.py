"""River model → IR. The only part of estuary that imports River.

`to_ir(model)` reads the raw keys the model knows (front of the pipeline), builds the input
schema, then asks each step's registered extractor for its IR node.
"""

from __future__ import annotations

from typing import Any

from ... import ir
from ...errors import UnsupportedModelError
from ..registry import extractor_for, qualname, supported_models
from . import (  # noqa: F401
    aggregate,
    anomaly,
    cluster,
    compose,
    dummy,
    ensemble,
    feature_extraction,
    feature_selection,
    forest,
    linear_model,
    mondrian,
    multioutput,
    naive_bayes,
    neighbors,
    preprocessing,
    projection,
    reco,
    time_series,
    tree,
    votes,
    wrappers,
)
from .base import EstimatorIR, canonical_order, key_name, plain


def build_schema(raw: dict) -> ir.FeatureSchema:
    features = []
    for key in sorted(raw, key=key_name):
        cats = raw[key]
        if cats:
            features.append(ir.Feature(key_name(key), plain(key), "categorical",
                                        tuple(plain(c) for c in canonical_order(cats))))
        else:
            features.append(ir.Feature(key_name(key), plain(key)))
    return ir.FeatureSchema(tuple(features))


class Context:
    """What extractors may ask about the input: which raw feature a column comes from, and
    whether a row can hold keys the schema does not know at this step (`closed`)."""

    def __init__(self, schema: ir.FeatureSchema):
        self.schema = schema
        # True once a step has closed the row's key set (compose.Select): no key outside the
        # schema reaches the next step. Raw rows may hold any key (an artifact ignores them).
        self.closed = False
        self._owner = {c: f for f in schema.features for c in f.columns}

    def column_feature(self, column: str) -> str:
        f = self._owner.get(column)
        return f.name if f is not None else column

    def categorical_features_of(self, columns: tuple[str, ...], step: Any) -> list[ir.Feature]:
        """Raw categorical features behind `columns`; anything else cannot be one-hot encoded."""
        out: dict[str, ir.Feature] = {}
        for c in columns:
            f = self._owner.get(c)
            if f is None or f.kind != "categorical":
                raise UnsupportedModelError(
                    step, supported_models(),
                    reason=f"it receives {c!r}, which is not a raw categorical feature; "
                    "put compose.Select(<categorical keys>) in front of the encoder",
                )
            out[f.name] = f
        return list(out.values())


def to_ir(model: Any) -> ir.Model:
    """Freeze a River model into an IR `Model`.

    >>> to_ir(preprocessing.StandardScaler() | linear_model.LogisticRegression())  # after learning
    """
    ex = extractor_for(model)
    if ex.kind != "estimator":
        raise UnsupportedModelError(model, supported_models(),
                                    reason="it is a transformer; export a pipeline that ends in a model")
    schema = build_schema(ex.inputs(model))
    result = ex.extract(model, schema.columns, Context(schema))
    if isinstance(result, ir.Chain):
        raise UnsupportedModelError(model, supported_models(),
                                    reason="the pipeline has no model at its end")
    chain, est = result if isinstance(result, tuple) else (ir.Chain(()), result)
    assert isinstance(est, EstimatorIR)
    return ir.Model(schema, chain, est.estimator, est.task, est.classes, source=qualname(type(model)))


__all__ = ["EstimatorIR", "to_ir"]
