"""River linear models (and one-vs-rest over them) → IR Linear.

River's dot product runs over the keys present in x; a weight for a key not in the columns can
never be reached, and a column without a weight contributes 0.
"""

from __future__ import annotations

from river import compose, linear_model, multiclass, optim, preprocessing

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.probit import Probit
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import (
    ENCODE_CLOSED,
    PHISHING_KEYS,
    EstimatorIR,
    key_name,
    numeric_inputs,
    plain,
    require_closed,
    require_encoded,
    require_learned,
)


def weight_row(weights: dict, columns: tuple[str, ...]) -> tuple[float, ...]:
    named = {key_name(k): float(v) for k, v in weights.items()}
    return tuple(named.get(c, 0.0) for c in columns)


def _glm_inputs(m) -> dict:
    return numeric_inputs(m._weights)


def _pa_inputs(m) -> dict:
    return numeric_inputs(m.weights)


def _check_loss(m, allowed: tuple[type, ...]) -> None:
    if not isinstance(m.loss, allowed):
        raise UnsupportedModelError(
            m, supported_models(),
            reason=f"loss {type(m.loss).__name__} has a link estuary does not export",
        )


def _glm_learned(m) -> None:
    require_learned(bool(m._weights) or m.intercept != m.intercept_init, type(m).__name__)



CLASSIFIER_CASES = (
    Case("scaler|logreg", "Phishing",
         lambda: preprocessing.StandardScaler() | linear_model.LogisticRegression()),
    Case("logreg", "Phishing", lambda: linear_model.LogisticRegression(optimizer=optim.SGD(0.05))),
)
PA_CLASSIFIER_CASES = (Case("scaler|pa-clf", "Phishing",
                            lambda: preprocessing.StandardScaler() | linear_model.PAClassifier()),)
PERCEPTRON_CASES = (Case("scaler|perceptron", "Bananas",
                         lambda: preprocessing.StandardScaler() | linear_model.Perceptron()),)
SOFTMAX_CASES = (Case("scaler|softmax", "ImageSegments",
                      lambda: preprocessing.StandardScaler() | linear_model.SoftmaxRegression()),)
OVR_CASES = (
    Case("scaler|ovr-logreg", "ImageSegments", lambda: preprocessing.StandardScaler()
         | multiclass.OneVsRestClassifier(linear_model.LogisticRegression())),
    Case("scaler|ovr-pa", "ImageSegments", lambda: preprocessing.StandardScaler()
         | multiclass.OneVsRestClassifier(linear_model.PAClassifier())),
)
REGRESSION_CASES = (Case("scaler|linreg", "TrumpApproval",
                         lambda: preprocessing.StandardScaler() | linear_model.LinearRegression()),)
PA_REGRESSOR_CASES = (Case("scaler|pa-reg", "TrumpApproval",
                           lambda: preprocessing.StandardScaler() | linear_model.PARegressor()),)
ALMA_CASES = (
    Case("alma", "Phishing", lambda: linear_model.ALMAClassifier()),
    Case("minmax|alma", "Phishing",
         lambda: preprocessing.MinMaxScaler() | linear_model.ALMAClassifier()),
)


@register_extractor(linear_model.LinearRegression, inputs=_glm_inputs, kind="estimator",
                    produces=(ir.Linear,), cases=REGRESSION_CASES)
def linear_regression(m: linear_model.LinearRegression, columns, ctx) -> EstimatorIR:
    _check_loss(m, (optim.losses.RegressionLoss,))
    if isinstance(m.loss, optim.losses.Poisson):
        raise UnsupportedModelError(m, supported_models(), reason="the Poisson loss's exp link")
    _glm_learned(m)
    est = ir.Linear(columns, (weight_row(m._weights, columns),), (float(m.intercept),), "identity")
    return EstimatorIR(est, "regression")


def _binary(m, weights: dict, intercept: float, columns) -> EstimatorIR:
    est = ir.Linear(columns, (weight_row(weights, columns),), (float(intercept),), "sigmoid")
    return EstimatorIR(est, "classification", (False, True))


@register_extractor(linear_model.LogisticRegression, inputs=_glm_inputs, kind="estimator",
                    produces=(ir.Linear,), cases=CLASSIFIER_CASES)
def logistic_regression(m: linear_model.LogisticRegression, columns, ctx) -> EstimatorIR:
    _check_loss(m, (optim.losses.BinaryLoss,))
    _glm_learned(m)
    return _binary(m, m._weights, m.intercept, columns)


@register_extractor(linear_model.Perceptron, inputs=_glm_inputs, kind="estimator",
                    produces=(ir.Linear,), cases=PERCEPTRON_CASES)
def perceptron(m: linear_model.Perceptron, columns, ctx) -> EstimatorIR:
    _glm_learned(m)
    return _binary(m, m._weights, m.intercept, columns)


@register_extractor(linear_model.PARegressor, inputs=_pa_inputs, kind="estimator",
                    produces=(ir.Linear,), cases=PA_REGRESSOR_CASES)
def pa_regressor(m: linear_model.PARegressor, columns, ctx) -> EstimatorIR:
    require_learned(bool(m.weights) or m.intercept != 0.0, "PARegressor")
    est = ir.Linear(columns, (weight_row(m.weights, columns),), (float(m.intercept),), "identity")
    return EstimatorIR(est, "regression")


BAYESIAN_REGRESSION_CASES = (
    Case("scaler|bayes-linreg", "TrumpApproval",
         lambda: preprocessing.StandardScaler() | linear_model.BayesianLinearRegression()),
    Case("bayes-linreg-smoothing", "ChickWeights",
         lambda: linear_model.BayesianLinearRegression(alpha=0.5, beta=2.0, smoothing=0.8)),
)


def _posterior_mean(m: linear_model.BayesianLinearRegression) -> dict:
    """River's posterior mean per key: `_ss_inv_arr @ _eta_arr`, the value `predict_one` caches
    in `_m_arr` (read, not refreshed: the model is not touched)."""
    mean = m._ss_inv_arr @ m._eta_arr if m._m_dirty else m._m_arr
    return {key: float(mean[i]) for key, i in m._idx.items()}


@register_extractor(linear_model.BayesianLinearRegression, kind="estimator",
                    inputs=lambda m: numeric_inputs(m._idx), produces=(ir.Linear,),
                    cases=BAYESIAN_REGRESSION_CASES)
def bayesian_linear_regression(m: linear_model.BayesianLinearRegression, columns,
                               ctx) -> EstimatorIR:
    """`predict_one(x)` (with_dist=False): Σ over the keys of x of mean[key] · x[key], no
    intercept. The predictive distribution (`with_dist=True`) is not exported."""
    require_learned(bool(m._idx), "BayesianLinearRegression")
    est = ir.Linear(columns, (weight_row(_posterior_mean(m), columns),), (0.0,), "identity")
    return EstimatorIR(est, "regression")


@register_extractor(linear_model.PAClassifier, inputs=_pa_inputs, kind="estimator",
                    produces=(ir.Linear,), cases=PA_CLASSIFIER_CASES)
def pa_classifier(m: linear_model.PAClassifier, columns, ctx) -> EstimatorIR:
    require_learned(bool(m.weights) or m.intercept != 0.0, "PAClassifier")
    return _binary(m, m.weights, m.intercept, columns)


def _softmax_inputs(m) -> dict:
    keys: dict = {}
    for w in m.weights.values():
        keys.update(numeric_inputs(w))
    return keys


@register_extractor(linear_model.SoftmaxRegression, inputs=_softmax_inputs, kind="estimator",
                    produces=(ir.Linear,), cases=SOFTMAX_CASES)
def softmax_regression(m: linear_model.SoftmaxRegression, columns, ctx) -> EstimatorIR:
    """No intercept; classes in the order River's weight dict holds them."""
    require_learned(len(m.weights) >= 2, "SoftmaxRegression (it needs two classes)")
    classes = tuple(plain(c) for c in m.weights)
    rows = tuple(weight_row(m.weights[c], columns) for c in m.weights)
    est = ir.Linear(columns, rows, tuple(0.0 for _ in rows), "softmax")
    return EstimatorIR(est, "classification", classes)


def _ovr_inputs(m: multiclass.OneVsRestClassifier) -> dict:
    keys: dict = {}
    for clf in [m.classifier, *m.classifiers.values()]:
        keys.update(extractor_for(clf).inputs(clf))
    return keys


@register_extractor(multiclass.OneVsRestClassifier, inputs=_ovr_inputs, kind="estimator",
                    produces=(ir.Linear,), cases=OVR_CASES)
def one_vs_rest(m: multiclass.OneVsRestClassifier, columns, ctx) -> EstimatorIR:
    """Per-class sigmoid of a binary linear classifier, normalised by the sum."""
    require_learned(len(m.classifiers) >= 2, "OneVsRestClassifier (it needs two classes)")
    rows, intercepts = [], []
    for clf in m.classifiers.values():
        inner = extractor_for(clf).extract(clf, columns, ctx)
        if not (isinstance(inner.estimator, ir.Linear) and inner.estimator.link == "sigmoid"):
            raise UnsupportedModelError(
                clf, supported_models(),
                reason="one-vs-rest is exported over linear classifiers: over others River "
                "falls back to uniform probabilities when every P(True) is 0, which the "
                "ensemble vote (a zero total left as is) does not do")
        rows.append(inner.estimator.weights[0])
        intercepts.append(inner.estimator.intercepts[0])
    classes = tuple(plain(c) for c in m.classifiers)
    est = ir.Linear(columns, tuple(rows), tuple(intercepts), "ovr_sigmoid")
    return EstimatorIR(est, "classification", classes)


@register_extractor(linear_model.ALMAClassifier, inputs=lambda m: numeric_inputs(m.w),
                    kind="estimator", produces=(ir.Linear,), cases=ALMA_CASES)
def alma_classifier(m: linear_model.ALMAClassifier, columns, ctx) -> EstimatorIR:
    """`predict_proba_one` is River's clamped sigmoid of `dot(x, w)`: no intercept."""
    require_learned(bool(m.w), "ALMAClassifier")
    return _binary(m, m.w, 0.0, columns)


AD_PREDICTOR_BIAS = "__bias__"  # river.linear_model.ad_predictor._BIAS_KEY
AD_PREDICTOR_CASES = (
    Case("select|ad-predictor", "Phishing", lambda: compose.Select(*PHISHING_KEYS)
        | linear_model.AdPredictor()),
    Case("union(select|ordinal,select)|ad-predictor", "ChickWeights", lambda: (
        (compose.Select("diet") | preprocessing.OrdinalEncoder()) + compose.Select("time"))
        | linear_model.AdPredictor(beta=0.3, epsilon=0.0)),
)


def _ad_inputs(m: linear_model.AdPredictor) -> dict:
    return numeric_inputs(k for k in m.means if k != AD_PREDICTOR_BIAS)


@register_extractor(linear_model.AdPredictor, inputs=_ad_inputs, kind="estimator",
                    produces=(Probit,), cases=AD_PREDICTOR_CASES)
def ad_predictor(m: linear_model.AdPredictor, columns, ctx) -> EstimatorIR:
    """River's `predict_proba_one`: a key is active when its value is truthy; an active key
    River never learned adds mean 0 and variance 1, so the row must reach it closed (a
    `compose.Select` in front) for every such key to be a column here."""
    require_learned(AD_PREDICTOR_BIAS in m.means, "AdPredictor")
    require_closed(m, ctx, "River adds variance 1.0 for every active key it never learned, "
                   "also keys an artifact cannot see")
    require_encoded(m, columns, ctx, ", whose key River activates as a whole", ENCODE_CLOSED)
    means = {key_name(k): float(v) for k, v in m.means.items()}
    variances = {key_name(k): float(v) for k, v in m.variances.items()}
    probit = Probit(columns, tuple(means.get(c, 0.0) for c in columns),
                    tuple(variances.get(c, 1.0) for c in columns),
                    bias_mean=means[AD_PREDICTOR_BIAS],
                    base_variance=variances[AD_PREDICTOR_BIAS] + m.beta ** 2)
    return EstimatorIR(probit, "classification", (False, True))
