"""estuary/assets.py without npm or a wheel: where things are, the JS home's checks, and what
`setup_js` copies and refuses (npm stood in for by a script that lays out what `npm ci` would)."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from estuary import assets
from estuary.assets import JsSetupError
from estuary.errors import UnknownFormatError
from estuary.runtimes.node import js_dir

ROOT = Path(__file__).resolve().parents[1]

# lays out node_modules and the bundle as `npm ci` does, and records its arguments
FAKE_NPM = """#!/bin/sh
echo "$@" > "$(dirname "$0")/npm-args.txt"
echo "$ONNXRUNTIME_NODE_INSTALL_CUDA" > "$(dirname "$0")/npm-cuda.txt"
mkdir -p node_modules/@tensorflow/tfjs node_modules/onnxruntime-web node_modules/onnxruntime-node dist
echo '{}' > node_modules/@tensorflow/tfjs/package.json
echo '{}' > node_modules/onnxruntime-web/package.json
echo '{}' > node_modules/onnxruntime-node/package.json
echo '// bundle' > dist/tfjs-cpu.mjs
"""


@pytest.fixture()
def fake_npm(tmp_path) -> str:
    npm = tmp_path / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    return str(npm)


def test_a_checkout_reads_its_top_level_folders(monkeypatch):
    monkeypatch.delenv(assets.ENV_HOME, raising=False)
    assert assets.web_demo_dir() == ROOT / "web_demo"
    assert assets.js_package_dir() == ROOT / "js"
    assert assets.js_src_dir() == ROOT / "js" / "src"
    assert assets.js_home() == ROOT / "js" == js_dir()
    assert assets.node_modules_dir() == ROOT / "js" / "node_modules"
    assert assets.bundle_dir() == ROOT / "js" / "dist"


def test_a_missing_js_home_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.ENV_HOME, str(tmp_path / "nothing"))
    with pytest.raises(JsSetupError, match="Run `estuary setup-js --dir ") as e:
        assets.require_js_home()
    assert isinstance(e.value, UnknownFormatError)  # as a missing runtime extra is
    assert "@tensorflow/tfjs, onnxruntime-web, onnxruntime-node are not installed" in str(e.value)


def test_setup_js_copies_the_package_runs_npm_ci_and_stamps_it(tmp_path, monkeypatch, fake_npm):
    home = tmp_path / "home"
    monkeypatch.setenv(assets.ENV_HOME, str(home))
    assert assets.setup_js(prefer_offline=True, npm=fake_npm) == home
    assert (tmp_path / "npm-args.txt").read_text().split() == [
        "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline"]
    # onnxruntime-node's install script must not try to download CUDA libraries
    assert (tmp_path / "npm-cuda.txt").read_text().strip() == "skip"
    for name in ("package.json", "package-lock.json", "src/estuary.js", "src/runner.js",
                 "types/estuary.d.ts"):
        assert (home / name).read_bytes() == (ROOT / "js" / name).read_bytes()
    assert json.loads((home / assets.STAMP).read_text())["digest"] == assets.package_digest()
    assert assets.require_js_home() == home

    # a copy from another estuary (its sources differ) is refused until set up again
    (home / "src" / "estuary.js").write_text("// older")
    with pytest.raises(JsSetupError, match="another version of estuary's JS package"):
        assets.require_js_home()
    # a file an earlier setup copied and the package no longer has goes; the user's stay
    (home / "src" / "stale.js").write_text("// gone from the package")
    copied = json.loads((home / assets.COPIED).read_text())
    (home / assets.COPIED).write_text(json.dumps(copied + ["src/stale.js"]))
    (home / "my-notes.txt").write_text("mine")
    assets.setup_js(npm=fake_npm)
    assert not (home / "src" / "stale.js").exists()
    assert (home / "my-notes.txt").read_text() == "mine"
    assert assets.require_js_home() == home


def test_setup_js_refuses_a_folder_that_is_not_ours(tmp_path, fake_npm):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(JsSetupError, match="not empty"):
        assets.setup_js(tmp_path, npm=fake_npm)


def test_setup_js_refuses_a_folder_that_only_looks_like_ours(tmp_path, fake_npm):
    """A copy of package.json is not proof: only a folder a setup filled (it lists its files)."""
    shutil.copyfile(ROOT / "js" / "package.json", tmp_path / "package.json")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(JsSetupError, match="not empty"):
        assets.setup_js(tmp_path, npm=fake_npm)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_setup_js_without_npm_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JsSetupError, match="`npm` is not on PATH"):
        assets.setup_js(tmp_path / "home")
