"""What estuary needs to know about a fitted scikit-learn estimator or pipeline.

`describe(model)` returns a `SklearnModel`: the input schema (DataFrame columns or x0..xn; a
column one-hot encoded by a `OneHotEncoder` inside a `ColumnTransformer` becomes a categorical
feature, i.e. one input column per category, as the artifact contract wants), the task, the
classes, and `flat`: a fitted estimator equivalent to the original that takes the artifact's
float matrix (the `OneHotEncoder` replaced by a passthrough of its one-hot columns). The
converters see only `flat`; it is checked against the original on the sample before use.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EstuaryError, UnsupportedModelError
from ..ir import Feature, FeatureSchema

# Estimators and steps estuary has proven through each converter (tests/test_sklearn.py);
# anything else is refused rather than converted on trust.
ESTIMATORS = {
    "LogisticRegression", "LinearRegression", "Ridge", "DecisionTreeClassifier",
    "DecisionTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
    "GradientBoostingClassifier", "GradientBoostingRegressor", "GaussianNB",
}
TRANSFORMERS = {"StandardScaler", "OneHotEncoder (in a ColumnTransformer)", "ColumnTransformer",
                "Pipeline"}
TREES = {"DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier",
         "RandomForestRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor"}


# Per format: what does not pass parity through that converter, and why (measured).
REFUSED = {
    "pmml": {
        "GaussianNB": "PMML NaiveBayesModel multiplies densities instead of adding log "
                      "densities: rows far from every class underflow to 0/0 (NaN) in "
                      "JPMML-Evaluator where scikit-learn still predicts",
    },
    "coreml": {
        "GaussianNB": "coremltools has no GaussianNB converter",
        "ColumnTransformer": "coremltools has no ColumnTransformer converter",
        "GradientBoostingRegressor": "coremltools' converter fails on it (it reads the fitted "
                                     "init_.constant_, an array, as a number): use ONNX or PMML",
    },
}


def supported(fmt: str | None = None) -> list[str]:
    refused = set(REFUSED.get(fmt, {})) if fmt else set()
    return [f"sklearn {n}" for n in sorted((ESTIMATORS | TRANSFORMERS) - refused)]


def refuse_unsupported(sk: SklearnModel, fmt: str) -> None:
    """UnsupportedModelError if a step of `sk` is known not to convert exactly to `fmt`."""
    steps = sk.original.steps if hasattr(sk.original, "steps") else [("model", sk.original)]
    for _, step in steps:
        reason = REFUSED.get(fmt, {}).get(type(step).__name__)
        if reason:
            raise UnsupportedModelError(step, supported(fmt), f"to {fmt}: {reason}")


def is_sklearn_model(obj: Any) -> bool:
    """Duck typing, so that estuary never imports scikit-learn unless it is handed a model."""
    module = type(obj).__module__ or ""
    return module.split(".")[0] in ("sklearn", "sklearn2pmml") and hasattr(obj, "get_params")


@dataclass(frozen=True)
class SklearnModel:
    original: Any
    flat: Any  # fitted, takes the artifact's float matrix [N, len(schema.columns)]
    schema: FeatureSchema
    task: str
    classes: tuple
    raw_columns: tuple  # the columns the original takes, in order
    dataframe: bool  # the original was fitted on a DataFrame (feature_names_in_)
    final: Any  # the last estimator

    @property
    def final_name(self) -> str:
        return type(self.final).__name__

    @property
    def is_tree(self) -> bool:
        return self.final_name in TREES

    def raw_input(self, rows: Sequence[Mapping]) -> Any:
        """Dict rows → what the original takes: a DataFrame or a float matrix; absent → NaN."""
        if self.dataframe:
            import pandas as pd

            data = {c: [r.get(c, None) for r in rows] for c in self.raw_columns}
            frame = pd.DataFrame(data, columns=list(self.raw_columns))
            for f in self.schema.features:
                if f.kind == "numeric":
                    frame[f.name] = pd.to_numeric(frame[f.name], errors="raise").astype(float)
            return frame
        return np.array([[_number(r.get(c)) for c in self.raw_columns] for r in rows],
                        dtype=np.float64).reshape(len(rows), len(self.raw_columns))

    def reference(self, X: Any) -> tuple[np.ndarray, list]:
        """scikit-learn's own outputs: probabilities [N, C] + labels, or values [N, 1]."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.task == "classification":
                return (np.asarray(self.original.predict_proba(X), dtype=np.float64),
                        [_plain(v) for v in self.original.predict(X)])
            values = np.asarray(self.original.predict(X), dtype=np.float64).reshape(-1, 1)
            return values, [None] * len(values)


def _number(v: Any) -> float:
    return np.nan if v is None else float(v)


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _final(model: Any) -> Any:
    return model.steps[-1][1] if type(model).__name__ in ("Pipeline", "PMMLPipeline") else model


def _check_supported(model: Any) -> None:
    steps = model.steps if hasattr(model, "steps") else [("model", model)]
    for _, step in steps:
        name = type(step).__name__
        if step in (None, "passthrough"):
            continue
        if name == "ColumnTransformer":
            for _, trans, _ in step.transformers_:
                tname = type(trans).__name__
                if trans in ("drop", "passthrough") or tname in ("StandardScaler", "OneHotEncoder"):
                    continue
                raise UnsupportedModelError(trans, supported(), "inside a ColumnTransformer")
        elif name not in ESTIMATORS | {"StandardScaler"}:
            reason = ("wrap the OneHotEncoder in a ColumnTransformer" if name == "OneHotEncoder"
                      else None)
            raise UnsupportedModelError(step, supported(), reason)
    if type(_final(model)).__name__ not in ESTIMATORS:
        raise UnsupportedModelError(_final(model), supported(), "the last step must be a model")


def describe(model: Any) -> SklearnModel:
    """Inspect a fitted estimator; refuse what estuary has not proven (UnsupportedModelError)."""
    from sklearn.base import is_classifier
    from sklearn.utils.validation import check_is_fitted

    _check_supported(model)
    final = _final(model)
    try:
        check_is_fitted(final)
    except Exception as e:
        raise EstuaryError(f"{type(final).__name__} is not fitted: call fit before export") from e
    names = getattr(model, "feature_names_in_", None)
    n_in = int(model.n_features_in_)
    raw = tuple(str(c) for c in names) if names is not None else tuple(f"x{i}" for i in range(n_in))
    task = "classification" if is_classifier(model) else "regression"
    classes = tuple(_plain(c) for c in final.classes_) if task == "classification" else ()
    steps = getattr(model, "steps", None)
    ct = steps[0][1] if steps and type(steps[0][1]).__name__ == "ColumnTransformer" else None
    if ct is None:
        schema = FeatureSchema(tuple(Feature(c, c) for c in raw))
        flat = model
    else:
        schema, flat_ct = _flatten_columns(ct, raw)
        flat = _pipeline([("columns", flat_ct)] + list(steps[1:]))
    return SklearnModel(model, flat, schema, task, classes, raw, names is not None, final)


def _pipeline(steps: list) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline(steps)


def _column_names(ct: Any, spec: Any, raw: tuple) -> list[str]:
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, slice) or callable(spec):
        raise UnsupportedModelError("ColumnTransformer column selector", supported(),
                                    "select columns by name or index list")
    out = []
    for s in np.asarray(spec).tolist():
        if isinstance(s, bool):
            raise UnsupportedModelError("ColumnTransformer boolean mask", supported())
        out.append(raw[s] if isinstance(s, int) else str(s))
    return out


def _flatten_columns(ct: Any, raw: tuple) -> tuple[FeatureSchema, Any]:
    """Schema with one-hot features expanded, and an equivalent fitted ColumnTransformer that
    takes the expanded float matrix (integer column indices; OneHotEncoder → passthrough)."""
    from sklearn.compose import ColumnTransformer

    categories: dict[str, tuple] = {}
    used: list[str] = []
    for _, trans, spec in ct.transformers_:
        cols = _column_names(ct, spec, raw)
        used += cols
        if type(trans).__name__ == "OneHotEncoder":
            if trans.drop is not None or getattr(trans, "max_categories", None) is not None \
                    or getattr(trans, "min_frequency", None) is not None:
                raise UnsupportedModelError(trans, supported(),
                                            "drop / infrequent categories: use the defaults")
            for c, cats in zip(cols, trans.categories_):
                if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in cats):
                    raise UnsupportedModelError(trans, supported(), "a missing-value category")
                categories[c] = tuple(_plain(v) for v in cats)
    if len(set(used)) != len(used):
        raise UnsupportedModelError("ColumnTransformer", supported(),
                                    "a column used by two transformers")
    features = tuple(Feature(c, c, "categorical", categories[c]) if c in categories
                     else Feature(c, c) for c in raw)
    schema = FeatureSchema(features)
    start, positions = 0, {}
    for f in features:
        positions[f.name] = list(range(start, start + len(f.columns)))
        start += len(f.columns)
    fitted, unfitted = [], []
    for name, trans, spec in ct.transformers_:
        if trans == "drop":
            continue
        idx = [i for c in _column_names(ct, spec, raw) for i in positions[c]]
        if not idx:
            continue
        if type(trans).__name__ == "OneHotEncoder":
            trans = "passthrough"
        fitted.append((name, trans, idx))
        unfitted.append((name, "passthrough" if trans == "passthrough" else copy.deepcopy(trans),
                         idx))
    flat = ColumnTransformer(unfitted, remainder="drop", sparse_threshold=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat.fit(np.ones((2, start)))
    made = {name: t for name, t, _ in flat.transformers_}  # passthrough: its FunctionTransformer
    flat.transformers_ = [(name, made[name] if trans == "passthrough" else trans, idx)
                          for name, trans, idx in fitted] + [
        e for e in flat.transformers_ if e[0] == "remainder"]
    return schema, flat
