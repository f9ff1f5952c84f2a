"""Hoeffding-tree cases for the shared parity suite: (case id, bundled dataset, model factory).

Small grace periods and a loose delta / tie threshold grow real trees (tens to hundreds of
nodes) on the bundled datasets.
"""

from __future__ import annotations

from river import preprocessing, tree

GROW = {"grace_period": 20, "delta": 0.5, "tau": 0.5}


def _htc(leaf_prediction: str, **kw):
    return lambda: tree.HoeffdingTreeClassifier(leaf_prediction=leaf_prediction, **{**GROW, **kw})


def _htr(leaf_prediction: str, **kw):
    return lambda: tree.HoeffdingTreeRegressor(leaf_prediction=leaf_prediction, **{**GROW, **kw})


CASES = [
    ("htc_mc_phishing", "Phishing", _htc("mc")),
    ("htc_nb_phishing", "Phishing", _htc("nb")),
    ("htc_nba_phishing", "Phishing", _htc("nba")),
    ("htc_mc_imagesegments", "ImageSegments", _htc("mc")),
    ("htc_nb_imagesegments", "ImageSegments", _htc("nb")),
    ("htc_nba_imagesegments", "ImageSegments", _htc("nba")),
    ("htc_nba_bananas", "Bananas", _htc("nba", grace_period=10)),
    ("scaler_htc_nba_bananas", "Bananas",
     lambda: preprocessing.StandardScaler() | _htc("nba")()),
    ("htr_mean_trumpapproval", "TrumpApproval", _htr("mean")),
    ("htr_adaptive_trumpapproval", "TrumpApproval", _htr("adaptive")),
    ("scaler_htr_adaptive_trumpapproval", "TrumpApproval",
     lambda: preprocessing.StandardScaler() | _htr("adaptive")()),
    # unscaled, River's linear leaves diverge to ~1e21 on TrumpApproval: parity is relative there
    ("htr_model_trumpapproval", "TrumpApproval", _htr("model")),
    ("scaler_htr_model_trumpapproval", "TrumpApproval",
     lambda: preprocessing.StandardScaler() | _htr("model")()),
    # diet (1..4) learned as a nominal feature: multiway and binary nominal splits
    ("htr_mean_chickweights_nominal_diet", "ChickWeights",
     _htr("mean", grace_period=10, nominal_attributes=["diet"])),
]
