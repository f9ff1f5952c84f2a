"""Cross-check of estuary's own ONNX emitter: rebuild a fitted scikit-learn estimator from a River
model's state (attributes only: River is not imported here) and export it through skl2onnx.
Both ONNX artifacts must then agree on River's data.

Exact equivalents:
- `preprocessing.StandardScaler | linear_model.LogisticRegression` (binary) →
  `Pipeline(StandardScaler, LogisticRegression)` with mean_ / scale_ / coef_ / intercept_.
  River's zero-variance rule (output 0) differs from scikit-learn's (scale 1): refused when a
  variance is 0. River's sigmoid clamps |z| > 30; rows beyond that differ by < 1e-13.
- `naive_bayes.GaussianNB` → `GaussianNB` with theta_ / var_ (River's ddof) / class_prior_.
  River adds 1e-9 to each density before the log; scikit-learn does not: equal up to
  ~1e-9 / density per feature, i.e. on rows whose densities are not tiny.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from estuary.errors import UnsupportedModelError

SUPPORTED = ["river.compose.Pipeline(StandardScaler, LogisticRegression)",
             "river.naive_bayes.GaussianNB"]


def sklearn_equivalent(river_model: Any, features: list[str]) -> Any:
    """The fitted scikit-learn estimator that computes what `river_model` computes, with
    `features` as the input columns in order."""
    name = type(river_model).__name__
    if name == "GaussianNB":
        return _gaussian_nb(river_model, features)
    if name == "Pipeline":
        steps = list(river_model.steps.values())
        if [type(s).__name__ for s in steps] == ["StandardScaler", "LogisticRegression"]:
            return _scaled_logistic(steps[0], steps[1], features)
    raise UnsupportedModelError(river_model, SUPPORTED, "no exact scikit-learn equivalent")


def _scaled_logistic(scaler: Any, logistic: Any, features: list[str]) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    mean = np.array([float(scaler.means[f]) for f in features])
    var = np.array([float(scaler.vars[f]) for f in features])
    if (var <= 0).any():
        raise UnsupportedModelError(scaler, SUPPORTED, "a zero variance: River outputs 0, "
                                    "scikit-learn x - mean")
    sk_scaler = StandardScaler()
    sk_scaler.mean_, sk_scaler.var_, sk_scaler.scale_ = mean, var, np.sqrt(var)
    sk_scaler.n_features_in_, sk_scaler.n_samples_seen_ = len(features), 1
    sk_scaler.feature_names_in_ = np.array(features, dtype=object)  # rows keyed as in River
    lr = LogisticRegression()
    lr.coef_ = np.array([[float(logistic._weights.get(f, 0.0)) for f in features]])
    lr.intercept_ = np.array([float(logistic.intercept)])
    lr.classes_ = np.array([False, True])
    lr.n_features_in_ = len(features)
    return Pipeline([("scale", sk_scaler), ("logistic", lr)])


def _gaussian_nb(model: Any, features: list[str]) -> Any:
    from sklearn.naive_bayes import GaussianNB

    classes = sorted(model.class_counts)
    theta = np.zeros((len(classes), len(features)))
    var = np.zeros_like(theta)
    for i, c in enumerate(classes):
        for j, f in enumerate(features):
            g = model.gaussians[c][f]._var
            n = g.mean.n
            theta[i, j] = g.mean.get()
            var[i, j] = g._S / (n - g.ddof) if n > g.ddof else 0.0
    if (var <= 0).any():
        raise UnsupportedModelError(model, SUPPORTED, "a zero variance (River's density is 0)")
    total = sum(model.class_counts.values())
    nb = GaussianNB()
    nb.classes_ = np.array(classes)
    nb.theta_, nb.var_ = theta, var
    nb.class_prior_ = np.array([model.class_counts[c] / total for c in classes])
    nb.class_count_ = np.array([float(model.class_counts[c]) for c in classes])
    nb.epsilon_ = 0.0
    nb.n_features_in_ = len(features)
    nb.feature_names_in_ = np.array(features, dtype=object)  # rows keyed as in River
    return nb
