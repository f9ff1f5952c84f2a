"""River `forest` ARF → IR EnsembleClassifier / EnsembleRegressor over the members' trees.

The members' current trees are frozen; background learners and drift detectors take no part in
predictions and are ignored. Member weights are read from the per-member metrics exactly as
`predict_proba_one` / `predict_one` read them at this moment.
"""

from __future__ import annotations

import numpy as np
from river import forest

from ... import ir
from ...ir.ensembles import EnsembleClassifier, EnsembleRegressor
from ...ir.trees import TreeClassifier, TreeRegressor
from ..registry import Case, register_extractor
from .base import EstimatorIR, require_learned
from .compose import merge_inputs
from .ensemble import mean_regressor, vote_classifier
from .tree import hoeffding_tree_regressor, tree_classifier_ir, tree_inputs


def _arf_inputs(m) -> dict:
    found: dict = {}
    for t in m:  # the members are ARF's own tree classes, read as Hoeffding trees
        merge_inputs(found, tree_inputs(t))
    return found


def _member_classifier(t, columns, ctx):
    return ir.Chain(()), tree_classifier_ir(t, columns, tuple(sorted(t.classes)), min_classes=1)


def _member_regressor(t, columns, ctx):
    return ir.Chain(()), hoeffding_tree_regressor(t, columns, ctx)



ARF_CLASSIFIER_CASES = (Case("arf10_phishing", "Phishing",
                             lambda: forest.ARFClassifier(n_models=10, seed=1)),)
ARF_REGRESSOR_CASES = (
    Case("arf_reg5_median", "TrumpApproval", lambda: forest.ARFRegressor(n_models=5, seed=1)),
    Case("arf_reg4_weighted_mean", "TrumpApproval",
         lambda: forest.ARFRegressor(n_models=4, seed=1, aggregation_method="mean",
                                     disable_weighted_vote=False)),
)


@register_extractor(forest.ARFClassifier, inputs=_arf_inputs, kind="estimator",
                    produces=(EnsembleClassifier, TreeClassifier), cases=ARF_CLASSIFIER_CASES)
def arf_classifier(m: forest.ARFClassifier, columns, ctx) -> EstimatorIR:
    """Member probabilities times its metric (when that metric is > 0 and votes are weighted,
    else as they are), summed, divided by the total."""
    require_learned(len(m) > 0, "ARFClassifier")
    weights = []
    for i in range(len(m)):
        value = m._metrics[i].get()
        weights.append(value if (not m.disable_weighted_vote and value > 0.0) else 1.0)
    return vote_classifier(m, list(m), weights, columns, ctx, member_extract=_member_classifier)


@register_extractor(forest.ARFRegressor, inputs=_arf_inputs, kind="estimator",
                    produces=(EnsembleRegressor, TreeRegressor), cases=ARF_REGRESSOR_CASES)
def arf_regressor(m: forest.ARFRegressor, columns, ctx) -> EstimatorIR:
    """River's `predict_one`. `median` (the default): the unweighted median of the members.
    `mean`: weights (S - metric_i) / Σ (numpy, as River), each prediction times its weight, then
    the mean over members (so a weighted forest's output is the weighted average divided by
    n_models: River's arithmetic, kept)."""
    require_learned(len(m) > 0, "ARFRegressor")
    n = len(m)
    if m.aggregation_method == m._MEDIAN:
        return mean_regressor(m, list(m), [1.0] * n, n, columns, ctx,
                              member_extract=_member_regressor, combine="median")
    weights = np.ones(n)
    if not m.disable_weighted_vote:
        w = np.zeros(n)
        sum_weights = 0.0
        for i in range(n):
            w[i] = m._metrics[i].get()
            sum_weights += w[i]
        if sum_weights != 0:
            w = sum_weights - w
            w /= w.sum()
            weights = w
    return mean_regressor(m, list(m), [float(v) for v in weights], n, columns, ctx,
                          member_extract=_member_regressor)


OXT_CASES = (
    Case("oxt5_trumpapproval", "TrumpApproval", lambda: forest.OXTRegressor(
        n_models=5, seed=1, grace_period=20, delta=0.5)),
    Case("oxt4_weighted_mean", "TrumpApproval", lambda: forest.OXTRegressor(
        n_models=4, seed=1, grace_period=20, delta=0.5, disable_weighted_vote=False,
        leaf_prediction="mean")),
)


def _oxt_weights(m: forest.OXTRegressor) -> tuple[list[float], float]:
    """River's `predict_one`: (w / Σw) per tree with w its metric, or (1 + 1e-8) / (w + 1e-8)
    renormalised when smaller is better, the scaled predictions summed; unweighted (or Σw == 0)
    the sum divided by the number of trees."""
    n = len(m.models)
    if m.disable_weighted_vote:
        return [1.0] * n, float(n)
    weights = [perf.get() for perf in m._perfs]
    sum_weights = sum(weights)
    if sum_weights == 0:
        return [1.0] * n, float(n)
    if not m.track_metric.bigger_is_better:
        weights = [(1 + 1e-8) / (w + 1e-8) for w in weights]
        sum_weights = sum(weights)
    return [w / sum_weights for w in weights], 1.0


@register_extractor(forest.OXTRegressor, inputs=lambda m: _arf_inputs(m.models), kind="estimator",
                    produces=(EnsembleRegressor, TreeRegressor), cases=OXT_CASES)
def oxt_regressor(m: forest.OXTRegressor, columns, ctx) -> EstimatorIR:
    """The extra trees predict as Hoeffding tree regressors (their leaves and random splitters
    only change learning); combined as `_oxt_weights` says."""
    require_learned(bool(m.models), "OXTRegressor")
    weights, divisor = _oxt_weights(m)
    return mean_regressor(m, list(m.models), weights, divisor, columns, ctx,
                          member_extract=_member_regressor)
