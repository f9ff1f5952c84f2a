"""Every error path: exact exception type and a message that says what to do next."""

from __future__ import annotations

import itertools
import json

import numpy as np
import onnx
import pytest
from conftest import learned as learned_case
from river import (
    compose,
    datasets,
    feature_extraction,
    linear_model,
    preprocessing,
    rules,
)

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


@pytest.mark.parametrize("model", [rules.AMRules(), feature_extraction.BagOfWords()])
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
    monkeypatch.setattr("estuary.api.load", lambda p, **kw: (_ for _ in ()).throw(estuary.GoldenCheckError("x")))
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


# ------------------------------------------------------------------ issue 18: every failure typed


def _edit_meta(path, change, restamp=True):
    """Rewrite the ONNX artifact's estuary metadata with `change(meta) -> text`; re-stamp the
    digest (as someone who knows the checksum would) so the metadata check itself must refuse."""
    from artifact_mutants import _restamp, read_meta, write_meta

    write_meta(path, "onnx", change(json.loads(read_meta(path, "onnx"))))
    if restamp:
        _restamp(path)
    return path


@pytest.mark.parametrize("change, match", [
    (lambda m: "[1, 2, 3]", "JSON list, not an object"),
    (lambda m: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (lambda m: json.dumps({**m, "schema": {"type": "FeatureSchema",
                                           "features": json.loads("[" * 30 + "]" * 30)}}),
     "schema"),
    (lambda m: json.dumps({**m, "precision": "float16"}), "'precision' is 'float16'"),
    (lambda m: json.dumps({**m, "task": "regression"}), "a regressor with classes"),
    (lambda m: json.dumps({**m, "task": "score"}), "'task' is 'score'"),
    (lambda m: json.dumps({**m, "golden_inputs": [m["golden_inputs"][0][:-1]]
                           + m["golden_inputs"][1:]}), "golden input row is not 9 values"),
    (lambda m: json.dumps({**m, "classes": m["classes"][:1]}), "a classifier with 1 classes"),
    (lambda m: json.dumps({**m, "classes": m["classes"] + ["x"]}), "not 3 values wide"),
    (lambda m: json.dumps({**m, "metadata_version": 2}), "metadata version 2"),
])
def test_bad_metadata_is_an_artifact_error(artifact, change, match):
    with pytest.raises(estuary.ArtifactError, match=match) as e:
        estuary.load(_edit_meta(artifact, change))
    assert "re-export" in str(e.value)


def test_onnx_metadata_not_utf8_is_an_artifact_error(artifact):
    from artifact_mutants import write_meta

    write_meta(artifact, "onnx", b"\xff\xfe")
    with pytest.raises(estuary.ArtifactError, match="unreadable ONNX metadata"):
        estuary.load(artifact)


@pytest.mark.parametrize("what", ["input", "output"])
def test_renamed_onnx_input_or_output_is_refused_on_load(artifact, what):
    from artifact_mutants import _restamp

    proto = onnx.load(artifact)  # a consistent rename: the graph still runs, under other names
    old = "input" if what == "input" else "probabilities"
    for io in [*proto.graph.input, *proto.graph.output]:
        io.name = "x" if io.name == old else io.name
    for node in proto.graph.node:
        node.input[:] = ["x" if n == old else n for n in node.input]
        node.output[:] = ["x" if n == old else n for n in node.output]
    onnx.save(proto, artifact)
    _restamp(artifact)
    with pytest.raises(estuary.ArtifactError, match="not the estuary contract"):
        estuary.load(artifact)


def test_runtime_failure_at_run_is_an_artifact_error(artifact):
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail

    loaded = estuary.load(artifact)

    class Broken:
        def run(self, *args):
            raise Fail("TreeEnsemble: feature id out of range")

    loaded.backend.session = Broken()
    with pytest.raises(estuary.ArtifactError, match="fails to run in onnxruntime .*Fail"):
        loaded.predict_one({})


@pytest.mark.parametrize("outputs, match", [
    ({"probabilities": np.array([[0.5, 0.5]])}, "not the estuary contract"),
    ({"probabilities": np.array([[0.5, 0.5]]), "label": np.array([2])}, r"outside 0\.\.1"),
    ({"probabilities": np.array([[0.5, 0.5]]), "label": np.array([-1])}, r"outside 0\.\.1"),
    ({"probabilities": np.array([[0.5, 0.5]]), "label": np.array([0.5])}, "not a class index"),
    ({"probabilities": np.array([[1.0]]), "label": np.array([0])}, r"shape \(1, 1\)"),
])
def test_outputs_off_the_contract_are_artifact_errors(artifact, outputs, match):
    # e.g. a Core ML artifact whose class labels fall outside 0..C-1, or fewer classes than
    # outputs: the caller sees an ArtifactError, never an IndexError
    loaded = estuary.load(artifact)
    loaded.backend.run = lambda X: outputs
    with pytest.raises(estuary.ArtifactError, match=match):
        loaded.predict_one({})
    with pytest.raises(estuary.ArtifactError, match=match):
        loaded.predict_proba_one({})


def test_numbers_beyond_float_range_name_the_feature(artifact):
    from fractions import Fraction

    loaded = estuary.load(artifact)
    for value in (10 ** 400, -(10 ** 400), Fraction(10 ** 400, 3)):
        with pytest.raises(estuary.InvalidInputError, match="beyond the float64 range") as e:
            loaded.predict_one({"https": value})
        assert e.value.field == "https"
    assert loaded.predict_one({"https": 10 ** 300}) in (False, True)  # large but a float


@pytest.mark.parametrize("rows", [5, {"https": 1.0}, "rows", None])
def test_many_needs_a_list_of_rows(artifact, rows):
    loaded = estuary.load(artifact)
    for many in (loaded.predict_many, loaded.predict_proba_many):
        with pytest.raises(estuary.InvalidInputError, match="a list of dict rows") as e:
            many(rows)
        assert e.value.field == "<rows>"
    assert loaded.predict_many(iter([{}, {}])) == [loaded.predict_one({})] * 2


def test_predict_proba_on_a_regressor_is_a_wrong_task_error(tmp_path):
    model, rows = learned_case("scaler|linreg")
    loaded = estuary.load(estuary.export(model, tmp_path / "r.onnx", sample=rows[:8]).path)
    with pytest.raises(estuary.WrongTaskError, match="use predict_one"):
        loaded.predict_proba_one(rows[0])
    assert isinstance(loaded.predict_one(rows[0]), float)


# ------------------------------------------------------------------ issue 18: the golden check


def test_golden_check_compares_labels_relabelled_classes(artifact):
    _edit_meta(artifact, lambda m: json.dumps({**m, "classes": m["classes"][::-1]}))
    with pytest.raises(estuary.GoldenCheckError, match="where River predicted"):
        estuary.load(artifact)


def test_golden_check_compares_labels_argmax_to_argmin(artifact):
    from artifact_mutants import _restamp

    proto = onnx.load(artifact)
    node = next(n for n in proto.graph.node if n.op_type == "ArgMax")
    node.op_type = "ArgMin"
    onnx.save(proto, artifact)
    _restamp(artifact)  # probabilities still reproduce: only the labels show it
    with pytest.raises(estuary.GoldenCheckError, match="gives the label"):
        estuary.load(artifact)


def test_golden_labels_are_river_predictions(artifact, phishing_model):
    model, rows = phishing_model
    meta = estuary.load(artifact).metadata
    assert len(meta.golden_labels) == len(meta.golden_inputs) >= 3
    rows = [{c: v for c, v in zip(meta.schema.columns, r) if v is not None}
            for r in meta.golden_inputs]  # numeric schema: columns are the raw keys
    assert list(meta.golden_labels) == [model.predict_one(x) for x in rows]


def test_an_artifact_without_golden_vectors_is_refused_unless_asked(artifact):
    _edit_meta(artifact, lambda m: json.dumps(
        {**m, "golden_inputs": [], "golden_outputs": [], "golden_labels": []}))
    with pytest.raises(estuary.NoGoldenVectorsError, match="require_golden=False"):
        estuary.load(artifact)
    assert estuary.load(artifact, require_golden=False).predict_one({}) in (False, True)


def test_byte_corruption_is_refused_by_the_embedded_digest(artifact):
    from artifact_mutants import read_meta

    assert json.loads(read_meta(artifact, "onnx"))["integrity"].startswith("sha256:")
    assert estuary.load(artifact).check_integrity() is True
    _edit_meta(artifact, lambda m: json.dumps({**m, "source": "edited"}), restamp=False)
    with pytest.raises(estuary.IntegrityError, match="do not match the SHA-256"):
        estuary.load(artifact)


def test_cli_inspect_broken_or_unverifiable_artifact_exits_2_in_one_line(artifact, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from estuary.cli import app

    broken = _edit_meta(shutil.copy(artifact, tmp_path / "broken.onnx"), lambda m: "[1, 2, 3]")
    bare = _edit_meta(shutil.copy(artifact, tmp_path / "bare.onnx"), lambda m: json.dumps(
        {**m, "golden_inputs": [], "golden_outputs": [], "golden_labels": []}))
    runner = CliRunner()
    for path, match in ((broken, "not an object"), (bare, "embeds no golden vectors")):
        result = runner.invoke(app, ["inspect", str(path)])
        assert result.exit_code == 2, result.output
        assert match in result.output and "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)
        result = runner.invoke(app, ["inspect", "--json", str(path)])
        assert result.exit_code == 2
        assert json.loads(result.stdout)["exit_code"] == 2


# ------------------------------------------------------------------ issue 18, item 9: River edge cases


def test_empty_pipeline_is_refused():
    with pytest.raises(estuary.UnsupportedModelError, match="the pipeline has no steps"):
        to_ir(compose.Pipeline())


@pytest.mark.parametrize("suffix", [".onnx", ".pmml", ".mlmodel", ".tfjs"])
def test_union_of_nothing_is_refused_in_every_format(tmp_path, suffix):
    model = compose.TransformerUnion() | linear_model.LinearRegression()
    model.learn_one({"a": 1.0}, 1.0)
    with pytest.raises(estuary.UnsupportedModelError, match="TransformerUnion has no transformers"):
        estuary.export(model, tmp_path / f"m{suffix}")
    assert list(tmp_path.iterdir()) == []


def test_tuple_keys_are_unsupported_and_named():
    model = linear_model.LogisticRegression()
    model.learn_one({("a", 1): 1.0}, True)
    with pytest.raises(estuary.UnsupportedModelError, match=r"\('a', 1\) cannot be stored") as e:
        to_ir(model)
    assert not isinstance(e.value, estuary.EmptyModelError)


def test_one_class_is_an_empty_model_error_everywhere():
    # one rule for every classifier: having seen one class is having learned too little
    # (learn more), not an unsupported model
    from river import naive_bayes, tree

    for model in (naive_bayes.GaussianNB(), tree.HoeffdingTreeClassifier()):
        model.learn_one({"a": 1.0}, "only")
        model.learn_one({"a": 2.0}, "only")
        with pytest.raises(estuary.EmptyModelError, match="only the class") as e:
            to_ir(model)
        assert not isinstance(e.value, estuary.UnsupportedModelError)


def test_empty_feature_key_is_refused_in_pmml_and_works_in_onnx(tmp_path):
    model = linear_model.LinearRegression()
    for i in range(20):
        model.learn_one({"": float(i), "b": 1.0}, 2.0 * i)
    with pytest.raises(estuary.UnsupportedModelError, match="the feature key ''"):
        estuary.export(model, tmp_path / "m.pmml")
    assert not (tmp_path / "m.pmml").exists()
    loaded = estuary.load(estuary.export(model, tmp_path / "m.onnx").path)
    assert loaded.predict_one({"": 3.0, "b": 1.0}) == pytest.approx(
        model.predict_one({"": 3.0, "b": 1.0}), abs=1e-12)


def test_cli_inspect_sizes_a_directory_artifact_by_its_files(tmp_path):
    from typer.testing import CliRunner

    from estuary.api import artifact_size
    from estuary.cli import app

    model, rows = learned_case("scaler|linreg")
    path = estuary.export(model, tmp_path / "m.tfjs", sample=rows[:8]).path
    result = CliRunner().invoke(app, ["inspect", "--json", str(path)])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["size_bytes"] == artifact_size(path) == sum(
        f.stat().st_size for f in path.iterdir())
    assert facts["golden"]["passed"] and facts["golden"]["vectors"] >= 3


@pytest.mark.parametrize("path", [123, None, "model\0.onnx", "x" * 5000 + ".onnx"])
def test_load_of_something_that_is_not_a_path(path):
    with pytest.raises(estuary.ArtifactError, match="(pass the path|does not exist)"):
        estuary.load(path)


def test_verify_needs_no_golden_vectors(artifact, phishing_model):
    # parity against the model itself is the stronger check: it does not need them
    model, rows = phishing_model
    _edit_meta(artifact, lambda m: json.dumps(
        {**m, "golden_inputs": [], "golden_outputs": [], "golden_labels": []}))
    with pytest.raises(estuary.NoGoldenVectorsError):
        estuary.load(artifact)
    assert estuary.verify(model, artifact, rows[:50]).passed


def test_tfjs_digest_covers_its_shards_and_ignores_stray_files(tmp_path):
    model, rows = learned_case("scaler|linreg")
    path = estuary.export(model, tmp_path / "m.tfjs", sample=rows[:8]).path
    (path / ".DS_Store").write_bytes(b"\0junk")  # a stray file is not part of the artifact
    assert estuary.load(path).check_integrity() is True
    shard = next(p for p in path.iterdir() if p.suffix == ".bin")
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))
    with pytest.raises(estuary.ArtifactError):  # whichever check sees it first
        estuary.load(path)
    with pytest.raises(estuary.IntegrityError, match="do not match the SHA-256"):
        estuary.load(path, check=False).check_integrity()


def test_supported_list_leaves_out_classes_refused_in_every_format():
    """"cannot convert river.reco.normal.RandomNormal (...). Supported: ..., river.reco.RandomNormal"
    contradicted itself: a class registered only to say why it is refused is not supported."""
    from river import reco

    with pytest.raises(estuary.UnsupportedModelError) as unknown:
        estuary.export(object(), "x.onnx")
    refused = sorted(registry.qualname(t) for t, ex in registry.EXTRACTORS.items() if ex.refusal)
    assert "river.reco.RandomNormal" in refused and "river.cluster.CluStream" in refused
    assert not set(refused) & set(unknown.value.supported)
    assert "river.linear_model.LogisticRegression" in unknown.value.supported
    assert "river.reco.RandomNormal" not in str(unknown.value)
    model = reco.RandomNormal()
    model.learn_one("u", "i", 3.0)
    with pytest.raises(estuary.UnsupportedModelError, match="random.gauss") as random_normal:
        estuary.export(model, "x.onnx")
    assert "river.reco.RandomNormal" not in random_normal.value.supported


def test_verify_against_an_artifact_of_another_task_says_so(phishing_model, tmp_path):
    """A classifier verified against a clusterer's artifact: a typed error naming both, not a
    FAIL report whose every row "the original model rejects"."""
    from river import cluster

    km = cluster.KMeans(n_clusters=2, seed=1)
    rows = [x for x, _ in datasets.Phishing().take(50)]
    for x in rows:
        km.learn_one(x)
    estuary.export(km, tmp_path / "km.onnx", sample=rows[:5])
    with pytest.raises(estuary.errors.WrongTaskError) as e:
        estuary.verify(phishing_model[0], tmp_path / "km.onnx", rows)
    assert str(e.value) == (
        f"{tmp_path / 'km.onnx'} holds a cluster model (river.cluster.KMeans) and the model "
        "is a classification model (river.compose.Pipeline): verify an artifact against the "
        "model it was exported from")
