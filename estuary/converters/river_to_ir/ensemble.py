"""River `ensemble` bagging → IR EnsembleClassifier / EnsembleRegressor, and the member
extraction shared with `forest` (ARF)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from river import ensemble, linear_model, preprocessing, tree

from ... import ir
from ...errors import EmptyModelError, UnsupportedModelError
from ...ir.ensembles import EnsembleClassifier, EnsembleRegressor, Member
from ...ir.trees import TreeClassifier, TreeStructure
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import EstimatorIR, plain, require_learned
from .compose import merge_inputs


def members_inputs(models: list) -> dict:
    found: dict = {}
    for m in models:
        merge_inputs(found, extractor_for(m).inputs(m))
    return found


def member_ir(model: Any, columns, ctx) -> tuple[ir.Chain, EstimatorIR]:
    """A member's own transforms (a bagged pipeline) and its estimator, reading `columns`."""
    ex = extractor_for(model)
    if ex.kind != "estimator":
        raise UnsupportedModelError(model, supported_models(), reason="a member is a transformer")
    result = ex.extract(model, columns, ctx)
    chain, est = result if isinstance(result, tuple) else (ir.Chain(()), result)
    return chain, est


def class_union(outputs: list[EstimatorIR]) -> tuple:
    """The ensemble's classes in River's order: keys enter its `Counter` member by member, each
    member's probability dict in its own order (the order its IR classes keep)."""
    seen: dict = {}
    for out in outputs:
        for c in out.classes:
            seen.setdefault(c, None)
    return tuple(seen)


def unlearned_member(m: Any, columns) -> tuple[ir.Chain, EstimatorIR] | None:
    """A member that has learned nothing predicts the same for every row (a linear model its
    initial intercept, a tree nothing at all): River's own `predict_proba_one` of it, frozen as a
    one-leaf tree; None when it predicts nothing."""
    constant = m.predict_proba_one({})
    if not constant:
        return None
    classes = tuple(constant)
    leaf = TreeStructure(feature=(0,), threshold=(0.0,), left=(0,), right=(0,),
                         missing_left=(False,), leaf=(0,), onehot=(False,))
    est = TreeClassifier(tuple(columns[:1]), leaf, (tuple(float(constant[c]) for c in classes),),
                         (False,))
    return ir.Chain(()), EstimatorIR(est, "classification", tuple(plain(c) for c in classes))


def vote_classifier(model: Any, members: list, weights: list[float], columns,
                    ctx, member_extract=None) -> EstimatorIR:
    """Σ weights · member probabilities, normalised by the total (ARF and bagging alike)."""
    parts, kept = [], []
    for m, w in zip(members, weights, strict=True):
        try:
            chain, out = (member_extract(m, columns, ctx) if member_extract
                          else member_ir(m, columns, ctx))
        except EmptyModelError:  # a member reset after a drift, or not yet trained
            unlearned = unlearned_member(m, columns)
            if unlearned is None:
                continue  # River's Counter.update({}) adds nothing
            chain, out = unlearned
        if out.task != "classification":
            raise UnsupportedModelError(model, supported_models(), reason="a member is a regressor")
        parts.append((chain, out))
        kept.append(w)
    if not parts:
        raise EmptyModelError(f"every member of {type(model).__name__} has learned nothing: call "
                              "learn_one on some data before export")
    weights = kept
    classes = class_union([out for _, out in parts])
    if len(classes) < 2:
        raise EmptyModelError(f"{type(model).__name__}'s members have seen only the class(es) "
                              f"{list(classes)}: a classifier needs two classes to export; call "
                              "learn_one on more data before export")
    index = {c: k for k, c in enumerate(classes)}
    ir_members = tuple(Member(chain, out.estimator, tuple(index[c] for c in out.classes))
                       for chain, out in parts)
    est = EnsembleClassifier(columns, ir_members, tuple(float(w) for w in weights), len(classes))
    return EstimatorIR(est, "classification", tuple(plain(c) for c in classes))


def mean_regressor(model: Any, members: list, weights: list[float], divisor: float, columns,
                   ctx, member_extract=None, combine: str = "mean") -> EstimatorIR:
    parts = []
    for m in members:
        chain, out = member_extract(m, columns, ctx) if member_extract else member_ir(m, columns, ctx)
        if out.task != "regression":
            raise UnsupportedModelError(model, supported_models(), reason="a member is a classifier")
        parts.append(Member(chain, out.estimator))
    est = EnsembleRegressor(columns, tuple(parts), tuple(float(w) for w in weights), float(divisor),
                            combine)
    return EstimatorIR(est, "regression")


def _bagging_inputs(m) -> dict:
    return members_inputs(list(m))



BAGGING_CLASSIFIER_CASES = (
    Case("bagging3(htc)", "Phishing", lambda: ensemble.BaggingClassifier(
        tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5), n_models=3, seed=1)),
    Case("bagging3(scaler|logreg)", "Phishing", lambda: ensemble.BaggingClassifier(
        preprocessing.StandardScaler() | linear_model.LogisticRegression(), n_models=3, seed=1)),
)
BAGGING_REGRESSOR_CASES = (
    Case("bagging3-reg(scaler|linreg)", "TrumpApproval", lambda: ensemble.BaggingRegressor(
        preprocessing.StandardScaler() | linear_model.LinearRegression(), n_models=3, seed=1)),
)


ADWIN_BAGGING_CASES = (
    Case("adwin-bagging3(htc)", "Phishing", lambda: ensemble.ADWINBaggingClassifier(
        tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5), n_models=3, seed=1)),
)
LEVERAGING_BAGGING_CASES = (
    Case("leveraging-bagging3(scaler|logreg)", "Phishing",
         lambda: ensemble.LeveragingBaggingClassifier(
             preprocessing.StandardScaler() | linear_model.LogisticRegression(), n_models=3,
             seed=1)),
)


# ADWIN and leveraging bagging change how members learn (Poisson(w) weights; a member whose
# ADWIN detects drift is replaced by an unlearned clone, see `unlearned_member`), not how they
# vote: River's subclasses inherit BaggingClassifier.predict_proba_one.
@register_extractor(ensemble.ADWINBaggingClassifier, inputs=_bagging_inputs, kind="estimator",
                    produces=(EnsembleClassifier,), cases=ADWIN_BAGGING_CASES)
@register_extractor(ensemble.LeveragingBaggingClassifier, inputs=_bagging_inputs,
                    kind="estimator", produces=(EnsembleClassifier,),
                    cases=LEVERAGING_BAGGING_CASES)
@register_extractor(ensemble.BaggingClassifier, inputs=_bagging_inputs, kind="estimator",
                    produces=(EnsembleClassifier,), cases=BAGGING_CLASSIFIER_CASES)
def bagging_classifier(m: ensemble.BaggingClassifier, columns, ctx) -> EstimatorIR:
    """River's `predict_proba_one`: the members' probability dicts summed, divided by the total."""
    require_learned(len(m) > 0, type(m).__name__)
    return vote_classifier(m, list(m), [1.0] * len(m), columns, ctx)


@register_extractor(ensemble.BaggingRegressor, inputs=_bagging_inputs, kind="estimator",
                    produces=(EnsembleRegressor,), cases=BAGGING_REGRESSOR_CASES)
def bagging_regressor(m: ensemble.BaggingRegressor, columns, ctx) -> EstimatorIR:
    """`statistics.mean` of the members' predictions (exact in River; to rounding here)."""
    require_learned(len(m) > 0, "BaggingRegressor")
    return mean_regressor(m, list(m), [1.0] * len(m), len(m), columns, ctx)


# members with bounded outputs: a linear member's output on River's extreme probe rows
# overflows float32 even where its EWA weight is 0.0 (inf · 0), so TF.js could not agree there
EWA_CASES = (Case("ewa(htr-mean, htr-mean)", "TrumpApproval", lambda: ensemble.EWARegressor([
    tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5, leaf_prediction="mean"),
    tree.HoeffdingTreeRegressor(grace_period=50, leaf_prediction="mean")])),)


@register_extractor(ensemble.EWARegressor, inputs=_bagging_inputs, kind="estimator",
                    produces=(EnsembleRegressor,), cases=EWA_CASES)
def ewa_regressor(m: ensemble.EWARegressor, columns, ctx) -> EstimatorIR:
    """`predict_one`: Σ prediction_i · weight_i, summed from 0 in member order, no division
    (the weights are normalised as they learn): a mean with divisor 1."""
    require_learned(len(m) > 0, "EWARegressor")
    return mean_regressor(m, list(m), list(m.weights), 1.0, columns, ctx)


def _adaboost_weight(m: Any, i: int) -> float:
    """`AdaBoostClassifier.predict_proba_one`'s model weight, River's arithmetic as written."""
    epsilon = m.wrong_weight[i] + 1e-16 if i in m.wrong_weight else 1e-16
    total = (m.correct_weight.get(i, 0) + m.wrong_weight.get(i, 0)) + 1e-16
    epsilon /= total
    if epsilon == 0 or epsilon > 0.5:
        return 1.0
    beta_inv = (1 - epsilon) / epsilon
    return math.log(beta_inv) if beta_inv != 0 else 0


def _bole_weight(m: Any, i: int) -> float:
    """`BOLEClassifier.predict_proba_one`'s model weight (0.0: the member does not vote)."""
    correct, wrong = m.correct_weight.get(i, 0), m.wrong_weight.get(i, 0)
    if correct > 0.0 and wrong > 0.0:
        epsilon = wrong / (correct + wrong) + 1e-16
        if epsilon <= m.error_bound:
            return math.log((1 - epsilon) / epsilon)
    return 0.0


BOOSTING_CASES = (Case("adaboost3(htc)", "Phishing", lambda: ensemble.AdaBoostClassifier(
    tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5), n_models=3, seed=1)),)
ADWIN_BOOSTING_CASES = (Case("adwin-boosting3(scaler|logreg)", "Phishing",
                             lambda: ensemble.ADWINBoostingClassifier(
                                 preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                                 n_models=3, seed=1)),)
BOLE_CASES = (Case("bole3(htc)", "ImageSegments", lambda: ensemble.BOLEClassifier(
    tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5), n_models=3, seed=1)),)


# ADWIN boosting changes how members learn, not how they vote (it inherits predict_proba_one).
@register_extractor(ensemble.ADWINBoostingClassifier, inputs=_bagging_inputs, kind="estimator",
                    produces=(EnsembleClassifier,), cases=ADWIN_BOOSTING_CASES)
@register_extractor(ensemble.AdaBoostClassifier, inputs=_bagging_inputs, kind="estimator",
                    produces=(EnsembleClassifier,), cases=BOOSTING_CASES)
def adaboost_classifier(m: ensemble.AdaBoostClassifier, columns, ctx) -> EstimatorIR:
    """Each member's probabilities times log((1 - ε) / ε) (1.0 when ε is 0 or above 0.5),
    summed in a Counter, normalised by the total. The weights read `wrong_weight` and
    `correct_weight` with `.get`: River's defaultdicts are not grown."""
    require_learned(len(m) > 0, type(m).__name__)
    return vote_classifier(m, list(m), [_adaboost_weight(m, i) for i in range(len(m))],
                           columns, ctx)


@register_extractor(ensemble.BOLEClassifier, inputs=_bagging_inputs, kind="estimator",
                    produces=(EnsembleClassifier,), cases=BOLE_CASES)
def bole_classifier(m: ensemble.BOLEClassifier, columns, ctx) -> EstimatorIR:
    """Only the members with a non-zero weight vote; when none has one, every member votes
    with weight 1 (River's `y_proba_all`). Which case holds depends on the state, not on x."""
    require_learned(len(m) > 0, "BOLEClassifier")
    weights = [_bole_weight(m, i) for i in range(len(m))]
    voting = [i for i, w in enumerate(weights) if w]
    if not voting:
        return vote_classifier(m, list(m), [1.0] * len(m), columns, ctx)
    return vote_classifier(m, [m[i] for i in voting], [weights[i] for i in voting], columns, ctx)


# ------------------------------------------------------------------------------ SRP


def _srp_inputs(m) -> dict:
    extractor_for(m.model).inputs(m.model)  # its members, cloned as SRP learns, convert only if it does
    return members_inputs([b.model for b in m.models])


def _srp_member(base: Any, columns, ctx):
    """A member predicts on `{k: x[k] for k in features if k in x}`. It only ever learned those
    keys, so reading the full row is the same unless its model knows another key: refused."""
    model = base.model
    if base.features is not None:
        outside = set(extractor_for(model).inputs(model)) - set(base.features)
        if outside:
            raise UnsupportedModelError(
                model, supported_models(),
                reason=f"an SRP member knows keys outside its random subspace ({sorted(outside)[:3]})")
    return member_ir(model, columns, ctx)


SRP_CLASSIFIER_CASES = (Case("srp5(htc)", "Phishing", lambda: ensemble.SRPClassifier(
    tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5), n_models=5, seed=1,
    disable_weighted_vote=False)),)
SRP_REGRESSOR_CASES = (
    Case("srp-reg4-mean(htr)", "TrumpApproval", lambda: ensemble.SRPRegressor(
        tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5), n_models=4, seed=1)),
    Case("srp-reg5-median-subspaces(htr)", "TrumpApproval", lambda: ensemble.SRPRegressor(
        tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5), n_models=5, seed=1,
        training_method="subspaces", aggregation_method="median")),
)


@register_extractor(ensemble.SRPClassifier, inputs=_srp_inputs, kind="estimator",
                    produces=(EnsembleClassifier,), cases=SRP_CLASSIFIER_CASES)
def srp_classifier(m: ensemble.SRPClassifier, columns, ctx) -> EstimatorIR:
    """As ARF: member probabilities times their metric when it is > 0 and votes are weighted,
    summed, divided by the total when it is > 0. Background learners take no part."""
    require_learned(bool(m.models), "SRPClassifier")
    weights = []
    for b in m.models:
        value = b.metric.get()
        weights.append(value if (not m.disable_weighted_vote and value > 0.0) else 1.0)
    return vote_classifier(m, list(m.models), weights, columns, ctx,
                           member_extract=_srp_member)


@register_extractor(ensemble.SRPRegressor, inputs=_srp_inputs, kind="estimator",
                    produces=(EnsembleRegressor,), cases=SRP_REGRESSOR_CASES)
def srp_regressor(m: ensemble.SRPRegressor, columns, ctx) -> EstimatorIR:
    """River's `predict_one`: the median of the members, or `np.average` weighted by their
    metric (inverted when smaller is better), 1 each when votes are unweighted. Weights that sum
    to 0 make River answer 0.0 for every row: refused (no member predicts that)."""
    require_learned(bool(m.models), "SRPRegressor")
    members, n = list(m.models), len(m.models)
    if m.aggregation_method == m._MEDIAN:
        return mean_regressor(m, members, [1.0] * n, n, columns, ctx,
                              member_extract=_srp_member, combine="median")
    weights = np.ones(n)
    if not m.disable_weighted_vote:
        for i, b in enumerate(members):
            value = b.metric.get()
            weights[i] = value if value >= 0 else 0.0
        if not m.metric.bigger_is_better:
            weights = -(weights - max(weights))
        if sum(weights) == 0:
            raise UnsupportedModelError(m, supported_models(),
                                        reason="its member weights sum to 0, so River predicts "
                                        "0.0 for every row; learn more first")
    return mean_regressor(m, members, [float(w) for w in weights], float(weights.sum()), columns,
                          ctx, member_extract=_srp_member)
