"""Every error path: exact exception type and a message that says what to do next."""

from __future__ import annotations

import itertools
import json

import numpy as np
import onnx
import pytest
from conftest import learned as learned_case
from river import cluster, compose, datasets, linear_model, neighbors, preprocessing

import estuary
from estuary import ir
from estuary.converters import registry
from estuary.converters.river_to_ir import to_ir
from estuary.rows import RowEncoder


@pytest.fixture(scope="module")
def phishing_model():
    """Scaler | LogisticRegression learned on the whole Phishing dataset (shared, read-only)."""
    return learned_case("scaler|logreg")


@pytest.fixture
def artifact(phishing_model, tmp_path):
    model, rows = phishing_model
    return estuary.export(model, tmp_path / "m.onnx", sample=rows[:20]).path


@pytest.mark.parametrize("model", [cluster.KMeans(), neighbors.KNNClassifier()])
def test_unsupported_model_lists_supported(model):
    with pytest.raises(estuary.UnsupportedModelError) as e:
        to_ir(model)
    msg = str(e.value)
    assert type(model).__name__ in msg
    assert "river.linear_model.LogisticRegression" in msg
    assert "river.preprocessing.StandardScaler" in msg
    assert e.value.supported == sorted(e.value.supported)


def test_unsupported_step_inside_pipeline():
    model = preprocessing.Normalizer() | linear_model.LogisticRegression()
    model.learn_one({"a": 1.0}, True)
    with pytest.raises(estuary.UnsupportedModelError, match="Normalizer"):
        to_ir(model)


def test_subclass_is_not_silently_accepted():
    class MyLogReg(linear_model.LogisticRegression):
        pass

    m = MyLogReg()
    m.learn_one({"a": 1.0}, True)
    with pytest.raises(estuary.UnsupportedModelError, match="MyLogReg"):
        to_ir(m)


def test_transformer_only_is_refused():
    with pytest.raises(estuary.UnsupportedModelError, match="transformer"):
        to_ir(preprocessing.StandardScaler())


def test_unsupported_option_says_which():
    enc = preprocessing.OneHotEncoder(drop_first=True)
    model = compose.Select("c") | enc | linear_model.LinearRegression()
    model.learn_one({"c": "a"}, 1.0)
    with pytest.raises(estuary.UnsupportedModelError, match="drop_first"):
        to_ir(model)


@pytest.mark.parametrize("model", [
    linear_model.LogisticRegression(),
    preprocessing.StandardScaler() | linear_model.LinearRegression(),
    linear_model.SoftmaxRegression(),
    linear_model.PARegressor(),
])
def test_model_that_learned_nothing(model):
    with pytest.raises(estuary.EmptyModelError, match="call learn_one"):
        to_ir(model)


def test_registering_twice_is_an_error():
    with pytest.raises(estuary.RegistrationError, match="already registered"):
        registry.register_extractor(linear_model.LogisticRegression, inputs=dict)(lambda *a: None)
    with pytest.raises(estuary.RegistrationError, match="already registered"):
        registry.register_emitter("onnx", ir.Linear)(lambda *a: None)


def test_wrong_type_names_the_field(artifact):
    loaded = estuary.load(artifact)
    with pytest.raises(estuary.InvalidInputError, match="'https'") as e:
        loaded.predict_one({"https": "yes"})
    assert e.value.field == "https"
    with pytest.raises(estuary.InvalidInputError, match="leave the key out"):
        loaded.predict_one({"https": float("nan")})
    with pytest.raises(estuary.InvalidInputError, match="must be a dict"):
        loaded.predict_one([1.0, 2.0])


def test_unknown_keys_ignored_and_missing_like_river(artifact, phishing_model):
    model, rows = phishing_model
    loaded = estuary.load(artifact)
    x = dict(rows[0])
    assert loaded.predict_proba_one({**x, "not_a_feature": 3.0}) == pytest.approx(
        model.predict_proba_one(x), abs=1e-12)
    del x["https"]
    assert loaded.predict_proba_one(x) == pytest.approx(model.predict_proba_one(x), abs=1e-12)


def test_truncated_artifact_is_refused(artifact):
    data = artifact.read_bytes()
    artifact.write_bytes(data[: len(data) // 2])
    with pytest.raises(estuary.ArtifactError, match="re-export"):
        estuary.load(artifact)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(estuary.ArtifactError, match="does not exist"):
        estuary.load(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx model at all")
    with pytest.raises(estuary.ArtifactError, match="not a loadable ONNX model"):
        estuary.load(junk)
    other = tmp_path / "m.xyz"
    other.write_text("x")
    with pytest.raises(estuary.UnknownFormatError, match="no runtime"):
        estuary.load(other)


def test_onnx_without_estuary_metadata(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["value"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [1])],
                              [helper.make_tensor_value_info("value", TensorProto.DOUBLE, [1])])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10),
              path)
    with pytest.raises(estuary.ArtifactError, match="no estuary metadata"):
        estuary.load(path)


def test_tampered_golden_vectors_are_refused(artifact):
    proto = onnx.load(artifact)
    for prop in proto.metadata_props:
        if prop.key == "estuary":
            meta = json.loads(prop.value)
            meta["golden_outputs"][0] = [0.5, 0.5]
            prop.value = json.dumps(meta)
    onnx.save(proto, artifact)
    with pytest.raises(estuary.GoldenCheckError, match="do not serve it"):
        estuary.load(artifact)
    assert estuary.load(artifact, check=False).predict_one({}) in (False, True)


def test_unknown_format_and_suffix(phishing_model, tmp_path):
    model, rows = phishing_model
    with pytest.raises(estuary.UnknownFormatError, match="suffix"):
        estuary.export(model, tmp_path / "model.bin")
    with pytest.raises(estuary.UnknownFormatError, match="available"):
        estuary.export(model, tmp_path / "model.onnx", format="tflite")


def test_failed_export_leaves_no_file(phishing_model, tmp_path, monkeypatch):
    model, _ = phishing_model
    monkeypatch.setattr("estuary.api.load", lambda p: (_ for _ in ()).throw(estuary.GoldenCheckError("x")))
    with pytest.raises(estuary.GoldenCheckError):
        estuary.export(model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_categorical_encoding_matches_river_keys():
    model = ((compose.Select("time") | preprocessing.StandardScaler())
             + (compose.Select("diet") | preprocessing.OneHotEncoder())) | linear_model.LinearRegression()
    for x, y in datasets.ChickWeights():
        model.learn_one(x, y)
    schema = to_ir(model).schema
    enc = RowEncoder(schema)
    assert schema.feature("diet").categories == (1, 2, 3, 4)
    row = enc.encode({"time": 2, "diet": 3})
    assert row.tolist()[:4] == [0.0, 0.0, 1.0, 0.0]
    assert enc.encode({"time": 2, "diet": 9}).tolist()[:4] == [0.0] * 4  # unseen category
    assert np.isnan(enc.encode({"time": 2})[:4]).all()  # missing feature


def test_refusal_reason_reaches_the_error_and_the_matrix():
    from river import feature_extraction, forest
    from river import tree as river_tree

    from estuary.support import support

    model = (preprocessing.StandardScaler() | feature_extraction.PolynomialExtender()
             | linear_model.LinearRegression())
    for x, y in itertools.islice(datasets.TrumpApproval(), 200):
        model.learn_one(x, y)
    with pytest.raises(estuary.UnsupportedModelError, match="export to ONNX or PMML"):
        estuary.export(model, "unused.tfjs")
    ok, reason = support(feature_extraction.PolynomialExtender, "tfjs")
    assert not ok and "float32 products" in reason
    assert support(river_tree.HoeffdingTreeClassifier, "tfjs") == (True, "")
    assert support(forest.ARFClassifier, "tfjs") == (True, "")
    with pytest.raises(estuary.RegistrationError):
        registry.register_refusal("onnx", ir.Linear, "it has an emitter")


def test_ir_refuses_nan_parameters():
    schema = ir.FeatureSchema((ir.Feature("a", "a"),))
    model = ir.Model(schema, ir.Chain(()),
                     ir.Linear(("a",), ((float("nan"),),), (0.0,), "identity"), "regression")
    with pytest.raises(ir.IRError, match="non-finite"):
        ir.content_hash(model)
