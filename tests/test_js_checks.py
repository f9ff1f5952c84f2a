"""The JS client's own checks (issue 18), run under Node with the real @tensorflow/tfjs and
onnxruntime-web through js/src/runner.js with `check: true`, as the page runs them: the embedded
SHA-256 (`integrity`), golden labels, a missing golden set, and with a trusted key the Ed25519
signature (js/src/verify.js, WebCrypto). Python's own load is not involved: every refusal here
is the JS client's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import artifact_mutants as am
import pytest
from river import linear_model, preprocessing

import estuary
from estuary.errors import (
    ArtifactError,
    GoldenCheckError,
    IntegrityError,
    NoGoldenVectorsError,
    SignatureError,
)
from estuary.online.testing import phishing
from estuary.runtimes.node import request
from estuary.signing import generate_keypair, signature_path

KINDS = {"onnx": "onnx", "tfjs": "tfjs"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("jskeys")
    generate_keypair(d / "k")
    generate_keypair(d / "other")
    return {"private": str(d / "k"), "public": (d / "k.pub").read_text(),
            "other": (d / "other.pub").read_text()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, keys) -> dict[str, Path]:
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    rows = []
    for x, y in phishing(400):
        model.learn_one(x, y)
        rows.append(x)
    d = tmp_path_factory.mktemp("js")
    return {fmt: estuary.export(model, d / f"model.{fmt}", sample=rows[:20],
                                signing_key=keys["private"]).path for fmt in KINDS}


def js_load(path: Path, **fields) -> dict:
    reply = request("load", kind=KINDS[path.suffix[1:]], path=str(path), check=True, **fields)
    request("unload", model=reply["model"])
    return reply


def fresh(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copyfile(src, dst)
        shutil.copyfile(signature_path(src), signature_path(dst))
    return dst


@pytest.mark.parametrize("fmt", list(KINDS))
def test_js_verifies_the_signature_and_the_digest(exported, keys, fmt):
    reply = js_load(exported[fmt], trusted_key=keys["public"])
    assert reply["golden_max_diff"] is not None
    assert json.loads(reply["metadata"])["integrity"].startswith("sha256:")


@pytest.mark.parametrize("fmt", list(KINDS))
def test_js_refuses_tampered_unsigned_and_other_key(exported, keys, fmt, tmp_path):
    path = fresh(exported[fmt], tmp_path / exported[fmt].name)
    with pytest.raises(SignatureError, match="not by the trusted key"):
        js_load(path, trusted_key=keys["other"])
    target = next(path.glob("*.bin")) if path.is_dir() else path
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(SignatureError, match="changed after it was signed"):
        js_load(path, trusted_key=keys["public"])
    signature_path(path).unlink()
    with pytest.raises(SignatureError, match="unsigned"):
        js_load(path, trusted_key=keys["public"])


@pytest.mark.parametrize("fmt", list(KINDS))
def test_js_checks_the_embedded_digest(exported, fmt, tmp_path):
    # an edit nothing else notices: the IR hash in the metadata, same length, not re-stamped
    path = fresh(exported[fmt], tmp_path / exported[fmt].name)
    main = am.main_file(path)
    meta = json.loads(am.read_meta(path, fmt))
    old = meta["ir_hash"].encode()
    main.write_bytes(main.read_bytes().replace(old, old[::-1], 1))
    with pytest.raises(IntegrityError, match="do not match the SHA-256"):
        js_load(path)


@pytest.mark.parametrize("fmt", list(KINDS))
def test_js_compares_golden_labels(exported, fmt, tmp_path):
    # classes swapped, re-stamped: probabilities still reproduce, every label flips
    path = fresh(exported[fmt], tmp_path / exported[fmt].name)
    meta = json.loads(am.read_meta(path, fmt))
    meta["classes"] = meta["classes"][::-1]
    am.write_meta(path, fmt, json.dumps(meta, sort_keys=True, separators=(",", ":")))
    am._restamp(path)
    with pytest.raises(GoldenCheckError, match="where River predicted"):
        js_load(path)


@pytest.mark.parametrize("fmt", list(KINDS))
def test_js_refuses_an_artifact_without_golden_vectors(exported, fmt, tmp_path):
    path = fresh(exported[fmt], tmp_path / exported[fmt].name)
    meta = json.loads(am.read_meta(path, fmt))
    meta.update(golden_inputs=[], golden_outputs=[], golden_labels=[])
    am.write_meta(path, fmt, json.dumps(meta, sort_keys=True, separators=(",", ":")))
    am._restamp(path)
    with pytest.raises(NoGoldenVectorsError, match="no golden vectors"):
        js_load(path)
    assert js_load(path, require_golden=False)["golden_max_diff"] == 0


def test_js_does_not_follow_a_shard_symlinked_out_of_the_directory(exported, tmp_path):
    path = fresh(exported["tfjs"], tmp_path / "model.tfjs")
    shard = next(path.glob("*.bin"))
    outside = tmp_path / "elsewhere.bin"
    shutil.copyfile(shard, outside)
    shard.unlink()
    shard.symlink_to(outside)
    with pytest.raises(ArtifactError, match="resolves outside"):
        js_load(path)


def test_js_row_encoder_applies_the_range_policy():
    # ±Infinity cannot travel in the runner's JSON: the JS encoder is run in Node directly
    import subprocess

    from estuary.runtimes.node import _node_binary, js_dir

    script = """
    const lib = await import(process.argv[1]);
    const schema = {features: [{name: 'x', key: 'x', kind: 'numeric', categories: []}]};
    const out = [];
    for (const [v, maxAbs] of [[Infinity], [-Infinity], [1e300], [1e300, lib.FLOAT32_MAX],
                               [3e38, lib.FLOAT32_MAX], [2n ** 1100n]]) {
      try {
        out.push(Array.from(new lib.RowEncoder(schema, maxAbs ? {maxAbs} : {}).encode({x: v})));
      } catch (e) { out.push(`${e.name}:${e.field}:${e.message}`); }
    }
    console.log(JSON.stringify(out));
    """
    done = subprocess.run([_node_binary(), "--input-type=module", "-e", script,
                           str(js_dir() / "src" / "estuary.js")],
                          capture_output=True, text=True, timeout=60, check=True)
    got = json.loads(done.stdout)
    assert got[0].startswith("OutOfRangeError:x:feature 'x': inf is not a value")
    assert got[1].startswith("OutOfRangeError:x:feature 'x': -inf is not a value")
    assert got[2] == [1e300]  # a float64 artifact computes with it
    assert got[3].startswith("OutOfRangeError:x:feature 'x': 1e+300 is beyond ±3.4e+38")
    assert got[4] == [3e38]
    assert got[5].startswith("OutOfRangeError:x:feature 'x': inf is not a value")


def _one_golden_row_altered(src: Path, fmt: str, dst: Path, row: int) -> Path:
    """A copy whose golden output `row` is 1 - River's (re-stamped: only the golden check sees it)."""
    path = fresh(src, dst)
    meta = json.loads(am.read_meta(path, fmt))
    meta["golden_outputs"][row] = [1 - v for v in meta["golden_outputs"][row]]
    am.write_meta(path, fmt, json.dumps(meta, sort_keys=True, separators=(",", ":")))
    am._restamp(path)
    return path


@pytest.mark.parametrize("fmt", list(KINDS))
def test_js_golden_check_in_two_parts_refuses_a_bad_row_in_either(exported, fmt, tmp_path):
    # the page's first answer waits for 4 golden rows spread over the set (the first and the
    # last included); check_rest runs the others: a wrong row fails the part it falls in
    meta = json.loads(am.read_meta(exported[fmt], fmt))
    n = len(meta["golden_inputs"])
    assert n >= 8  # spread(n, 4) leaves row 1 out
    first = request("load", kind=KINDS[fmt], path=str(exported[fmt]), check=True, golden_first=4)
    assert first["golden_pending"] == n - 4
    rest = request("check_rest", model=first["model"])
    assert rest["golden_pending"] == 0 and rest["golden_max_diff"] <= 1e-5
    request("unload", model=first["model"])
    for row in (0, n - 1):  # in the first part: refused on load
        bad = _one_golden_row_altered(exported[fmt], fmt, tmp_path / f"{row}{exported[fmt].name}", row)
        with pytest.raises(GoldenCheckError, match="do not reproduce"):
            request("load", kind=KINDS[fmt], path=str(bad), check=True, golden_first=4)
    bad = _one_golden_row_altered(exported[fmt], fmt, tmp_path / exported[fmt].name, 1)
    loaded = request("load", kind=KINDS[fmt], path=str(bad), check=True, golden_first=4)
    assert loaded["golden_pending"] == n - 4
    with pytest.raises(GoldenCheckError, match="do not reproduce"):
        request("check_rest", model=loaded["model"])
    request("unload", model=loaded["model"])
    with pytest.raises(GoldenCheckError, match="do not reproduce"):  # all rows on load: as before
        js_load(bad)
