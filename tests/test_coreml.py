"""Core ML: the spec evaluator is honest (it reproduces scikit-learn on specs built by Apple's own
coremltools converter), bad files are refused, and estuary's specs run as documented."""

from __future__ import annotations

import math

import coremltools  # noqa: F401,E402  (a missing runtime fails the suite)
import numpy as np
import pytest

import estuary  # noqa: E402
from estuary.errors import ArtifactError, OutOfRangeError  # noqa: E402
from estuary.runtimes import coreml  # noqa: E402
from estuary.runtimes.coreml_spec import ClassScores, evaluate  # noqa: E402


def _data(classes: int = 2, n: int = 300, seed: int = 0):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, n_redundant=0,
                               n_classes=classes, random_state=seed)
    return X, y


def _apple(model):
    """Apple's converter (coremltools.converters.sklearn) → its Model_pb2 spec."""
    import coremltools as ct

    return ct.converters.sklearn.convert(model, "input", "target").get_spec()


def _classify(spec, X):
    out = evaluate(spec, {"input": X})
    scores = next(v for v in out.values() if isinstance(v, ClassScores))
    labels = out[spec.description.predictedFeatureName]
    return np.asarray(list(labels)), scores


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_regression_ovr(classes):
    from sklearn.linear_model import LogisticRegression

    X, y = _data(classes)
    model = LogisticRegression(multi_class="ovr").fit(X, y)
    labels, scores = _classify(_apple(model), X)
    assert (labels == model.predict(X)).all()
    order = [list(scores.keys).index(c) for c in model.classes_]
    assert np.abs(scores.scores[:, order] - model.predict_proba(X)).max() <= 1e-6


def test_linear_regression():
    from sklearn.linear_model import LinearRegression

    X, y = _data()
    model = LinearRegression().fit(X, X @ np.arange(6.0) + y)
    out = evaluate(_apple(model), {"input": X})
    assert np.abs(out["target"] - model.predict(X)).max() <= 1e-9


@pytest.mark.parametrize("name, classes", [("tree", 2), ("tree", 3), ("forest", 2), ("forest", 3)])
def test_tree_classifiers(name, classes):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    X, y = _data(classes)
    model = (DecisionTreeClassifier(max_depth=6, random_state=0) if name == "tree"
             else RandomForestClassifier(n_estimators=7, max_depth=5, random_state=0)).fit(X, y)
    labels, scores = _classify(_apple(model), X)
    assert (labels == model.predict(X)).all()
    order = [list(scores.keys).index(c) for c in model.classes_]
    expected = model.predict_proba(X)
    if name == "forest" and classes > 2:  # Core ML sums member distributions (coremltools#1541)
        expected = expected * model.n_estimators
    # coremltools nudges a leaf probability of exactly 0.5 by 1e-7 to keep scikit-learn's label
    assert np.abs(scores.scores[:, order] - expected).max() <= 1e-6


@pytest.mark.parametrize("name", ["tree", "forest"])
def test_tree_regressors(name):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.tree import DecisionTreeRegressor

    X, y = _data()
    target = X[:, 0] * 0.3 + y
    model = (DecisionTreeRegressor(max_depth=6, random_state=0) if name == "tree"
             else RandomForestRegressor(n_estimators=7, max_depth=5, random_state=0))
    model.fit(X, target)
    got = evaluate(_apple(model), {"input": X})["target"]
    assert np.abs(got - model.predict(X)).max() <= 1e-6  # leaf values summed in float32


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    from conftest import learned

    model, rows = learned("scaler|logreg")
    path = tmp_path_factory.mktemp("coreml") / "model.mlmodel"
    estuary.export(model, path, sample=rows[:20])
    return path


def test_runtime_name_and_predictions(artifact):
    from conftest import learned

    model, rows = learned("scaler|logreg")
    loaded = estuary.load(artifact)
    assert str(loaded.runtime).startswith("coreml spec-evaluator")
    assert loaded.metadata.precision == "float64"  # Scaler, Imputer and GLMClassifier: doubles
    for x in rows[:5] + [{}]:
        assert loaded.predict_one(x) == model.predict_one(x)
        got, want = loaded.predict_proba_one(x), model.predict_proba_one(x)
        assert all(abs(got[k] - want[k]) <= 1e-12 for k in want)


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"\xff" * 64])
def test_refuses_what_is_not_coreml(tmp_path, content):
    path = tmp_path / "bad.mlmodel"
    path.write_bytes(content)
    with pytest.raises(ArtifactError):
        estuary.load(path)


def test_refuses_truncated(artifact, tmp_path):
    data = artifact.read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 7):
        path = tmp_path / f"cut{cut}.mlmodel"
        path.write_bytes(data[:cut])
        with pytest.raises(ArtifactError):
            estuary.load(path)


def test_refuses_missing_metadata(artifact, tmp_path):
    spec = coreml.read_spec(artifact)
    del spec.description.metadata.userDefined["estuary"]
    path = tmp_path / "nometa.mlmodel"
    path.write_bytes(spec.SerializeToString())
    with pytest.raises(ArtifactError, match="no estuary metadata"):
        estuary.load(path)


def test_split_exact_at_threshold_in_float32(tmp_path):
    """A float32 tree still routes a value one ulp above a threshold to the right child."""
    from conftest import learned

    from estuary.converters.river_to_ir import to_ir

    model, rows = learned("htc_mc_phishing")
    path = tmp_path / "tree.mlmodel"
    estuary.export(model, path, sample=rows[:10])
    loaded = estuary.load(path)
    assert loaded.metadata.precision == "float32"
    est = to_ir(model).estimator
    column, values = next(iter(est.thresholds().items()))
    for t in values:
        for v in (np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf)):
            x = {**rows[0], column: float(v)}
            assert loaded.predict_one(x) == model.predict_one(x)


# --------------------------------------------------------------------------------- tree regressors


def _glm_z_sequential(params, x, reverse=False):
    """A GLMRegressor as a device might compute it: one accumulator per row, terms added in
    weight order (or reversed), each with a fused multiply-add (the product is not rounded)."""
    from fractions import Fraction

    def fma(w: float, v: float, acc: float) -> float:
        if w == 0.0 and math.isfinite(v):
            return acc + 0.0 * v
        if not (math.isfinite(w) and math.isfinite(v)):
            return w * v + acc
        if not math.isfinite(acc):
            return acc  # an exact finite product added to ±inf or NaN
        exact = Fraction(w) * Fraction(v) + Fraction(acc)
        try:
            return float(exact)  # correctly rounded
        except OverflowError:
            return math.inf if exact > 0 else -math.inf

    W = np.asarray([list(row.value) for row in params.weights], dtype=np.float64)
    b = np.asarray(params.offset, dtype=np.float64)
    out = np.empty((x.shape[0], W.shape[0]))
    order = range(W.shape[1] - 1, -1, -1) if reverse else range(W.shape[1])
    for n, row in enumerate(x):
        for k, w in enumerate(W):
            acc = 0.0
            for j in order:
                acc = fma(float(w[j]), float(row[j]), acc)
            out[n, k] = acc + b[k]
    return out


def _equal(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _same(a, b) -> bool:
    return bool(_equal(a, b).all())


def _regressor_artifact(case_id, tmp_path):
    from conftest import learned

    model, rows = learned(case_id)
    path = tmp_path / f"{case_id}.mlmodel"
    estuary.export(model, path, sample=rows[:20])
    return model, rows, path


TREE_REGRESSORS = ["htr_mean_trumpapproval", "scaler_htr_adaptive_trumpapproval",
                   "htr_model_trumpapproval", "scaler_htr_model_trumpapproval"]


@pytest.mark.parametrize("case_id", TREE_REGRESSORS)
def test_tree_regressor_is_exact_in_double(case_id, tmp_path):
    """Only the routing is a (float32, exact) tree ensemble: every value stage is a classic
    float64 model, and the values are the IR's to the last bit on every probe row. After a
    StandardScaler the leaf models read x · (1/d) from Core ML's Scaler where River divides by
    d (one rounding apart), so there the values agree to a few ulps."""
    from estuary import ir
    from estuary.converters.river_to_ir import to_ir
    from estuary.parity.probes import probe_rows
    from estuary.rows import RowEncoder

    model, rows, path = _regressor_artifact(case_id, tmp_path)
    loaded = estuary.load(path)
    assert loaded.metadata.precision == "float32"  # the tree ensemble is a float32 model
    kinds = {m.WhichOneof("Type") for m in coreml.read_spec(path).pipelineRegressor.pipeline.models}
    assert kinds <= {"treeEnsembleRegressor", "glmRegressor", "scaler", "imputer",
                     "arrayFeatureExtractor", "featureVectorizer"}
    model_ir = to_ir(model)
    X = RowEncoder(model_ir.schema).encode_many([p.row for p in probe_rows(model_ir, rows[:50])])
    got, want = loaded.run(X)["value"], ir.evaluate(model_ir, X)["value"]
    if case_id.startswith("scaler_"):
        with np.errstate(invalid="ignore"):
            assert (_equal(got, want) | (np.abs(got - want) <= 1e-13 * np.abs(want))).all()
    else:
        assert _same(got, want)


@pytest.mark.parametrize("case_id", ["htr_model_trumpapproval", "scaler_htr_adaptive_trumpapproval"])
def test_tree_regressor_infinite_inputs(case_id, tmp_path):
    """±inf inputs (which a dense GLM would turn into NaN: 0 · inf) give River's ±inf / NaN in
    the input matrix; as dict rows they are refused by the range policy (rows.py), as in every
    format."""
    model, rows, path = _regressor_artifact(case_id, tmp_path)
    loaded = estuary.load(path)
    keys = list(rows[0])
    probes = [{**r, k: v} for r in rows[:15] for k in keys for v in (math.inf, -math.inf)]
    probes += [{**r, keys[0]: math.inf, keys[1]: -math.inf} for r in rows[:5]]
    probes += [{**r, keys[2]: math.inf, keys[3]: math.inf} for r in rows[:5]]
    got = _unchecked_values(loaded, probes)
    for x, value in zip(probes, got, strict=True):
        assert _same(value, model.predict_one(x)), x
    with pytest.raises(OutOfRangeError, match="inf is not a value"):
        loaded.predict_one(probes[0])


def _unchecked_values(loaded, rows) -> np.ndarray:
    """The runtime's values for rows encoded without the range policy (±inf kept)."""
    from estuary.rows import RowEncoder

    return loaded.run(RowEncoder(loaded.metadata.schema, max_abs=math.inf)
                      .encode_many(rows))["value"]


@pytest.mark.parametrize("reverse", [False, True])
def test_tree_regressor_independent_of_glm_order_and_fma(reverse, tmp_path, monkeypatch):
    """The leaf selection holds whatever order a GLMRegressor sums in, with or without fused
    multiply-add: every row that must be exact has at most two non-zero terms."""
    from estuary.runtimes.coreml_spec import evaluator

    model, rows, path = _regressor_artifact("htr_model_trumpapproval", tmp_path)
    spec = coreml.read_spec(path)
    X = np.array([[43.8, 46.2, 48.3, 736389.0, 44.1, 43.6], [1e300, 46.2, 48.3, 736389.0, 44.1, 43.6],
                  [43.8, np.nan, -1e300, 736389.0, 44.1, 43.6], [0.0, -0.0, 1e-300, 1e9, -1e9, 0.0],
                  [np.inf, 46.2, 48.3, 736389.0, 44.1, -np.inf], [np.nan] * 6])
    want = evaluate(spec, {"input": X})["value"]
    monkeypatch.setattr(evaluator, "_glm_z", lambda p, x: _glm_z_sequential(p, x, reverse))
    assert _same(evaluate(spec, {"input": X})["value"], want)


def test_tree_regressor_refuses_non_finite_leaves():
    from estuary.converters.coreml.builder import Stages
    from estuary.converters.coreml.transforms import Context
    from estuary.converters.coreml.trees import tree_regressor
    from estuary.errors import UnsupportedModelError
    from estuary.ir.trees import TreeRegressor, TreeStructure

    stump = TreeStructure(feature=(0, 0, 0), threshold=(0.5, 0.0, 0.0), left=(1, -1, -1),
                          right=(2, -1, -1), missing_left=(True, False, False), leaf=(-1, 0, 1),
                          onehot=(False, False, False))
    est = TreeRegressor(("a",), stump, (1.0, math.inf), (False, False))
    with pytest.raises(UnsupportedModelError, match="not finite"):
        tree_regressor(est, Context(Stages(), "input", ("a",)))


# --------------------------------------------------------------------------------- ensembles, BernoulliNB


def _spec_of(model_ir):
    from estuary import ir
    from estuary.converters.coreml import to_coreml

    return to_coreml(ir.Snapshot(model_ir, ir.Provenance("0.26.1", "0.1.0")))


def _schema(names):
    from estuary import ir

    return ir.FeatureSchema(tuple(ir.Feature(n, n) for n in names))


def _all_values(spec, X):
    """Every named value of a pipeline (its stages' outputs included)."""
    from estuary.runtimes.coreml_spec import evaluator

    kind = spec.WhichOneof("Type")
    params = getattr(spec, kind)
    return evaluator._pipeline(getattr(params, "pipeline", params), spec.description, {"input": X})


@pytest.mark.parametrize("M", [1, 2, 3, 4, 5, 6, 9])
@pytest.mark.parametrize("order", ["numpy", "sequential", "reversed"])
def test_ensemble_median_is_numpy_median_exactly(M, order, monkeypatch):
    """The median stages on M member values: bitwise numpy's median (ties, ±0, subnormals, ±inf,
    overflow of the middle sum, NaN members), whatever order or fused multiply-add the
    GLMRegressors use."""
    from estuary._coremltools import Model_pb2
    from estuary.converters.coreml.builder import (
        SPEC_VERSION,
        Stages,
        array_type,
        describe,
        double_type,
    )
    from estuary.converters.coreml.ensembles import median
    from estuary.runtimes.coreml_spec import evaluator

    s = Stages()
    median(s, [s.extract("input", M, [i], "member") for i in range(M)])
    spec = Model_pb2.Model(specificationVersion=SPEC_VERSION)
    describe(spec.description, [("input", array_type(M))], [("value", double_type())])
    spec.pipelineRegressor.pipeline.models.extend(s.models)
    rng = np.random.default_rng(M)
    pool = np.array([-math.inf, -1e308, -1.5, -0.0, 0.0, 5e-324, 1e-300, 2.0, 2.0, 3.25, 1e308,
                     1.7e308, math.inf])
    X = rng.choice(pool, size=(600, M))
    X = np.where(rng.random((600, M)) < 0.3, rng.normal(size=(600, M)), X)
    X[rng.random((600, M)) < 0.02] = math.nan
    X[:5] = 2.0  # all equal
    X[5], X[6], X[7] = math.inf, -math.inf, 1.7e308  # an infinite median, an overflowing sum
    X[8, : (M + 1) // 2], X[8, (M + 1) // 2:] = -math.inf, math.inf  # even M: -inf + inf
    if order != "numpy":
        monkeypatch.setattr(evaluator, "_glm_z",
                            lambda p, x: _glm_z_sequential(p, x, order == "reversed"))
    with np.errstate(all="ignore"):
        want = np.median(X, axis=1)
    assert _same(evaluate(spec, {"input": X})["value"], want)
    assert np.isnan(want).any() and np.isinf(want).any()


def _ensemble_artifact(case_id, tmp_path):
    from estuary import ir
    from estuary.converters.river_to_ir import to_ir
    from estuary.parity.probes import probe_rows
    from estuary.rows import RowEncoder

    model, rows, path = _regressor_artifact(case_id, tmp_path)
    model_ir = to_ir(model)
    X = RowEncoder(model_ir.schema).encode_many([p.row for p in probe_rows(model_ir, rows[:50])])
    return model, rows, estuary.load(path), model_ir, X, ir.evaluate(model_ir, X)


@pytest.mark.parametrize("case_id", ["arf_reg5_median", "arf_reg4_weighted_mean"])
def test_arf_regressor_is_exact_in_double(case_id, tmp_path):
    """ARF regressors: tree members (exact) combined in double; the median is exact, and so is
    the mean here (4 members: dividing by 4 is multiplying by 0.25)."""
    model, rows, loaded, model_ir, X, want = _ensemble_artifact(case_id, tmp_path)
    assert loaded.metadata.precision == "float32"  # tree ensembles route (exactly) in float32
    kinds = {m.WhichOneof("Type") for m in
             coreml.read_spec(loaded.path).pipelineRegressor.pipeline.models}
    assert kinds <= {"treeEnsembleRegressor", "glmRegressor", "scaler", "imputer",
                     "arrayFeatureExtractor", "featureVectorizer"}
    assert _same(loaded.run(X)["value"], want["value"])
    keys = list(rows[0])
    probes = [{**r, k: v} for r in rows[:10] for k in keys for v in (math.inf, -math.inf)]
    assert _same(_unchecked_values(loaded, probes), model.predict_many(probes) if hasattr(
        model, "predict_many") else [model.predict_one(x) for x in probes])


def test_bagging_regressor_of_linear_models_is_float64(tmp_path):
    """Scalers, Imputers and GLMRegressors only: float64. The members' scalers multiply by 1/d
    and the mean by fl(1/3) where River divides (Core ML's classic models cannot divide): a few
    ulps apart."""
    model, rows, loaded, model_ir, X, want = _ensemble_artifact("bagging3-reg(scaler|linreg)",
                                                                tmp_path)
    assert loaded.metadata.precision == "float64"
    got = loaded.run(X)["value"]
    assert (np.abs(got - want["value"]) <= 1e-14 * np.maximum(1.0, np.abs(want["value"]))).all()


@pytest.mark.parametrize("case_id", ["arf10_phishing", "bagging3(htc)", "bagging3(scaler|logreg)"])
def test_ensemble_classifier(case_id, tmp_path):
    """Members and their weighted sum in double; only `proba / total` is float32."""
    model, rows, loaded, model_ir, X, want = _ensemble_artifact(case_id, tmp_path)
    assert loaded.metadata.precision == "float32"
    got = loaded.run(X)
    assert (got["label"] == want["label"]).all()
    assert np.abs(got["probabilities"] - want["probabilities"]).max() <= 1e-6


def test_ensemble_classifier_placement_weights_and_zero_total():
    """Members seeing different classes in different orders, weights, and every vote 0 (River
    then returns the zeros as they are)."""
    from estuary import ir
    from estuary.ir.ensembles import EnsembleClassifier, Member
    from estuary.ir.trees import TreeClassifier, TreeStructure

    stump = TreeStructure(feature=(0, 0, 0), threshold=(0.5, 0.0, 0.0), left=(1, -1, -1),
                          right=(2, -1, -1), missing_left=(True, False, False), leaf=(-1, 0, 1),
                          onehot=(False, False, False))

    def tree(col, left, right):
        return TreeClassifier((col,), stump, (left, right), (False, False))

    members = (Member(ir.Chain(()), tree("a", (0.0, 0.0), (0.25, 0.75)), (2, 0)),
               Member(ir.Chain(()), tree("b", (0.0, 0.0, 0.0), (0.2, 0.3, 0.5)), (1, 2, 0)),
               Member(ir.Chain(()), ir.Linear(("a", "b"), ((0.7, -1.3),), (0.1,), "sigmoid"),
                      (0, 1)))
    est = EnsembleClassifier(("a", "b"), members, (0.3, 1.0, 2.5), 3)
    model_ir = ir.Model(_schema(["a", "b"]), ir.Chain(()), est, "classification", (0, 1, 2))
    spec = _spec_of(model_ir)
    grid = [-1e300, -2.0, 0.0, 0.5, np.nextafter(0.5, 1), 0.7, 3.0, 1e300, np.nan]
    X = np.array([[a, b] for a in grid for b in grid])
    want = ir.evaluate(model_ir, X)
    labels, scores = _classify(spec, X)
    assert (labels == want["label"]).all()
    assert np.abs(scores.scores - want["probabilities"]).max() <= 1e-6
    # only the tree members: a row that reaches both zero leaves has total 0
    zero = EnsembleClassifier(("a", "b"), members[:2], (0.3, 1.0), 3)
    model_ir = ir.Model(_schema(["a", "b"]), ir.Chain(()), zero, "classification", (0, 1, 2))
    want = ir.evaluate(model_ir, X)
    assert (want["probabilities"].sum(axis=1) == 0).any()
    labels, scores = _classify(_spec_of(model_ir), X)
    assert (labels == want["label"]).all()
    assert np.abs(scores.scores - want["probabilities"]).max() <= 1e-6


@pytest.mark.parametrize("case_id", ["bernoulli-nb", "scaler|bernoulli-nb"])
def test_bernoulli_nb_tests_are_exact(case_id, tmp_path):
    """x > threshold is decided exactly (also one ulp either side of the threshold, after a
    StandardScaler folded in, and for NaN: "off"); the softmax is float32."""
    from estuary.converters.river_to_ir import to_ir
    from estuary.ir.evaluate import gather, transform
    from estuary.rows import RowEncoder

    model, rows, path = _regressor_artifact(case_id, tmp_path)
    loaded = estuary.load(path)
    assert loaded.metadata.precision == "float32"
    model_ir = to_ir(model)
    est = model_ir.estimator
    scale = next((t for t in model_ir.transform.steps), None)
    probes = [dict(r) for r in rows[:5]]
    for r in rows[:5]:
        for j, k in enumerate(rows[0]):
            at = est.threshold
            if scale is not None:  # the raw value that the scaler maps onto the threshold
                at = scale.offset[j] + est.threshold * scale.divisor[j]
            for v in (np.nextafter(at, -np.inf), at, np.nextafter(at, np.inf), -0.0, 5e-324,
                      -5e-324, math.inf, -math.inf):
                probes.append({**r, k: float(v)})
            probes.append({c: v for c, v in r.items() if c != k})  # missing: "off"
    # ±inf rows: dict rows are refused (the range policy, rows.py); the matrix still gets them
    X = RowEncoder(model_ir.schema, max_abs=math.inf).encode_many(probes)
    spec = coreml.read_spec(path)
    values = _all_values(spec, X)
    hits = next(v for k, v in values.items() if k.startswith("above_"))
    Z = gather(transform(model_ir.transform, (X, model_ir.schema.columns)), est.columns)
    with np.errstate(invalid="ignore"):
        assert (hits == (Z > est.threshold)).all()
    got = loaded.run(X)
    want = __import__("estuary").ir.evaluate(model_ir, X)
    assert (got["label"] == want["label"]).all()
    assert np.abs(got["probabilities"] - want["probabilities"]).max() <= 1e-5
    assert [loaded.classes[i] for i in got["label"]] == [model.predict_one(x) for x in probes]
