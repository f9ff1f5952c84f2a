"""Specifics of the River zoo beyond the shared suite: ARF weighting, refusals, River quirks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import learned
from river import forest, linear_model, naive_bayes, preprocessing

import estuary
from estuary import ir
from estuary.converters.river_to_ir import to_ir
from estuary.ir.ensembles import EnsembleClassifier, EnsembleRegressor
from estuary.rows import RowEncoder
from estuary.support import support


def test_arf_weights_are_the_member_metrics():
    model, rows = learned("arf10_phishing")
    est = to_ir(model).estimator
    assert isinstance(est, EnsembleClassifier) and len(est.members) == 10
    metrics = [m.get() for m in model._metrics]
    assert list(est.weights) == [v if v > 0 else 1.0 for v in metrics]
    assert len(set(est.weights)) > 1  # really weighted: the check below means something


def test_arf_unweighted_vote_matches_river(tmp_path):
    model = forest.ARFClassifier(n_models=3, seed=2, disable_weighted_vote=True)
    _, rows = learned("arf10_phishing")
    from conftest import dataset_rows

    for x, y in dataset_rows("Phishing")[:400]:
        model.learn_one(dict(x), y)
    assert to_ir(model).estimator.weights == (1.0, 1.0, 1.0)
    report = estuary.verify(model, estuary.export(model, tmp_path / "m.onnx", sample=rows[:20]).path,
                            rows[:300])
    assert report.passed, report.to_text()


def test_arf_regressor_mean_weights_follow_river():
    model, rows = learned("arf_reg4_weighted_mean")
    est = to_ir(model).estimator
    assert isinstance(est, EnsembleRegressor) and est.combine == "mean" and est.divisor == 4
    w = np.array([m.get() for m in model._metrics])
    expected = (w.sum() - w) / (w.sum() - w).sum()
    assert np.array_equal(np.asarray(est.weights), expected)
    # River divides the weighted average by n_models once more; the IR keeps that arithmetic
    X = RowEncoder(to_ir(model).schema).encode_many(rows[:50])
    got = ir.evaluate(to_ir(model), X)["value"]
    assert np.allclose(got, [model.predict_one(x) for x in rows[:50]], rtol=1e-12, atol=0)


def test_arf_regressor_median_is_the_default():
    model, _ = learned("arf_reg5_median")
    assert to_ir(model).estimator.combine == "median"


def test_multinomial_nb_needs_a_closed_row_for_its_oov_term():
    from river import compose

    m = naive_bayes.MultinomialNB()
    m.learn_one({"a": 2, "b": 1}, "x")
    m.learn_one({"a": 1, "c": 3}, "y")
    p_known = m.predict_proba_one({"a": 1})
    assert m.predict_proba_one({"a": 1, "new": 1}) != p_known  # River scores unknown keys
    with pytest.raises(estuary.UnsupportedModelError, match="out-of-vocabulary"):
        to_ir(m)
    closed = compose.Select("a", "b", "d") | naive_bayes.MultinomialNB()
    for x, y in [({"a": 2, "b": 1, "d": 0}, "x"), ({"a": 1, "b": 0, "d": 0}, "y")]:
        closed.learn_one(x, y)
    model_ir = to_ir(closed)
    row = {"a": 1, "b": 2, "d": 1}  # d: in the Select, never counted by the model (its OOV term)
    got = ir.evaluate(model_ir, RowEncoder(model_ir.schema).encode_many([row]))
    want = closed.predict_proba_one(row)
    assert np.allclose(got["probabilities"][0], [want[c] for c in model_ir.classes], rtol=1e-12)


def test_bernoulli_nb_ignores_unknown_keys_as_river(tmp_path):
    model, rows = learned("bernoulli-nb")
    row = dict(rows[0])
    assert model.predict_proba_one({**row, "unseen": 1.0}) == model.predict_proba_one(row)
    est = to_ir(model).estimator
    key, cls = est.columns[0], next(iter(model.class_counts))
    p = model.p_feature_given_class(key, cls)
    assert est.log_on[0][0] == math.log(10e-10 + p)  # River's own float, bit for bit
    assert est.log_off[0][0] == math.log(10e-10 + (1.0 - p))


def test_min_max_scaler_nan_rows_are_reported_skipped(tmp_path):
    model, rows = learned("minmax|logreg")
    out = model.predict_proba_one({**rows[0], "never_seen": 1.0})
    assert all(math.isnan(v) for v in out.values())  # River's own answer for a new key
    path = estuary.export(model, tmp_path / "m.onnx", sample=rows[:20]).path
    report = estuary.verify(model, path, rows[:100])
    assert report.passed and report.n_skipped >= 1
    assert any("never learned" in e for e in report.skipped_examples)
    # and the probe did not leak the new key into the scaler's schema
    assert "never_seen" not in to_ir(model).schema.columns


def test_min_max_and_max_abs_follow_river_on_edges():
    mm = preprocessing.MinMaxScaler()
    ma = preprocessing.MaxAbsScaler()
    for x in ({"a": 1.0, "z": 0.0}, {"a": 3.0, "z": 0.0}):
        mm.learn_one(x)
        ma.learn_one(x)
    for scaler in (mm, ma):
        model = scaler | linear_model.LinearRegression()
        model["LinearRegression"]._weights.update({"a": 2.0, "z": 1.0})
        m_ir = to_ir(model)
        X = RowEncoder(m_ir.schema).encode_many([{"a": 2.0, "z": 5.0}, {"z": 1.0}, {}])
        got = ir.evaluate(m_ir, X)["value"]
        want = [model.predict_one(r) for r in ({"a": 2.0, "z": 5.0}, {"z": 1.0}, {})]
        assert got.tolist() == want


def test_hat_with_an_alternate_tree_is_refused():
    model, _ = learned("hat_nba_phishing")
    import copy

    clone = copy.deepcopy(model)
    root = clone._root
    root._alternate_tree = copy.deepcopy(root)  # what a drift makes River grow
    with pytest.raises(estuary.UnsupportedModelError, match="alternate subtree"):
        to_ir(clone)


def test_ensembles_are_supported_in_every_browser_format():
    for cls in (forest.ARFClassifier, forest.ARFRegressor):
        for fmt in ("onnx", "pmml", "tfjs"):
            assert support(cls, fmt) == (True, "")


# ------------------------------------------------------------------ issue 13: refusals with reasons


def test_hatr_with_an_alternate_tree_is_refused():
    model, _ = learned("hatr_adaptive_trumpapproval")
    import copy

    clone = copy.deepcopy(model)
    clone._root._alternate_tree = copy.deepcopy(clone._root)  # what a drift makes River grow
    with pytest.raises(estuary.UnsupportedModelError, match="alternate subtree"):
        to_ir(clone)


def test_a_bare_dummy_reads_no_key_and_is_refused():
    from river import dummy

    model = preprocessing.StandardScaler() | dummy.PriorClassifier()
    for y in (True, False, True):
        model.learn_one({"a": 1.0}, y)
    with pytest.raises(estuary.UnsupportedModelError, match="reads no key"):
        to_ir(model["PriorClassifier"])
    est = to_ir(model).estimator  # behind a step that knows "a"
    assert est.class_probs == ((2 / 3, 1 / 3),) and to_ir(model).classes == (True, False)


def test_pred_clipper_with_a_finite_bound_is_refused():
    import copy

    model = copy.deepcopy(learned("pred-clipper-unbounded(scaler|linreg)")[0])  # shared: copy
    model.y_max = 50.0
    with pytest.raises(estuary.UnsupportedModelError, match="clamps the prediction"):
        to_ir(model)  # a linear model: refused
    clipped, rows = learned("pred-clipper(40, 45)(htr-mean)")
    means = to_ir(clipped).estimator.means
    assert min(means) >= 40.0 and max(means) <= 45.0 and len(set(means)) > 2


def test_target_scaler_over_an_ensemble_is_refused():
    from conftest import dataset_rows
    from river import ensemble

    m = preprocessing.TargetStandardScaler(ensemble.BaggingRegressor(
        linear_model.LinearRegression(), n_models=2, seed=1))
    for x, y in dataset_rows("TrumpApproval")[:50]:
        m.learn_one(dict(x), y)
    with pytest.raises(estuary.UnsupportedModelError, match="folds that map into linear"):
        to_ir(m)


def test_target_standard_scaler_leaves_are_rivers_arithmetic():
    model, rows = learned("target-standard(htr)")
    est = to_ir(model).estimator
    sd, mean = model.var.get() ** 0.5, model.var.mean.get()
    inner = to_ir(model.regressor).estimator
    assert est.means == tuple(v * sd + mean for v in inner.means)  # bit for bit, as River
    X = RowEncoder(to_ir(model).schema).encode_many(rows[:200])
    assert ir.evaluate(to_ir(model), X)["value"].tolist() == [model.predict_one(x)
                                                              for x in rows[:200]]


def test_a_chained_renamer_mapping_is_refused():
    from river import compose

    model = compose.Renamer({"https": "secure", "secure": "s"}) | linear_model.LinearRegression()
    model["LinearRegression"]._weights.update({"s": 1.0})
    with pytest.raises(estuary.UnsupportedModelError, match="chains or merges keys"):
        to_ir(model)


def test_renamed_keys_are_read_back_to_the_raw_schema():
    model, rows = learned("prefixer|scaler|logreg")
    m_ir = to_ir(model)
    assert "https" in m_ir.schema.columns and not any(c.startswith("p_") for c in m_ir.schema.columns)
    assert all(c.startswith("p_") for c in m_ir.estimator.columns)


def test_sgt_split_at_infinity_is_its_left_subtree():
    model, rows = learned("sgt_phishing")
    from river.tree.nodes.branch import NumericBinaryBranch

    assert any(isinstance(n, NumericBinaryBranch) and n.threshold == math.inf
               for n in model._root.iter_dfs())  # the case really has such a split
    tree = to_ir(model).estimator.tree
    assert all(math.isfinite(t) for t in tree.threshold)
    X = RowEncoder(to_ir(model).schema).encode_many(rows[:300])
    labels = [to_ir(model).classes[i] for i in ir.evaluate(to_ir(model), X)["label"]]
    assert labels == [model.predict_one(x) for x in rows[:300]]


def test_bole_votes_with_its_weighted_members_only():
    model, _ = learned("bole3(htc)")
    from estuary.converters.river_to_ir.ensemble import _bole_weight

    weights = [_bole_weight(model, i) for i in range(len(model))]
    est = to_ir(model).estimator
    assert list(est.weights) == ([w for w in weights if w] or [1.0] * len(model))


def test_model_selector_exports_its_best_model():
    model, _ = learned("greedy-reg(2 x scaler|linreg)")
    best = model.best_model
    assert to_ir(model).estimator == to_ir(best).estimator


def test_select_type_refuses_what_depends_on_the_rows_python_types():
    from river import compose

    model, _ = learned("select-type(number)|linreg")
    assert to_ir(model).transform.steps[0].columns == to_ir(model).schema.columns
    floats_only = compose.SelectType(float) | linear_model.LinearRegression()
    floats_only["LinearRegression"]._weights.update({"a": 1.0})
    with pytest.raises(estuary.UnsupportedModelError, match="keeps some of numbers"):
        to_ir(floats_only)  # River keeps 1.0 and drops 1: the float tensor cannot tell
