"""River models whose prediction is another model's: samplers, conformal and drift wrappers,
model selectors, and the target scalers (an affine map of the wrapped regressor's output).

Each wrapper's `predict_one` / `predict_proba_one` was read in River 0.26.1: the samplers
(`imblearn`), `conf.RegressionJackknife` (without `with_interval`), `drift.DriftRetrainingClassifier`
and `preprocessing.PredClipper` with infinite bounds return the wrapped model's prediction as is;
a model selector returns its current `best_model`'s (its first model before any is best).
"""

from __future__ import annotations

import math
from typing import Any

from river import (
    bandit,
    compose,
    conf,
    drift,
    imblearn,
    linear_model,
    metrics,
    model_selection,
    optim,
    preprocessing,
    tree,
)

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.trees import TreeRegressor
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import EstimatorIR, require_learned
from .ensemble import member_ir


def _scaled_logreg() -> Any:
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def _scaled_linreg(lr: float = 0.01) -> Any:
    return preprocessing.StandardScaler() | linear_model.LinearRegression(
        optimizer=optim.SGD(lr))


BALANCED = {False: 0.5, True: 0.5}


def _selector_delegate(m: Any) -> Any:
    """`ModelSelectionRegressor.predict_one` / `ModelSelectionClassifier.predict_proba_one`:
    the first model while `best_model` is None. SuccessiveHalving's `best_model` is never None."""
    best = m.best_model
    return m.models[0] if best is None else best


# class → (how to reach the model whose prediction it returns, cases)
DELEGATES: dict[type, tuple[Any, tuple[Case, ...]]] = {
    imblearn.RandomOverSampler: (lambda m: m.classifier, (Case(
        "random-over-sampler(scaler|logreg)", "Phishing", lambda: imblearn.RandomOverSampler(
            _scaled_logreg(), desired_dist=BALANCED, seed=1)),)),
    imblearn.RandomUnderSampler: (lambda m: m.classifier, (Case(
        "random-under-sampler(scaler|logreg)", "Phishing", lambda: imblearn.RandomUnderSampler(
            _scaled_logreg(), desired_dist=BALANCED, seed=1)),)),
    imblearn.RandomSampler: (lambda m: m.classifier, (Case(
        "random-sampler(htc)", "ImageSegments", lambda: imblearn.RandomSampler(
            tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5), sampling_rate=0.8,
            desired_dist={c: 1 / 7 for c in ("path", "sky", "foliage", "cement", "window",
                                             "brickface", "grass")}, seed=1)),)),
    imblearn.HardSamplingClassifier: (lambda m: m.model, (Case(
        "hard-sampling-clf(scaler|logreg)", "Phishing", lambda: imblearn.HardSamplingClassifier(
            _scaled_logreg(), size=40, p=0.1, seed=1)),)),
    imblearn.HardSamplingRegressor: (lambda m: m.model, (Case(
        "hard-sampling-reg(scaler|linreg)", "TrumpApproval", lambda: (
            imblearn.HardSamplingRegressor(_scaled_linreg(), size=40, p=0.1, seed=1))),)),
    imblearn.ChebyshevUnderSampler: (lambda m: m.regressor, (Case(
        "chebyshev-under(scaler|linreg)", "TrumpApproval", lambda: (
            imblearn.ChebyshevUnderSampler(_scaled_linreg(), seed=1))),)),
    imblearn.ChebyshevOverSampler: (lambda m: m.regressor, (Case(
        "chebyshev-over(htr)", "TrumpApproval", lambda: imblearn.ChebyshevOverSampler(
            tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5))),)),
    conf.RegressionJackknife: (lambda m: m.regressor, (Case(
        "jackknife(scaler|linreg)", "TrumpApproval", lambda: conf.RegressionJackknife(
            _scaled_linreg(), confidence_level=0.9, window_size=100)),)),
    drift.DriftRetrainingClassifier: (lambda m: m.model, (Case(
        "drift-retraining(htc)", "Phishing", lambda: drift.DriftRetrainingClassifier(
            tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5),
            drift_detector=drift.binary.DDM())),)),
    model_selection.BanditRegressor: (_selector_delegate, (Case(
        "bandit-reg(2 x scaler|linreg)", "TrumpApproval", lambda: model_selection.BanditRegressor(
            [_scaled_linreg(0.005), _scaled_linreg(0.01)], metric=metrics.MAE(),
            policy=bandit.EpsilonGreedy(0.1, seed=1))),)),
    model_selection.BanditClassifier: (_selector_delegate, (Case(
        "bandit-clf(logreg, htc)", "Phishing", lambda: model_selection.BanditClassifier(
            [_scaled_logreg(), tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5)],
            metric=metrics.Accuracy(),
            policy=bandit.EpsilonGreedy(0.1, seed=1))),)),
    model_selection.GreedyRegressor: (_selector_delegate, (Case(
        "greedy-reg(2 x scaler|linreg)", "TrumpApproval", lambda: model_selection.GreedyRegressor(
            [_scaled_linreg(0.005), _scaled_linreg(0.01)], metric=metrics.MAE())),)),
    model_selection.SuccessiveHalvingRegressor: (_selector_delegate, (Case(
        "sh-reg(2 x scaler|linreg)", "TrumpApproval", lambda: (
            model_selection.SuccessiveHalvingRegressor(
                [_scaled_linreg(0.005), _scaled_linreg(0.01)], metric=metrics.MAE(), budget=400))),)),
    model_selection.SuccessiveHalvingClassifier: (_selector_delegate, (Case(
        "sh-clf(logreg, htc)", "Phishing", lambda: model_selection.SuccessiveHalvingClassifier(
            [_scaled_logreg(), tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5)],
            metric=metrics.Accuracy(), budget=400)),)),
}


def _is_selector_type(cls: Any) -> bool:
    return cls in DELEGATES and DELEGATES[cls][0] is _selector_delegate


def holds_selector(m: Any) -> bool:
    """`m` is a model selector or holds one among its parameters, at any depth (River's
    `_get_params`: an estimator parameter is (its class, its parameters)). Which candidate a
    selector predicts with (and export reads) depends on what it learned, so one candidate no
    format exports does not make every export fail."""
    if _is_selector_type(type(m)):
        return True
    get_params = getattr(m, "_get_params", None)
    return callable(get_params) and _params_hold_selector(get_params())


def _params_hold_selector(value: Any) -> bool:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], type):
        return _is_selector_type(value[0]) or _params_hold_selector(value[1])
    if isinstance(value, dict):
        return any(_params_hold_selector(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(holds_selector(v) or _params_hold_selector(v) for v in value)
    return False


def _delegate(m: Any) -> Any:
    return DELEGATES[type(m)][0](m)


def _delegate_inputs(m: Any) -> dict:
    inner = _delegate(m)
    return extractor_for(inner).inputs(inner)


def delegate(m: Any, columns, ctx):
    """The wrapped model's IR: its own transforms (a wrapped pipeline) and its estimator."""
    chain, est = member_ir(_delegate(m), columns, ctx)
    return (chain, est) if chain.steps else est


for _cls, (_, _cases) in DELEGATES.items():
    register_extractor(_cls, inputs=_delegate_inputs, kind="estimator", produces=(ir.Chain,),
                       cases=_cases)(delegate)


# ------------------------------------------------------------------------------ PredClipper


CLIPPER_CASES = (
    Case("pred-clipper-unbounded(scaler|linreg)", "TrumpApproval", lambda: (
        preprocessing.PredClipper(_scaled_linreg(), y_min=-math.inf, y_max=math.inf))),
    Case("pred-clipper(40, 45)(htr-mean)", "TrumpApproval", lambda: preprocessing.PredClipper(
        tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5, leaf_prediction="mean"),
        y_min=40.0, y_max=45.0)),
)


def _clamp_leaves(m: preprocessing.PredClipper, est: EstimatorIR) -> EstimatorIR:
    """`clamp(leaf value)` per leaf, River's `max(min(y, y_max), y_min)` on River's own floats;
    only mean leaves (a linear leaf's output depends on x)."""
    node = est.estimator
    if not isinstance(node, TreeRegressor) or any(node.model):
        raise UnsupportedModelError(
            m, supported_models(),
            reason=f"y_min={m.y_min!r}, y_max={m.y_max!r}: River clamps the prediction, which "
            "estuary folds into the mean leaves of a Hoeffding tree regressor only; no IR "
            "output step clips a linear model's output")
    means = tuple(float(max(min(v, m.y_max), m.y_min)) for v in node.means)
    return EstimatorIR(TreeRegressor(node.columns, node.tree, means, node.model), "regression")


@register_extractor(preprocessing.PredClipper, inputs=lambda m: _inputs_of(m.regressor),
                    kind="estimator", produces=(ir.Chain,), cases=CLIPPER_CASES)
def pred_clipper(m: preprocessing.PredClipper, columns, ctx):
    """`clamp(y, y_min, y_max)`: the identity when both bounds are infinite, else folded into a
    tree's mean leaves."""
    chain, est = member_ir(m.regressor, columns, ctx)
    if not (m.y_min == -math.inf and m.y_max == math.inf):
        est = _clamp_leaves(m, est)
    return (chain, est) if chain.steps else est


def _inputs_of(model: Any) -> dict:
    return extractor_for(model).inputs(model)


# ------------------------------------------------------------------------------ target scalers


def _affine_output(m: Any, est: EstimatorIR, scale: float, shift: float) -> EstimatorIR:
    """`y * scale + shift` on the wrapped regressor's output, folded into it: a tree's mean
    leaves computed as River computes them (exact), linear weights and intercepts scaled (a
    rounding apart from River's `(w·x + b) * scale + shift`)."""
    node = est.estimator
    if isinstance(node, ir.Linear) and node.link == "identity":
        weights = tuple(tuple(w * scale for w in row) for row in node.weights)
        intercepts = tuple(b * scale + shift for b in node.intercepts)
        return EstimatorIR(ir.Linear(node.columns, weights, intercepts, "identity"), "regression")
    if isinstance(node, TreeRegressor):
        means = tuple(v * scale + shift for v in node.means)
        weights = tuple(tuple(w * scale for w in row) for row in node.weights)
        intercepts = tuple(b * scale + shift for b in node.intercepts)
        return EstimatorIR(TreeRegressor(node.columns, node.tree, means, node.model, weights,
                                         intercepts), "regression")
    raise UnsupportedModelError(
        m, supported_models(),
        reason=f"River maps the {type(node).__name__}'s output by y * {scale!r} + {shift!r}; "
        "estuary folds that map into linear regressors and Hoeffding tree regressors only")


TARGET_STANDARD_CASES = (
    Case("target-standard(scaler|linreg)", "TrumpApproval", lambda: (
        preprocessing.TargetStandardScaler(_scaled_linreg()))),
    Case("target-standard(htr)", "TrumpApproval", lambda: preprocessing.TargetStandardScaler(
        tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5))),
)
TARGET_MIN_MAX_CASES = (Case("target-minmax(scaler|linreg)", "TrumpApproval", lambda: (
    preprocessing.TargetMinMaxScaler(_scaled_linreg()))),)


def _wrapped(m: Any, columns, ctx, scale: float, shift: float):
    chain, est = member_ir(m.regressor, columns, ctx)
    out = _affine_output(m, est, scale, shift)
    return (chain, out) if chain.steps else out


@register_extractor(preprocessing.TargetStandardScaler, inputs=lambda m: _inputs_of(m.regressor),
                    kind="estimator", produces=(ir.Chain,), cases=TARGET_STANDARD_CASES)
def target_standard_scaler(m: preprocessing.TargetStandardScaler, columns, ctx):
    """River's `_unscale`: `y * var ** 0.5 + mean` (population variance)."""
    require_learned(m.var.mean.n > 0, "TargetStandardScaler")
    return _wrapped(m, columns, ctx, m.var.get() ** 0.5, m.var.mean.get())


@register_extractor(preprocessing.TargetMinMaxScaler, inputs=lambda m: _inputs_of(m.regressor),
                    kind="estimator", produces=(ir.Chain,), cases=TARGET_MIN_MAX_CASES)
def target_min_max_scaler(m: preprocessing.TargetMinMaxScaler, columns, ctx):
    """River's `_unscale`: `y * (max - min) + min`."""
    require_learned(m.min.get() != math.inf, "TargetMinMaxScaler")
    return _wrapped(m, columns, ctx, m.max.get() - m.min.get(), m.min.get())


TARGET_TRANSFORM_REFUSAL = ("River applies inverse_func, an arbitrary Python function, to the "
                            "prediction; use preprocessing.TargetStandardScaler or "
                            "TargetMinMaxScaler, whose inverse is affine")


def _refused_target_transform(m: compose.TargetTransformRegressor) -> dict:
    """Refused before its keys are read: so is one nested in an ensemble (Learner admission)."""
    raise UnsupportedModelError(m, supported_models(), reason=TARGET_TRANSFORM_REFUSAL)


@register_extractor(compose.TargetTransformRegressor, inputs=_refused_target_transform,
                    kind="estimator", refusal=TARGET_TRANSFORM_REFUSAL, cases=(Case(
                        "target-transform(log, exp)", "TrumpApproval", lambda: (
                            compose.TargetTransformRegressor(
                                _scaled_linreg(), func=math.log, inverse_func=math.exp))),))
def target_transform_regressor(m: compose.TargetTransformRegressor, columns, ctx):
    raise UnsupportedModelError(m, supported_models(), reason=TARGET_TRANSFORM_REFUSAL)
