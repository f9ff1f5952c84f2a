"""Every River model the suite exports: (case id, bundled dataset, factory).

Other families add their cases in catalog_<family>.py; this module gathers them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from river import compose, linear_model, multiclass, optim, preprocessing

Case = tuple[str, str, Callable[[], object]]


def chick_union(model_factory: Callable[[], object]) -> Callable[[], object]:
    return lambda: ((compose.Select("time") | preprocessing.StandardScaler())
                    + (compose.Select("diet") | preprocessing.OneHotEncoder())) | model_factory()


LINEAR_CASES: list[Case] = [
    ("scaler|logreg", "Phishing", lambda: preprocessing.StandardScaler() | linear_model.LogisticRegression()),
    ("logreg", "Phishing", lambda: linear_model.LogisticRegression(optimizer=optim.SGD(0.05))),
    ("scaler|pa-clf", "Phishing", lambda: preprocessing.StandardScaler() | linear_model.PAClassifier()),
    ("scaler|perceptron", "Bananas", lambda: preprocessing.StandardScaler() | linear_model.Perceptron()),
    ("scaler|softmax", "ImageSegments", lambda: preprocessing.StandardScaler() | linear_model.SoftmaxRegression()),
    ("scaler|ovr-logreg", "ImageSegments",
     lambda: preprocessing.StandardScaler() | multiclass.OneVsRestClassifier(linear_model.LogisticRegression())),
    ("scaler|ovr-pa", "ImageSegments",
     lambda: preprocessing.StandardScaler() | multiclass.OneVsRestClassifier(linear_model.PAClassifier())),
    ("scaler|linreg", "TrumpApproval", lambda: preprocessing.StandardScaler() | linear_model.LinearRegression()),
    ("scaler|pa-reg", "TrumpApproval", lambda: preprocessing.StandardScaler() | linear_model.PARegressor()),
    ("discard|scaler|linreg", "TrumpApproval",
     lambda: compose.Discard("ordinal_date") | preprocessing.StandardScaler() | linear_model.LinearRegression()),
    ("union(scaler,onehot)|linreg", "ChickWeights", chick_union(linear_model.LinearRegression)),
    ("union(scaler,onehot)|scaler|pa-reg", "ChickWeights",
     lambda: chick_union(preprocessing.StandardScaler)() | linear_model.PARegressor()),
]


def all_cases() -> list[Case]:
    cases = list(LINEAR_CASES)
    for name in ("catalog_nb", "catalog_trees", "catalog_zoo", "catalog_features"):
        try:
            cases += importlib.import_module(name).CASES
        except ModuleNotFoundError:
            pass
    return cases
