"""PMML for the anomaly IR (`ir.anomaly`): the formulas there over `PmmlOps` as DerivedFields
(double). HST trees are the TreeRegressor's nested `if` routing to exact leaf sums. A filter's
flag is one more DerivedField, which the output stage exposes as `is_anomaly` (`FlaggedHead`)."""

from __future__ import annotations

from ...ir import anomaly
from ...ir.anomaly import (
    AnomalyFilter,
    HalfSpaceTrees,
    LinearScore,
    LocalOutlierFactor,
    Loda,
    UnivariateScore,
)
from ...ir.ensembles import Member
from ..registry import emit, register_emitter, register_refusal
from .document import Document, Head, PmmlOps, add_all, const, ref, regression_table
from .linear import decision_fields
from .transforms import Context, emit_transform
from .trees import tree_value_field


class FlaggedHead(Head):
    """A Head with extra 0/1 outputs: output name → the DerivedField that holds it."""

    def __init__(self, normalization: str, tables: list, outputs: dict[str, str]):
        super().__init__(normalization, tables)
        self.outputs = outputs


def value_head(field: str) -> Head:
    """0 + 1 · field: the RegressionModel's value is the field itself."""
    return Head("none", [regression_table(0.0, ((field, 1.0),))])


def head_value(head: Head) -> str:
    """The field a `value_head` reads (every anomaly and regression emitter returns one)."""
    tables = head.tables
    predictors = tables[0].findall("NumericPredictor") if len(tables) == 1 else []
    if (head.normalization != "none" or len(predictors) != 1 or tables[0].get("intercept") != "0.0"
            or predictors[0].get("coefficient") != "1.0"):
        raise ValueError("the detector's PMML head is not one value field")
    return predictors[0].get("name")


def _field(doc: Document, o: PmmlOps, value, hint: str) -> str:
    kept = o.keep(value, hint)
    return kept.get("field") if kept.tag == "FieldRef" else doc.derive(hint, kept)


@register_emitter("pmml", HalfSpaceTrees)
def half_space_trees(est: HalfSpaceTrees, ctx: Context) -> Head:
    doc = ctx.doc
    sums = [ref(tree_value_field(t, doc, ctx.fields)) for t in est.trees]
    total = ref(doc.derive("mass", add_all(sums)))  # whole numbers: exact in any order
    o = PmmlOps(doc)
    return value_head(_field(doc, o, anomaly.mass_score(o, total, est.max_score), "score"))


@register_emitter("pmml", UnivariateScore)
def univariate_score(est: UnivariateScore, ctx: Context) -> Head:
    doc, o = ctx.doc, PmmlOps(ctx.doc)
    if est.constant is not None:
        return value_head(doc.derive("score", const(est.constant)))
    y = ref(ctx.fields[est.columns[0]])
    value = anomaly.univariate_score(o, y, est.center, est.scale, est.kind)
    return value_head(_field(doc, o, value, "score"))


@register_emitter("pmml", LinearScore)
def linear_score(est: LinearScore, ctx: Context) -> Head:
    doc, o = ctx.doc, PmmlOps(ctx.doc)
    z = ref(decision_fields(est.linear, doc, ctx.fields)[0])
    return value_head(_field(doc, o, anomaly.linear_score(o, z, est.linear.intercepts[0]),
                             "score"))


def detector_field(m: Member, ctx: Context) -> str:
    """The field holding a wrapped detector's score (its transforms, then its emitter)."""
    fields = emit_transform(m.transform, ctx)
    wanted = {c: fields[c] for c in m.estimator.columns}
    return head_value(emit("pmml", m.estimator, ctx.at(wanted)))


@register_emitter("pmml", AnomalyFilter)
def anomaly_filter(est: AnomalyFilter, ctx: Context) -> Head:
    doc, o = ctx.doc, PmmlOps(ctx.doc)
    score = detector_field(est.detector, ctx)
    flag = _field(doc, o, anomaly.anomaly_flag(o, ref(score), est.threshold), "is_anomaly")
    head = value_head(score)
    return FlaggedHead(head.normalization, head.tables, {"is_anomaly": flag})


@register_emitter("pmml", Loda)
def loda(est: Loda, ctx: Context) -> Head:
    """Each projection a DerivedField added up in River's order, then each cut's log density
    as nested `if`s over the bins in River's order, subtracted as River does."""
    doc, o = ctx.doc, PmmlOps(ctx.doc)
    x = [ref(ctx.fields[c]) for c in est.columns]
    logs = []
    for k, (terms, bins) in enumerate(zip(est.terms, est.bins, strict=True)):
        z = ref(_field(doc, o, anomaly.ordered_projection(o, x, terms), f"projection{k}"))
        logs.append(ref(_field(doc, o, anomaly.bin_log_density(o, z, bins, est.outside),
                               f"log_density{k}")))
    return value_head(_field(doc, o, anomaly.loda_score(o, logs, len(est.terms)), "score"))
register_refusal("pmml", LocalOutlierFactor, "LocalOutlierFactor needs the k nearest stored "
                 "points of each row (a top-k search with River's tie and distance-0 rules), "
                 "which this format has no exact block for; export to ONNX")
