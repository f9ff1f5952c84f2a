"""Core ML: the spec evaluator is honest (it reproduces scikit-learn on specs built by Apple's own
coremltools converter), bad files are refused, and estuary's specs run as documented."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("coremltools")

import estuary  # noqa: E402
from estuary.errors import ArtifactError  # noqa: E402
from estuary.runtimes import coreml  # noqa: E402
from estuary.runtimes.coreml_spec import ClassScores, evaluate  # noqa: E402

sklearn = pytest.importorskip("sklearn")


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
