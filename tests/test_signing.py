"""Signed artifacts and store manifests (issue 18): Ed25519 signatures written at export and
publish, checked by `estuary.load`, the store's readers and the server when a key is trusted.
Every format is signed and verified for real (the artifact then loads in its runtime)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import httpx
import pytest
from river import linear_model, preprocessing
from typer.testing import CliRunner

import estuary
from estuary.cli import app
from estuary.errors import ArtifactError, SignatureError, SigningKeyError
from estuary.online import Learner, Store
from estuary.online.server import create_app
from estuary.online.testing import logreg, phishing, running_server
from estuary.signing import (
    SIGNING_KEY_ENV,
    TRUSTED_KEY_ENV,
    generate_keypair,
    signature_path,
    trusted_key,
)

FORMATS = ("onnx", "pmml", "mlmodel", "tfjs")


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    private, public = generate_keypair(d / "release.key")
    other, other_pub = generate_keypair(d / "other.key")
    return {"private": private, "public": public, "other": other, "other_pub": other_pub}


@pytest.fixture(scope="module")
def learned():
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    rows = []
    for x, y in phishing(300):
        model.learn_one(x, y)
        rows.append(x)
    return model, rows


@pytest.fixture(scope="module")
def signed(tmp_path_factory, keys, learned) -> dict[str, Path]:
    model, rows = learned
    d = tmp_path_factory.mktemp("signed")
    return {fmt: estuary.export(model, d / f"model.{fmt}", sample=rows[:20],
                                signing_key=keys["private"]).path for fmt in FORMATS}


def fresh(src: Path, dst: Path) -> Path:
    """A copy of a signed artifact with its signature (inside a TF.js directory, or beside)."""
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copyfile(src, dst)
        shutil.copyfile(signature_path(src), signature_path(dst))
    return dst


def flip_a_byte(path: Path) -> None:
    """Flip one byte in the middle of the artifact's weights (TF.js) or file."""
    target = next(path.glob("*.bin")) if path.is_dir() else path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))


@pytest.mark.parametrize("fmt", FORMATS)
def test_signed_artifact_loads_with_the_trusted_key_and_predicts(signed, keys, learned, fmt):
    model, rows = learned
    path = signed[fmt]
    sig = json.loads(signature_path(path).read_text())
    assert sig["algorithm"] == "Ed25519" and sig["key_id"] == _key_id(keys["public"])
    assert signature_path(path) == (path / "model.json.sig" if fmt == "tfjs"
                                    else path.with_name(path.name + ".sig"))
    loaded = estuary.load(path, trusted_key=keys["public"])
    assert loaded.predict_many(rows[:50]) == [model.predict_one(x) for x in rows[:50]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_tampered_byte_is_refused(signed, keys, fmt, tmp_path):
    path = fresh(signed[fmt], tmp_path / signed[fmt].name)
    flip_a_byte(path)
    with pytest.raises(SignatureError, match="changed after it was signed"):
        estuary.load(path, trusted_key=keys["public"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_unsigned_is_refused_when_a_key_is_trusted(signed, keys, fmt, tmp_path):
    path = fresh(signed[fmt], tmp_path / signed[fmt].name)
    signature_path(path).unlink()
    with pytest.raises(SignatureError, match="unsigned"):
        estuary.load(path, trusted_key=keys["public"])
    assert estuary.load(path, trusted_key=False).predict_one({}) is not None  # not asked: loads


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_signature_by_another_key_is_refused(signed, keys, fmt):
    with pytest.raises(SignatureError, match="not by the trusted key"):
        estuary.load(signed[fmt], trusted_key=keys["other_pub"])


def test_a_forged_signature_file_is_refused(signed, keys, tmp_path):
    # the attacker edits the model and writes its new digest into the signature file
    path = fresh(signed["onnx"], tmp_path / "model.onnx")
    flip_a_byte(path)
    import hashlib

    doc = json.loads(signature_path(path).read_text())
    doc["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    signature_path(path).write_text(json.dumps(doc))
    with pytest.raises(SignatureError, match="does not verify"):
        estuary.load(path, trusted_key=keys["public"])
    signature_path(path).write_text("[1, 2")
    with pytest.raises(SignatureError, match="not an estuary signature file"):
        estuary.load(path, trusted_key=keys["public"])


def test_the_trusted_key_comes_from_the_environment(signed, keys, tmp_path, monkeypatch):
    path = fresh(signed["onnx"], tmp_path / "model.onnx")
    monkeypatch.setenv(TRUSTED_KEY_ENV, str(keys["public"]))
    estuary.load(path)
    signature_path(path).unlink()
    with pytest.raises(SignatureError, match="unsigned"):
        estuary.load(path)
    monkeypatch.setenv(TRUSTED_KEY_ENV, str(tmp_path / "missing.pub"))
    with pytest.raises(SigningKeyError, match="cannot read the trusted key"):
        estuary.load(path)


def test_keys_are_read_in_every_documented_form(keys):
    from cryptography.hazmat.primitives import serialization

    key = trusted_key(keys["public"])
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for spec in (str(keys["public"]), keys["public"].read_text(), raw, keys["private"], key):
        assert _raw(trusted_key(spec)) == raw
    with pytest.raises(SigningKeyError, match="not an Ed25519 public key"):
        trusted_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_export_signs_with_the_environment_key_and_is_deterministic(keys, learned, tmp_path,
                                                                    monkeypatch):
    model, rows = learned
    monkeypatch.setenv(SIGNING_KEY_ENV, str(keys["private"]))
    first = estuary.export(model, tmp_path / "a.onnx", sample=rows[:20]).path
    second = estuary.export(model, tmp_path / "b.onnx", sample=rows[:20]).path
    assert first.read_bytes() == second.read_bytes()
    assert signature_path(first).read_bytes() == signature_path(second).read_bytes()
    # exported again without a key: the old signature (now of other bytes) is removed
    monkeypatch.delenv(SIGNING_KEY_ENV)
    estuary.export(model, first, sample=rows[:10])
    assert not signature_path(first).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "b.onnx", "b.onnx.sig"]


def test_keygen_and_export_cli(keys, learned, tmp_path):
    import pickle

    runner = CliRunner()
    result = runner.invoke(app, ["keygen", str(tmp_path / "k"), "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert stat.S_IMODE(os.stat(facts["private_key"]).st_mode) == 0o600
    assert facts["key_id"] == _key_id(Path(facts["public_key"]))
    again = runner.invoke(app, ["keygen", str(tmp_path / "k")])
    assert again.exit_code == 2 and "already exists" in again.output
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(learned[0]))
    result = runner.invoke(app, ["export", str(tmp_path / "m.pkl"), "--out", str(tmp_path),
                                 "--signing-key", facts["private_key"], "--json"])
    assert result.exit_code == 0, result.output
    estuary.load(tmp_path / "model.onnx", trusted_key=facts["public_key"])
    bad = runner.invoke(app, ["export", str(tmp_path / "m.pkl"), "--out", str(tmp_path),
                              "--signing-key", str(keys["public"])])
    assert bad.exit_code == 2 and "not an unencrypted Ed25519 private key" in bad.output


# ---------------------------------------------------------------------------- store and server


def _publish(root: Path, n: int, signing_key, events: int = 200) -> None:
    learner = Learner(logreg(), store=Store(root, signing_key=signing_key), formats=["onnx"])
    for x, y in phishing(events * n)[events * (n - 1):]:
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    learner.close()


def test_publish_signs_the_manifest_and_artifacts_and_readers_check(keys, tmp_path):
    root = tmp_path / "store"
    _publish(root, 1, keys["private"])
    version = Store(root, trusted_key=keys["public"]).open()
    assert {"model.onnx", "model.onnx.sig"} <= set(version.manifest.files)
    assert (version.path / "manifest.json.sig").is_file()
    assert (root / "public_key.pem").read_bytes() == keys["public"].read_bytes()
    Store(root, trusted_key=keys["public"]).load()
    with pytest.raises(SignatureError, match="not by the trusted key"):
        Store(root, trusted_key=keys["other_pub"]).open()
    manifest = version.path / "manifest.json"
    (version.path / "manifest.json.sig").unlink()
    with pytest.raises(SignatureError, match="unsigned") as e:
        Store(root, trusted_key=keys["public"]).open(1)
    message = str(e.value)  # names the file and says to publish, not to export
    assert message.startswith(f"{version.path / 'manifest.json.sig'} is missing: this store "
                              "version is unsigned")
    assert "publish it again with $ESTUARY_SIGNING_KEY set (`estuary learn`" in message
    assert "export it" not in message
    assert Store(root).open(1).number == 1  # no key trusted: the SHA-256 checks only
    assert manifest.is_file()


def test_server_with_a_trusted_key_refuses_unsigned_versions_and_keeps_the_previous(
        keys, tmp_path):
    root = tmp_path / "store"
    _publish(root, 1, keys["private"])
    app_ = create_app(root, poll=0.02, trusted_key=keys["public"])
    with running_server(app_) as url, httpx.Client(base_url=url) as http:
        assert http.get("/healthz").json()["version"] == 1
        _publish(root, 2, False)  # unsigned
        _wait(lambda: "2" in http.get("/healthz").json()["refused"])
        why = http.get("/healthz").json()["refused"]["2"]
        assert why.startswith("SignatureError") and "unsigned" in why
        assert http.post("/predict", json={"x": phishing(1)[0][0]}).json()["version"] == 1
        _publish(root, 3, keys["other"])  # signed, by a key the server does not trust
        _wait(lambda: "3" in http.get("/healthz").json()["refused"])
        assert "not by the trusted key" in http.get("/healthz").json()["refused"]["3"]
        _publish(root, 4, keys["private"])
        _wait(lambda: http.get("/healthz").json()["version"] == 4)
        sig = http.get("/models/4/manifest.json.sig")
        assert sig.status_code == 200 and json.loads(sig.content)["algorithm"] == "Ed25519"
        assert http.get("/models/4/model.onnx.sig").status_code == 200
        assert http.get("/models/2/model.onnx").status_code == 404  # unsigned: not handed out


def test_server_refuses_a_key_file_that_is_not_a_key(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "bad.pub").write_text("hello")
    with pytest.raises(SigningKeyError):
        create_app(tmp_path / "store", trusted_key=tmp_path / "bad.pub")
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "store"), "--trusted-key",
                                      str(tmp_path / "bad.pub")])
    assert result.exit_code == 2 and "not an Ed25519 public key" in result.output


def test_a_tfjs_shard_symlinked_out_of_the_artifact_is_refused(signed, tmp_path):
    path = fresh(signed["tfjs"], tmp_path / "model.tfjs")
    shard = next(path.glob("*.bin"))
    outside = tmp_path / "outside.bin"
    shutil.copyfile(shard, outside)  # same bytes: only the link is wrong
    shard.unlink()
    shard.symlink_to(outside)
    with pytest.raises(ArtifactError, match="resolves outside"):
        estuary.load(path, trusted_key=False)


# ---------------------------------------------------------------------------- helpers


def _raw(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_id(public: Path) -> str:
    import hashlib

    return hashlib.sha256(_raw(trusted_key(public))).hexdigest()[:16]


def _wait(predicate, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_scikit_learn_export_is_signed_too(keys, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X = [[float(i), float(i % 3)] for i in range(60)]
    y = [i % 2 for i in range(60)]
    path = estuary.export(LogisticRegression().fit(X, y), tmp_path / "sk.onnx", sample=X[:10],
                          signing_key=keys["private"]).path
    assert estuary.load(path, trusted_key=keys["public"]).predict_one({"x0": 1.0, "x1": 2.0}) \
        in (0, 1)
    flip_a_byte(path)
    with pytest.raises(SignatureError, match="changed after it was signed"):
        estuary.load(path, trusted_key=keys["public"])
