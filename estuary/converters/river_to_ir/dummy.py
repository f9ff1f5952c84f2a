"""River `dummy` baselines → a one-leaf tree holding River's constant prediction.

They ignore x: `PriorClassifier` answers the class frequencies, `NoChangeClassifier` 1 for the last
class seen (0 for the others), `StatisticRegressor` its statistic's `get()`. The artifact still
takes the schema's inputs (the keys a step in front knows; none for a bare dummy) and reads none.
"""

from __future__ import annotations

from river import dummy, preprocessing, stats

from ...errors import EmptyModelError, UnsupportedModelError
from ...ir.trees import TreeClassifier, TreeRegressor, TreeStructure
from ..registry import Case, register_extractor, supported_models
from .base import EstimatorIR, canonical_order, plain, require_learned

ONE_LEAF = TreeStructure(feature=(0,), threshold=(0.0,), left=(0,), right=(0,),
                         missing_left=(False,), leaf=(0,), onehot=(False,))


def _reads_something(m, columns) -> None:
    if not columns:
        raise UnsupportedModelError(
            m, supported_models(),
            reason="it reads no key, so the artifact would have no input column (PMML and TF.js "
            "cannot take none); put a step that knows the keys in front, e.g. "
            "preprocessing.StandardScaler() | dummy." + type(m).__name__ + "()")


def constant_classifier(m, probabilities: dict, columns) -> EstimatorIR:
    """River's probability dict, in its order (its `predict_one` takes the first maximum)."""
    _reads_something(m, columns)
    if len(probabilities) < 2:
        raise EmptyModelError(f"{type(m).__name__} has seen {len(probabilities)} class(es): a "
                              "classifier needs two classes to export; learn more data first")
    classes = tuple(probabilities)
    est = TreeClassifier(tuple(columns[:1]), ONE_LEAF,
                         (tuple(float(probabilities[c]) for c in classes),), (False,))
    return EstimatorIR(est, "classification", tuple(plain(c) for c in classes))


def constant_regressor(value: float, columns) -> EstimatorIR:
    return EstimatorIR(TreeRegressor(tuple(columns[:1]), ONE_LEAF, (float(value),), (False,)),
                       "regression")


PRIOR_CASES = (
    Case("scaler|prior-clf", "Phishing",
         lambda: preprocessing.StandardScaler() | dummy.PriorClassifier()),
    Case("scaler|prior-clf-multiclass", "ImageSegments",
         lambda: preprocessing.StandardScaler() | dummy.PriorClassifier()),
)
NO_CHANGE_CASES = (Case("scaler|no-change-clf", "ImageSegments",
                        lambda: preprocessing.StandardScaler() | dummy.NoChangeClassifier()),)
STATISTIC_CASES = (
    Case("scaler|statistic-reg-mean", "TrumpApproval",
         lambda: preprocessing.StandardScaler() | dummy.StatisticRegressor(stats.Mean())),
    Case("scaler|statistic-reg-quantile", "ChickWeights", lambda: (
        preprocessing.StandardScaler() | dummy.StatisticRegressor(stats.Quantile(0.9)))),
)


@register_extractor(dummy.PriorClassifier, inputs=lambda m: {}, kind="estimator",
                    produces=(TreeClassifier,), cases=PRIOR_CASES)
def prior_classifier(m: dummy.PriorClassifier, columns, ctx) -> EstimatorIR:
    """`{label: count / n}` in `counts` order."""
    require_learned(m.n > 0, "PriorClassifier")
    return constant_classifier(m, m.predict_proba_one({}), columns)


@register_extractor(dummy.NoChangeClassifier, inputs=lambda m: {}, kind="estimator",
                    produces=(TreeClassifier,), cases=NO_CHANGE_CASES)
def no_change_classifier(m: dummy.NoChangeClassifier, columns, ctx) -> EstimatorIR:
    """`{c: 0.0 for c in classes}`, then 1 for the last class: one maximum, so River's label
    does not depend on the `classes` set's order (hash order for str), and the classes go in
    `canonical_order`: equal states freeze alike in every process."""
    require_learned(m.last_class is not None, "NoChangeClassifier")
    proba = m.predict_proba_one({})
    return constant_classifier(m, {c: proba[c] for c in canonical_order(proba)}, columns)


@register_extractor(dummy.StatisticRegressor, inputs=lambda m: {}, kind="estimator",
                    produces=(TreeRegressor,), cases=STATISTIC_CASES)
def statistic_regressor(m: dummy.StatisticRegressor, columns, ctx) -> EstimatorIR:
    value = m.predict_one({})
    if value is None:
        raise EmptyModelError("StatisticRegressor has learned nothing: call learn_one on some "
                              "data before export")
    if not isinstance(value, int | float):
        raise UnsupportedModelError(m, supported_models(),
                                    reason=f"its statistic gives {type(value).__name__}, not a number")
    _reads_something(m, columns)
    return constant_regressor(value, columns)
