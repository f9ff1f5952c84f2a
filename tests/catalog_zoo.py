"""The rest of the common River zoo for the shared parity suite: (case id, dataset, factory).

Scalers, ALMA, discrete naive Bayes, the other Hoeffding trees, ARF and bagging ensembles,
ordinal encoding. Sizes are kept small enough that the whole zoo stays well under two minutes.
"""

from __future__ import annotations

from river import ensemble, forest, linear_model, naive_bayes, preprocessing, tree

GROW = {"grace_period": 20, "delta": 0.5, "tau": 0.5}

CASES = [
    ("minmax|logreg", "Phishing",
     lambda: preprocessing.MinMaxScaler() | linear_model.LogisticRegression()),
    ("maxabs|linreg", "TrumpApproval",
     lambda: preprocessing.MaxAbsScaler() | linear_model.LinearRegression()),
    ("alma", "Phishing", lambda: linear_model.ALMAClassifier()),
    ("minmax|alma", "Phishing",
     lambda: preprocessing.MinMaxScaler() | linear_model.ALMAClassifier()),
    ("bernoulli-nb", "Phishing", lambda: naive_bayes.BernoulliNB()),
    ("scaler|bernoulli-nb", "ImageSegments",
     lambda: preprocessing.StandardScaler() | naive_bayes.BernoulliNB(alpha=0.5)),
    ("efdt_nba_phishing", "Phishing",
     lambda: tree.ExtremelyFastDecisionTreeClassifier(leaf_prediction="nba", **GROW)),
    ("hat_nba_phishing", "Phishing",
     lambda: tree.HoeffdingAdaptiveTreeClassifier(leaf_prediction="nba", seed=1, **GROW)),
    ("arf10_phishing", "Phishing", lambda: forest.ARFClassifier(n_models=10, seed=1)),
    ("arf_reg5_median", "TrumpApproval", lambda: forest.ARFRegressor(n_models=5, seed=1)),
    ("arf_reg4_weighted_mean", "TrumpApproval",
     lambda: forest.ARFRegressor(n_models=4, seed=1, aggregation_method="mean",
                                 disable_weighted_vote=False)),
    ("bagging3(htc)", "Phishing",
     lambda: ensemble.BaggingClassifier(tree.HoeffdingTreeClassifier(**GROW), n_models=3, seed=1)),
    ("bagging3(scaler|logreg)", "Phishing",
     lambda: ensemble.BaggingClassifier(
         preprocessing.StandardScaler() | linear_model.LogisticRegression(), n_models=3, seed=1)),
    ("bagging3-reg(scaler|linreg)", "TrumpApproval",
     lambda: ensemble.BaggingRegressor(
         preprocessing.StandardScaler() | linear_model.LinearRegression(), n_models=3, seed=1)),
]
