"""PMML 4.4 export, run in JPMML-Evaluator (Java): parity with River for every catalogue case
the emitter supports, a clear refusal for the others, and hostile or tampered files refused."""

from __future__ import annotations

import re
import time
from pathlib import Path

import defusedxml  # noqa: F401,E402  (a missing runtime fails the suite)
import jpmml_evaluator  # noqa: F401,E402
import numpy as np
import pytest

import estuary  # noqa: E402
from estuary import runtimes  # noqa: E402
from estuary.converters import pmml  # noqa: E402,F401  (registers the format)
from estuary.converters.river_to_ir import to_ir  # noqa: E402
from estuary.errors import ArtifactError, EstuaryError, GoldenCheckError  # noqa: E402
from estuary.parity import compare  # noqa: E402
from estuary.parity.probes import probe_rows  # noqa: E402
from estuary.runtimes import jpmml  # noqa: E402
from estuary.snapshot import take_snapshot  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def jvm():
    """Start the JVM once for the module (it cannot be restarted within a process)."""
    start = time.perf_counter()
    jpmml.java_backend()
    return time.perf_counter() - start


def unsupported(node) -> set[str]:
    """IR node types inside `node` that the PMML emitter has no rule for."""
    import dataclasses

    from estuary import ir
    from estuary.converters.registry import EMITTERS

    missing = set()
    if isinstance(node, (ir.Transform, ir.Estimator)) and ("pmml", type(node)) not in EMITTERS:
        missing.add(type(node).__name__)
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            missing |= unsupported(getattr(node, f.name))
    elif isinstance(node, tuple):
        for v in node:
            missing |= unsupported(v)
    return missing


def test_parity_in_jpmml(case, tmp_path):
    case_id, model, rows = case
    path = tmp_path / "model.pmml"
    missing = unsupported(to_ir(model))
    if missing:  # refused with the node's name, and nothing written
        with pytest.raises(estuary.UnsupportedModelError, match=sorted(missing)[0]):
            estuary.export(model, path, sample=rows[:50])
        assert not path.exists()
        return
    exported = estuary.export(model, path, sample=rows[:50])
    loaded = runtimes.load(path)
    assert loaded.runtime.name == "jpmml-evaluator"
    assert loaded.metadata.ir_hash == exported.ir_hash
    report = compare(model, loaded, probe_rows(to_ir(model), rows))
    assert report.passed, report.to_text()  # every row within 1e-9 (relative above 1)
    assert report.tolerance == 1e-9 and report.precision == "float64"
    if report.task == "classification":
        assert report.label_agreement == 1.0


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    from conftest import learned

    model, rows = learned("scaler|logreg")
    path = tmp_path_factory.mktemp("pmml") / "model.pmml"
    estuary.export(model, path, sample=rows[:20])
    return path


def test_deterministic_and_predicts_like_river(artifact, tmp_path):
    from conftest import learned

    model, rows = learned("scaler|logreg")
    snap = take_snapshot(model, rows[:20])
    again = estuary.write_snapshot(snap, tmp_path / "again.pmml").path
    assert again.read_bytes() == artifact.read_bytes()
    loaded = runtimes.load(artifact)
    for x in rows[:5] + [{}]:
        assert loaded.predict_one(x) == model.predict_one(x)
        got, want = loaded.predict_proba_one(x), model.predict_proba_one(x)
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) <= 1e-12 for k in want)
    assert loaded.run(np.empty((0, loaded.encoder.n_columns)))["label"].shape == (0,)


def _rewrite(src: Path, dst: Path, old: str, new: str, count: int = 1) -> Path:
    text = src.read_text()
    assert old in text, old
    dst.write_text(text.replace(old, new, count))
    return dst


@pytest.mark.parametrize("content, match", [
    (b"", "not well-formed XML"),
    (b"this is not XML", "not well-formed XML"),
    (b'{"json": true}', "not well-formed XML"),
    (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>', "not a PMML 4.x"),
])
def test_refuses_what_is_not_pmml(tmp_path, content, match):
    path = tmp_path / "bad.pmml"
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match=match):
        runtimes.load(path)


def test_refuses_truncated(artifact, tmp_path):
    path = tmp_path / "cut.pmml"
    path.write_bytes(artifact.read_bytes()[: artifact.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="not well-formed"):
        runtimes.load(path)


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE PMML [<!ENTITY e "x">]>',
    '<!DOCTYPE PMML SYSTEM "http://example.invalid/pmml.dtd">',
    '<!DOCTYPE PMML [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
])
def test_refuses_dtd_and_entities(artifact, tmp_path, doctype):
    path = tmp_path / "dtd.pmml"
    text = artifact.read_text()
    declaration_end = text.index("?>") + 2
    path.write_text(text[:declaration_end] + doctype + text[declaration_end:])
    with pytest.raises(ArtifactError, match="DTD or entities"):
        runtimes.load(path)


def test_refuses_pmml_3(artifact, tmp_path):
    text = artifact.read_text().replace("PMML-4_4", "PMML-3_2").replace(
        'version="4.4"', 'version="3.2"')
    path = tmp_path / "old.pmml"
    path.write_text(text)
    with pytest.raises(ArtifactError, match="not a PMML 4.x"):
        runtimes.load(path)


def test_refuses_without_metadata(artifact, tmp_path):
    path = _rewrite(artifact, tmp_path / "nometa.pmml", 'name="estuary" value=', 'name="x" value=')
    with pytest.raises(ArtifactError, match="no estuary metadata"):
        runtimes.load(path)


def test_refuses_what_jpmml_cannot_load(artifact, tmp_path):
    path = _rewrite(artifact, tmp_path / "broken.pmml", '<FieldRef field="', '<FieldRef field="nope')
    with pytest.raises(ArtifactError, match="does not (load|evaluate) in JPMML-Evaluator"):
        runtimes.load(path)


def test_tampered_model_verification(artifact, tmp_path):
    text = artifact.read_text()
    golden = re.search(r"<y1>([^<]+)</y1>", text).group(1)
    flipped = repr(1.0 - float(golden))
    path = _rewrite(artifact, tmp_path / "golden.pmml", f"<y1>{golden}</y1>", f"<y1>{flipped}</y1>")
    with pytest.raises(GoldenCheckError, match="ModelVerification"):
        runtimes.load(path)


def test_tampered_weights(artifact, tmp_path):
    text = artifact.read_text()
    weight = re.search(r'<Apply function="\*">\s*<FieldRef field="[^"]+" />\s*'
                       r'<Constant dataType="double">([^<]+)</Constant>', text).group(1)
    path = _rewrite(artifact, tmp_path / "weights.pmml",
                    f">{weight}</Constant>", f">{float(weight) + 1.0!r}</Constant>")
    with pytest.raises(GoldenCheckError):
        runtimes.load(path)


def test_tampered_metadata_golden(artifact, tmp_path):
    text = artifact.read_text()
    outputs = re.search(r"golden_outputs&quot;:\[\[([-0-9.e]+)", text).group(1)
    path = _rewrite(artifact, tmp_path / "meta.pmml", f"golden_outputs&quot;:[[{outputs}",
                    f"golden_outputs&quot;:[[{float(outputs) + 0.25!r}")
    with pytest.raises(GoldenCheckError, match="golden vectors"):
        runtimes.load(path)  # JPMML's own check passes: estuary's re-run catches it


def test_no_java_says_how_to_install(monkeypatch):
    import jpmml_evaluator.jpype as backend_module
    import jpype

    def no_jvm():
        raise jpype.JVMNotFoundException("No JVM shared library file (libjvm.so) found")

    monkeypatch.setattr(jpmml, "_backend", None)
    monkeypatch.setattr(backend_module, "JPypeBackend", no_jvm)
    with pytest.raises(EstuaryError, match="openjdk-17-jre-headless"):
        jpmml.java_backend()


@pytest.mark.parametrize("leaf_prediction", ["nb", "nba"])
def test_naive_bayes_leaves_over_a_nominal_feature_with_the_key_missing(tmp_path, leaf_prediction):
    # issue 18: `if(equal(x, 1.0), ...)` on a missing one-hot column made JPMML raise
    # MissingArgumentException for every row without the nominal key; River adds nothing then
    from conftest import dataset_rows
    from river import tree

    model = tree.HoeffdingTreeClassifier(leaf_prediction=leaf_prediction, grace_period=50,
                                         nominal_attributes=["is_popular", "ip_in_url"])
    rows = [dict(x) for x, _ in dataset_rows("Phishing")]
    for x, (_, y) in zip(rows, dataset_rows("Phishing")):
        model.learn_one(x, y)
    schema = to_ir(model).schema
    assert {f.key: f.kind for f in schema.features}["is_popular"] == "categorical"
    loaded = runtimes.load(estuary.export(model, tmp_path / "nb.pmml", sample=rows[:20]).path)
    absent = [{k: v for k, v in x.items() if k != key} for key in ("is_popular", "ip_in_url")
              for x in rows[:150]]
    got = loaded.predict_proba_many(absent)
    want = np.array([[model.predict_proba_one(x).get(c, 0.0) for c in loaded.classes]
                     for x in absent])
    assert np.abs(got - want).max() <= 1e-12
    assert loaded.predict_many(absent) == [model.predict_one(x) for x in absent]
    report = compare(model, loaded, probe_rows(to_ir(model), rows[:200] + absent))
    assert report.passed and report.label_agreement == 1.0, report.to_text()


@pytest.mark.parametrize("old, new", [
    ('optype="continuous"', 'optype="continuoua"'),  # a flipped byte in an enum
    ('<Value value="True" />', '<Value value="Yes" />'),  # a renamed class
])
def test_edited_documents_are_artifact_errors(artifact, tmp_path, old, new):
    # issue 18: these raised AttributeError inside jpmml_evaluator or KeyError at predict
    from artifact_mutants import _restamp

    path = _rewrite(artifact, tmp_path / "edited.pmml", old, new)
    _restamp(path)  # past the digest: what reads the document must refuse it
    with pytest.raises(ArtifactError):
        runtimes.load(path).predict_one({})


def test_a_flipped_digit_is_refused_by_the_digest(artifact, tmp_path):
    # the 17th significant digit of a weight: far below what the golden vectors can see
    text = artifact.read_text()
    digit = re.search(r'<Constant dataType="double">-?\d\.\d{10,}(\d)</Constant>', text)
    i = digit.start(1)
    path = tmp_path / "digit.pmml"
    path.write_text(text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:])
    with pytest.raises(estuary.IntegrityError, match="SHA-256"):
        runtimes.load(path)


def test_a_value_that_overflows_inside_the_model_names_the_feature(tmp_path):
    # JPMML refuses a row whose arithmetic leaves float64 (a naive-Bayes leaf squares the value;
    # onnxruntime returns NaN there)
    from conftest import dataset_rows
    from river import tree

    model = tree.HoeffdingTreeClassifier(leaf_prediction="nb", grace_period=50)
    for x, y in dataset_rows("Phishing"):
        model.learn_one(dict(x), y)
    loaded = runtimes.load(estuary.export(model, tmp_path / "nb.pmml").path)
    for value in (1e308, -1e308):
        with pytest.raises(estuary.InvalidInputError, match="overflows float64") as e:
            loaded.predict_proba_one({"https": value})
        assert e.value.field == "https"
    # ±inf never reaches a runtime: the shared row encoder refuses it for every format alike
    with pytest.raises(estuary.OutOfRangeError, match="formats agree on") as e:
        loaded.predict_proba_one({"https": float("inf")})
    assert e.value.field == "https"
    assert set(loaded.predict_proba_one({"https": 1e3})) == {False, True}
