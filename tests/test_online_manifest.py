"""The typed manifest: dataclasses, the shipped JSON Schema and the JS client's check agree on
real manifests and refuse the same bad ones, naming the field; file names stay inside a version."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from estuary.online import Learner, Store, StoreError
from estuary.online.manifest import (
    SCHEMA_FILE,
    SCHEMA_VERSION,
    FileEntry,
    FormatEntry,
    Manifest,
    ManifestError,
    ParitySummary,
    WorstRow,
    json_schema,
    load_schema,
)
from estuary.online.testing import logreg, phishing
from estuary.parity.report import ParityReport
from estuary.parity.report import WorstRow as ReportWorstRow

MANIFEST_JS = Path(__file__).resolve().parents[1] / "js" / "src" / "manifest.js"


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Store, int]:
    """A real store: a published classifier with ONNX and TF.js artifacts (a file, a folder)."""
    store = Store(tmp_path_factory.mktemp("store"))
    with Learner(logreg(), store=store, formats=["onnx", "tfjs"]) as learner:
        for x, y in phishing(300):
            learner.learn_one(x, y)
        result = learner.snapshot().result()
    assert result.published, result.summary()
    return store, result.version


def validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_the_one_the_dataclasses_give():
    assert SCHEMA_FILE.is_file()
    assert load_schema() == json_schema()  # else: python -m estuary.online.manifest > ...
    defs = load_schema()["$defs"]
    for cls in (Manifest, FormatEntry, ParitySummary, WorstRow, FileEntry):
        fields = dataclasses.fields(cls)
        assert sorted(defs[cls.__name__]["properties"]) == sorted(f.name for f in fields), cls
        required = {f.name for f in fields if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        assert set(defs[cls.__name__]["required"]) == required, cls
        assert defs[cls.__name__]["additionalProperties"] is False
    assert defs["Manifest"]["properties"]["schema_version"] == {"type": "integer",
                                                                "const": SCHEMA_VERSION}


def test_the_parity_summary_stores_every_field_of_a_parity_report():
    assert [f.name for f in dataclasses.fields(ParitySummary)] == \
        [f.name for f in dataclasses.fields(ParityReport)]
    assert [f.name for f in dataclasses.fields(WorstRow)] == \
        [f.name for f in dataclasses.fields(ReportWorstRow)]


def test_a_published_manifest_validates_and_round_trips(published):
    store, number = published
    version = store.open(number)
    data = (version.path / "manifest.json").read_bytes()
    validator().validate(json.loads(data))
    m = version.manifest
    assert isinstance(m, Manifest) and m == Manifest.from_json(data)
    assert m.to_json().encode() == data  # canonical: what the store wrote, byte for byte
    assert (m.schema_version, m.version, m.status, m.published) == (1, number, "published", True)
    assert m.served_formats() == ["onnx", "tfjs"]
    onnx, tfjs = m.formats["onnx"], m.formats["tfjs"]
    assert (onnx.file, onnx.passed, onnx.error, onnx.not_applicable) == \
        ("model.onnx", True, None, None)
    assert isinstance(onnx.report, ParitySummary) and onnx.report.passed is True
    assert onnx.report.precision == "float64" and tfjs.report.precision == "float32"
    assert onnx.report.artifact == "model.onnx" and onnx.report.n_rows > 0
    assert m.files["model.onnx"] == FileEntry(
        m.files["model.onnx"].sha256, (version.path / "model.onnx").stat().st_size)
    assert {n for n in m.files if n.startswith("model.tfjs/")} >= {"model.tfjs/model.json"}
    assert all(isinstance(w, WorstRow) and isinstance(w.row, dict)
               for w in onnx.report.worst_rows)
    assert m.metrics["events"] == 300 and m.n_events == 300


def test_non_finite_floats_are_strings_in_json_and_floats_in_python(published):
    store, number = published
    m = store.open(number).manifest
    report = dataclasses.replace(m.formats["tfjs"].report, max_abs_diff=math.inf,
                                 max_scaled_diff=math.nan)
    odd = dataclasses.replace(m, formats={**m.formats, "tfjs": dataclasses.replace(
        m.formats["tfjs"], report=report, passed=False)})
    data = json.loads(odd.to_json())
    assert data["formats"]["tfjs"]["report"]["max_abs_diff"] == "inf"
    assert data["formats"]["tfjs"]["report"]["max_scaled_diff"] == "nan"
    validator().validate(data)
    back = Manifest.from_dict(data).formats["tfjs"].report
    assert back.max_abs_diff == math.inf and math.isnan(back.max_scaled_diff)


def _set(path: list, value):
    def change(d: dict) -> None:
        for key in path[:-1]:
            d = d[key]
        if value is KeyError:
            del d[path[-1]]
        else:
            d[path[-1]] = value
    return change


def _rename_file(old: str, new: str):
    def change(d: dict) -> None:
        d["files"][new] = d["files"].pop(old)
    return change


# (change to a valid manifest, the field Python names, the field the JS client names or None
# where the JS client does not read that field)
BAD = [
    (_set(["schema_version"], 2), "schema_version", "schema_version"),
    (_set(["ir_hash"], KeyError), "ir_hash", "ir_hash"),
    (_set(["ir_hash"], "abc"), "ir_hash", "ir_hash"),
    (_set(["n_events"], -1), "n_events", "n_events"),
    (_set(["n_events"], "300"), "n_events", "n_events"),
    (_set(["version"], True), "version", "version"),
    (_set(["status"], "draft"), "status", "status"),
    # a task of ir.tasks, or refused (the JS client shows the task, and reads the artifact's)
    (_set(["task"], "clustering"), "task", None),
    (_set(["formats", "onnx", "report", "task"], "score"), "formats.onnx.report.task", None),
    (_set(["surprise"], 1), "surprise", None),
    (_set(["files", "model.onnx", "sha256"], "0" * 63), "files.model.onnx.sha256",
     "files.model.onnx.sha256"),
    (_set(["files", "model.onnx", "size"], -5), "files.model.onnx.size", None),
    (_set(["formats", "onnx", "passed"], "yes"), "formats.onnx.passed", "formats.onnx.passed"),
    (_set(["formats", "onnx", "report", "n_rows"], 1.5), "formats.onnx.report.n_rows",
     "formats.onnx.report.n_rows"),
    (_set(["formats", "onnx", "report", "max_abs_diff"], "big"),
     "formats.onnx.report.max_abs_diff", "formats.onnx.report.max_abs_diff"),
    (_set(["formats", "onnx", "report", "worst_rows", 0, "label_ok"], None),
     "formats.onnx.report.worst_rows[0].label_ok", None),
    (_set(["formats", "onnx", "file"], "../model.onnx"), "formats.onnx.file",
     "formats.onnx.file"),
    (_set(["formats", "onnx", "file"], "/etc/passwd"), "formats.onnx.file", "formats.onnx.file"),
    # not expressible in JSON Schema: a format's file must be one of the version's files
    (_set(["formats", "onnx", "file"], "model.pmml"), "formats.onnx.file", "formats.onnx.file"),
    (_rename_file("model.onnx", "../outside.onnx"), "files.../outside.onnx",
     "files.../outside.onnx"),
    (_rename_file("model.onnx", "/tmp/model.onnx"), "files./tmp/model.onnx",
     "files./tmp/model.onnx"),
    (_rename_file("model.onnx", "model.tfjs/../../x"), "files.model.tfjs/../../x",
     "files.model.tfjs/../../x"),
]


@pytest.mark.parametrize("change, field, _", BAD, ids=[b[1] + "-" + str(i) for i, b in enumerate(BAD)])
def test_a_bad_manifest_is_refused_naming_the_field(published, change, field, _):
    store, number = published
    data = store.open(number).manifest.to_dict()
    bad = copy.deepcopy(data)
    change(bad)
    with pytest.raises(ManifestError) as caught:
        Manifest.from_dict(bad)
    assert caught.value.field == field
    assert f"manifest field {field!r}" in str(caught.value)
    errors = list(validator().iter_errors(bad))
    if bad["formats"]["onnx"]["file"] == "model.pmml":  # a cross-field rule: not in the schema
        assert not errors
    else:
        assert errors, f"the JSON Schema accepts what Manifest refuses ({field})"


def test_the_store_refuses_a_manifest_whose_file_leaves_the_version(published, tmp_path):
    """A manifest naming '../x' (with the right SHA-256) is refused before any file is read."""
    store, number = published
    copy_root = tmp_path / "store"
    shutil.copytree(store.root, copy_root)
    version_dir = copy_root / "versions" / str(number)
    outside = copy_root / "versions" / "secret.bin"
    outside.write_bytes(b"not part of any version")
    data = json.loads((version_dir / "manifest.json").read_text())
    data["files"]["../secret.bin"] = dict(data["files"]["model.onnx"])
    (version_dir / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(StoreError, match="does not match `latest`"):
        Store(copy_root).open(number)  # `latest` names it: its manifest hash is checked first
    (copy_root / "latest").unlink()  # a version `latest` does not name: the manifest is read
    with pytest.raises(ManifestError) as caught:
        Store(copy_root).open(number)
    assert caught.value.field == "files.../secret.bin"
    assert "inside the version directory" in str(caught.value)


def test_a_manifest_from_before_schema_version_reads_as_schema_1(published):
    """Stores published before the typed manifest keep serving: the fields are the same."""
    store, number = published
    data = store.open(number).manifest.to_dict()
    legacy = {k: v for k, v in data.items() if k != "schema_version"}
    assert Manifest.from_dict(legacy) == Manifest.from_dict(data)


def test_a_manifest_from_before_the_typed_one_is_refused_with_the_fix():
    with pytest.raises(ManifestError, match="publish the model again") as caught:
        Manifest.from_json(b'{"version": 1, "formats": {}, "files": {}}')
    assert caught.value.field == "schema_version"
    with pytest.raises(ManifestError) as caught:
        Manifest.from_json(b"{not json")
    assert caught.value.field == "<document>"


def _js_check(manifests: list[dict], version: int | None) -> list:
    """Run js/src/manifest.js's checkManifest on each manifest under Node."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: ./scripts/install.sh installs it"
    script = f"""
import {{ checkManifest, ManifestError }} from {json.dumps(MANIFEST_JS.as_uri())};
import {{ readFileSync }} from 'node:fs';
const {{ manifests, version }} = JSON.parse(readFileSync(0, 'utf8'));
const out = manifests.map((m) => {{
  try {{ checkManifest(m, version ?? undefined); return {{ ok: true }}; }}
  catch (e) {{ return {{ ok: false, name: e.name, field: e.field, isManifestError: e instanceof ManifestError,
                         message: e.message }}; }}
}});
console.log(JSON.stringify(out));
"""
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                          text=True, input=json.dumps({"manifests": manifests,
                                                       "version": version}), timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_js_client_checks_the_fields_it_reads(published):
    store, number = published
    data = store.open(number).manifest.to_dict()
    cases = [(change, js_field) for change, _, js_field in BAD if js_field]
    manifests = [data]
    for change, _ in cases:
        bad = copy.deepcopy(data)
        change(bad)
        manifests.append(bad)
    results = _js_check(manifests, number)
    assert results[0] == {"ok": True}
    for (_, js_field), got in zip(cases, results[1:], strict=True):
        assert got["ok"] is False and got["isManifestError"] and got["name"] == "ManifestError"
        assert got["field"] == js_field, (js_field, got)
        assert got["message"].startswith(f"manifest field '{js_field}': ")
    wrong_version = _js_check([data], number + 1)[0]
    assert (wrong_version["field"], wrong_version["ok"]) == ("version", False)
    assert f"the manifest of version {number + 1} says version {number}" in \
        wrong_version["message"]
