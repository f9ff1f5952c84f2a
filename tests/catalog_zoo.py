"""The rest of the common River zoo (scalers, ALMA, discrete naive Bayes, the other Hoeffding
trees, ARF and bagging ensembles), as carried by their extractors."""

from __future__ import annotations

from catalog import carried_by
from river import ensemble, forest, linear_model, naive_bayes, preprocessing, tree

CASES = carried_by(preprocessing.MinMaxScaler, preprocessing.MaxAbsScaler,
                   linear_model.ALMAClassifier, naive_bayes.BernoulliNB,
                   tree.ExtremelyFastDecisionTreeClassifier, tree.HoeffdingAdaptiveTreeClassifier,
                   forest.ARFClassifier, forest.ARFRegressor, ensemble.BaggingClassifier,
                   ensemble.BaggingRegressor)
