"""River `multioutput` chains → IR `EstimatorChain` (tasks `multilabel` and `multitarget`).

River's `ClassifierChain.predict_proba_one` asks each target's classifier in `order`, then
writes its P(True) into the row under the target's name for the next one (`x[o] =
y_pred[o][True]`); `RegressorChain.predict_one` writes the prediction (`x[o] = y_pred[o]`).
Each member is extracted by its own extractor over the chain's columns plus those target
columns, so any member estuary exports can be chained.
"""

from __future__ import annotations

from typing import Any

from river import linear_model, multioutput, preprocessing

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.multioutput import EncodedLabels, EstimatorChain
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import EstimatorIR, key_name, plain, require_learned

CLASSIFIER_CHAIN_CASES = (
    Case("classifier-chain(scaler|logreg)", "MultiLabelPhishing", lambda: (
        multioutput.ClassifierChain(
            preprocessing.StandardScaler() | linear_model.LogisticRegression(),
            order=["phishing", "popup", "ip"]))),
    Case("scaler|classifier-chain(logreg)", "MultiLabelPhishing", lambda: (
        preprocessing.StandardScaler()
        | multioutput.ClassifierChain(linear_model.LogisticRegression()))),
)
PER_OUTPUT_CLASSIFIER_CASES = (
    Case("per-output(scaler|logreg)", "MultiLabelPhishing", lambda: (
        multioutput.PerOutputClassifier(
            preprocessing.StandardScaler() | linear_model.LogisticRegression()))),
)
PER_OUTPUT_REGRESSOR_CASES = (
    Case("per-output(scaler|linreg)", "MultiTargetTrump", lambda: (
        multioutput.PerOutputRegressor(
            preprocessing.StandardScaler() | linear_model.LinearRegression()))),
)
ENCODER_CASES = (
    Case("multiclass-encoder(scaler|softmax)", "MultiLabelPhishing", lambda: (
        multioutput.MultiClassEncoder(
            preprocessing.StandardScaler() | linear_model.SoftmaxRegression()))),
)
REGRESSOR_CHAIN_CASES = (
    Case("regressor-chain(scaler|linreg)", "MultiTargetTrump", lambda: (
        multioutput.RegressorChain(
            preprocessing.StandardScaler() | linear_model.LinearRegression(),
            order=["approval", "gallup"]))),
)


def _refuse(m: Any, reason: str) -> UnsupportedModelError:
    return UnsupportedModelError(m, supported_models(), reason=reason)


def _inputs(m: Any) -> dict:
    """The raw keys the members know, without the targets the chain itself writes."""
    from .compose import merge_inputs

    targets = set(_order(m))
    found: dict = {}
    for o in _order(m):
        member = m[o] if o in m.data else None
        if member is not None:
            merge_inputs(found, {k: v for k, v in extractor_for(member).inputs(member).items()
                                 if k not in targets})
    return found


def _order(m: Any) -> list:
    """The targets in River's prediction order: a chain's `order`; the PerOutput models' dict
    order (`self.items()`)."""
    return list(m.order) if hasattr(m, "order") else list(m.data)


def _targets(m: Any) -> tuple[str, ...]:
    order = _order(m)
    require_learned(bool(order) and all(o in m.data for o in order), type(m).__name__)
    names = tuple(key_name(plain(o)) for o in order)
    if len(set(names)) != len(names):
        raise _refuse(m, "two targets have the same name once written as strings")
    return names


def _member_ctx(ctx, extra: tuple[str, ...]):
    """The extraction context of a member: the chain's schema plus the fed target columns."""
    features = ctx.schema.features + tuple(ir.Feature(t, t) for t in extra)
    member_ctx = type(ctx)(ir.FeatureSchema(features))
    member_ctx.closed = ctx.closed
    return member_ctx


def _chain(m: Any, columns: tuple[str, ...], ctx, task: str, feeds: bool = True) -> EstimatorIR:
    targets = _targets(m)
    read = set(columns)  # raw keys the chain, or a member before the target is fed, reads
    for k, o in enumerate(_order(m) if feeds else ()):
        read |= {key_name(key) for key in extractor_for(m[o]).inputs(m[o])} & set(targets[k:])
    clash = sorted(set(targets) & read)
    if clash:
        raise _refuse(m, f"target {clash[0]!r} is also an input key: River's chain overwrites "
                      "it in the row; rename the target")
    transforms, members = [], []
    for k, o in enumerate(_order(m)):
        member = m[o]
        fed = targets[:k] if feeds else ()
        result = extractor_for(member).extract(member, columns + fed, _member_ctx(ctx, fed))
        chain, est = result if isinstance(result, tuple) else (ir.Chain(()), result)
        if task == "multilabel" and (est.task != "classification" or tuple(est.classes) != (
                False, True)):
            raise _refuse(m, f"the member for target {o!r} is not a binary classifier with "
                          "classes (False, True); a multi-class member feeds one column per "
                          "class, which is not exported yet")
        if task == "multitarget" and est.task != "regression":
            raise _refuse(m, f"the member for target {o!r} is not a regressor")
        transforms.append(chain)
        members.append(est.estimator)
    kind = "probabilities" if task == "multilabel" else "value"
    est = EstimatorChain(columns, targets, tuple(transforms), tuple(members), kind, feeds)
    return EstimatorIR(est, task, targets)


@register_extractor(multioutput.ClassifierChain, inputs=_inputs, kind="estimator",
                    produces=(EstimatorChain,), cases=CLASSIFIER_CHAIN_CASES)
def classifier_chain(m: multioutput.ClassifierChain, columns, ctx) -> EstimatorIR:
    """Binary members: each one's P(True) feeds the next (River's `x[o] = y_pred[o][True]`)."""
    if m._multiclass:
        raise _refuse(m, "its members are multi-class: River feeds one column per class "
                      "(`{target}_{class}`), which is not exported yet")
    return _chain(m, columns, ctx, "multilabel")


@register_extractor(multioutput.RegressorChain, inputs=_inputs, kind="estimator",
                    produces=(EstimatorChain,), cases=REGRESSOR_CHAIN_CASES)
def regressor_chain(m: multioutput.RegressorChain, columns, ctx) -> EstimatorIR:
    """Each member's prediction feeds the next (River's `x[o] = y_pred[o]`)."""
    return _chain(m, columns, ctx, "multitarget")


@register_extractor(multioutput.PerOutputClassifier, inputs=_inputs, kind="estimator",
                    produces=(EstimatorChain,), cases=PER_OUTPUT_CLASSIFIER_CASES)
def per_output_classifier(m: multioutput.PerOutputClassifier, columns, ctx) -> EstimatorIR:
    """One independent binary classifier per target (nothing fed forward)."""
    return _chain(m, columns, ctx, "multilabel", feeds=False)


@register_extractor(multioutput.PerOutputRegressor, inputs=_inputs, kind="estimator",
                    produces=(EstimatorChain,), cases=PER_OUTPUT_REGRESSOR_CASES)
def per_output_regressor(m: multioutput.PerOutputRegressor, columns, ctx) -> EstimatorIR:
    """One independent regressor per target (nothing fed forward)."""
    return _chain(m, columns, ctx, "multitarget", feeds=False)


@register_extractor(multioutput.MultiClassEncoder, inputs=lambda m: extractor_for(m.model).inputs(
                        m.model), kind="estimator", produces=(EncodedLabels,),
                    cases=ENCODER_CASES)
def multiclass_encoder(m: multioutput.MultiClassEncoder, columns, ctx) -> EstimatorIR:
    """River's `predict_proba_one`: the most probable code's combination, {bool(v): p,
    not bool(v): 1 - p} per target; targets in the combinations' (sorted) order."""
    require_learned(bool(m._r_label_map), "MultiClassEncoder")
    result = extractor_for(m.model).extract(m.model, columns, ctx)
    chain, est = result if isinstance(result, tuple) else (ir.Chain(()), result)
    if est.task != "classification":
        raise _refuse(m, "its model is not a classifier")
    combos = [m._r_label_map.get(code) for code in est.classes]
    if None in combos:
        raise _refuse(m, "its model knows a class that is no label combination's code")
    targets = [t for t, _ in combos[0]]
    if any([t for t, _ in c] != targets for c in combos):
        raise _refuse(m, "its label combinations do not all name the same targets (a target "
                      "missing from some rows): River's answer then lacks that target")
    names = tuple(key_name(plain(t)) for t in targets)
    values = tuple(tuple(1.0 if bool(v) else 0.0 for _, v in c) for c in combos)
    return EstimatorIR(EncodedLabels(columns, names, chain, est.estimator, values),
                       "multilabel", names)
