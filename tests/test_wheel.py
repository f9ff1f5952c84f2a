"""The wheel is the product: `pip wheel .`, installed (not editable) into a fresh venv, gives the
web page, the JS client, `estuary setup-js`, working Node runtimes (TF.js, onnxruntime-web) and a
working `estuary serve` page in headless Chromium. Also: the JS package's type declarations name
exactly the module's exports, and TypeScript accepts them.

The fresh venv has no system site-packages: nothing of the dev venv's editable install can leak
into it (checked: `estuary.__file__` is inside it). Its dependencies come from pip's cache, its
npm packages from `npm ci --prefer-offline` (npm's cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from estuary.online.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
PAGE_FILES = ["index.html", "app.js", "runtimes.js", "charts.js", "style.css"]
JS_FILES = ["package.json", "package-lock.json", "src/estuary.js", "src/runner.js",
            "src/tfjs-cpu.js", "types/estuary.d.ts", "types/manifest.d.ts", "README.md"]
TIMINGS: dict[str, float] = {}

pytestmark = pytest.mark.slow

# Runs inside the fresh venv. `export`: artifacts + River's own outputs, then a .tfjs load before
# `estuary setup-js` (must name the command). `load`: both Node runtimes against River.
# `publish`: a store published by a Learner (parity in onnxruntime and TF.js under Node).
VENV_SCRIPT = r'''
import json, sys
from pathlib import Path

import estuary
from estuary.online.testing import logreg, phishing

phase, work = sys.argv[1], Path(sys.argv[2])
stream = phishing()
rows = [x for x, _ in stream[900:960]]  # never learned


def learned(n):
    model = logreg()
    for x, y in stream[:n]:
        model.learn_one(x, y)
    return model


if phase == "where":
    import estuary.assets as a
    print(json.dumps({"estuary": estuary.__file__, "page": str(a.web_demo_dir()),
                      "js": str(a.js_package_dir()), "home": str(a.js_home())}))
elif phase == "export":
    model = learned(300)
    estuary.export(model, work / "m.onnx", sample=rows, check=False)
    estuary.export(model, work / "m.tfjs", sample=rows, check=False)
    expected = [{"label": model.predict_one(x), "p": model.predict_proba_one(x).get(True, 0.0)}
                for x in rows]
    (work / "expected.json").write_text(json.dumps({"rows": rows, "expected": expected}))
    try:
        estuary.load(work / "m.tfjs")
        error = None
    except estuary.UnknownFormatError as e:
        error = {"type": type(e).__name__, "message": str(e)}
    print(json.dumps({"error": error}))
elif phase == "load":
    data = json.loads((work / "expected.json").read_text())
    out = {}
    for name, path, runtime in [("tfjs", "m.tfjs", None),
                                ("onnx-web", "m.onnx", "onnxruntime-web-node")]:
        model = estuary.load(work / path, runtime=runtime)  # golden vectors re-run on load
        got = [model.predict_proba_one(x) for x in data["rows"]]
        labels = [model.predict_one(x) for x in data["rows"]]
        out[name] = {"runtime": model.runtime.name, "version": model.runtime.version,
                     "p": [g.get(True, 0.0) for g in got], "labels": labels,
                     "golden_max_diff": model.check_golden()}
    print(json.dumps(out, default=float))
elif phase == "publish":
    from estuary.online import Learner

    learner = Learner(logreg(), store=work / "store", formats=["onnx", "tfjs"])
    for x, y in stream[:300]:
        learner.learn_one(x, y)
    result = learner.snapshot().result()
    model = learned(300)  # what the Learner learned: River's own outputs for the page's check
    x = rows[0]
    print(json.dumps({"published": result.published, "version": result.version, "x": x,
                      "label": model.predict_one(x), "p": model.predict_proba_one(x)[True]}))
'''


def _run(args, timeout=600, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, **kw)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout[-3000:]}\n" \
                                 f"{done.stderr[-3000:]}"
    return done


def _timed(name: str, *args, **kw) -> subprocess.CompletedProcess:
    start = time.monotonic()
    done = _run(*args, **kw)
    TIMINGS[name] = round(time.monotonic() - start, 1)
    print(f"[test_wheel] {name}: {TIMINGS[name]} s", file=sys.stderr)
    return done


def _source_copy(dest: Path) -> Path:
    """The checkout as a fresh clone plus uncommitted work would be (git's file list): a stale
    build/ or egg-info of the working tree cannot leak into the wheel."""
    files = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for name in filter(None, files.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = _source_copy(tmp / "src")
    _timed("pip wheel . --no-deps", [sys.executable, "-m", "pip", "wheel", ".", "--no-deps",
                                     "-w", tmp / "wheels", "--quiet"], cwd=src)
    (wheel,) = (tmp / "wheels").glob("estuary_ml-*.whl")
    _timed("python -m venv", [sys.executable, "-m", "venv", tmp / "venv"])
    bin_dir = tmp / "venv" / "bin"
    _timed("pip install wheel[online]", [bin_dir / "python", "-m", "pip", "install", "--quiet",
                                         "--disable-pip-version-check", f"{wheel}[online]"])
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "ESTUARY_JS_DIR", "PYTHONHOME")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", ESTUARY_JS_HOME=str(tmp / "js-home"))
    script = tmp / "venv_script.py"
    script.write_text(VENV_SCRIPT)
    work = tmp / "work"
    work.mkdir()
    return {"tmp": tmp, "wheel": wheel, "bin": bin_dir, "env": env, "script": script,
            "work": work}


def _in_venv(venv, phase: str, timeout: float = 300) -> dict:
    done = _timed(f"venv: {phase}", [venv["bin"] / "python", venv["script"], phase, venv["work"]],
                  env=venv["env"], cwd=venv["tmp"], timeout=timeout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_wheel_ships_the_page_and_the_js_client(venv):
    with zipfile.ZipFile(venv["wheel"]) as z:
        names = set(z.namelist())
        for name in PAGE_FILES:
            assert z.read(f"estuary/_assets/web_demo/{name}") == (ROOT / "web_demo" / name).read_bytes()
        for name in JS_FILES:
            assert z.read(f"estuary/_assets/js/{name}") == (ROOT / "js" / name).read_bytes()
    package = _run(["git", "ls-files", "-co", "--exclude-standard", "estuary"], cwd=ROOT).stdout
    shipped = {n for n in package.split() if "__pycache__" not in n and (ROOT / n).is_file()}
    assert not shipped - names, f"package files missing from the wheel: {shipped - names}"
    assert not [n for n in names if "node_modules" in n or "/dist/" in n], "npm output shipped"
    where = _in_venv(venv, "where")
    site = venv["tmp"] / "venv"
    for key in ("estuary", "page", "js"):  # the installed copy, not the checkout
        assert Path(where[key]).is_relative_to(site), (key, where)
    assert Path(where["page"]) == Path(where["estuary"]).parent / "_assets" / "web_demo"
    assert Path(where["home"]) == venv["tmp"] / "js-home"


def test_node_runtimes_from_the_wheel_after_setup_js(venv):
    before = _in_venv(venv, "export")
    assert before["error"] and before["error"]["type"] == "JsSetupError", before
    assert "estuary setup-js" in before["error"]["message"]

    home = venv["tmp"] / "js-home"
    _timed("estuary setup-js", [venv["bin"] / "estuary", "setup-js", "--prefer-offline"],
           env=venv["env"], timeout=600)
    assert (home / "node_modules" / "onnxruntime-web" / "package.json").is_file()
    assert (home / "dist" / "tfjs-cpu.mjs").is_file()  # built by npm ci's postinstall
    assert not (home / "node_modules" / "typescript").exists()  # --omit=dev

    got = _in_venv(venv, "load")
    data = json.loads((venv["work"] / "expected.json").read_text())
    expected = data["expected"]
    assert got["tfjs"]["runtime"].startswith("@tensorflow/tfjs")
    assert got["onnx-web"]["runtime"].startswith("onnxruntime-web")
    for name, tol in [("onnx-web", 1e-12), ("tfjs", 1e-5)]:  # float64 wasm; float32 TF.js
        out = got[name]
        assert out["golden_max_diff"] <= tol, (name, out["golden_max_diff"])
        diffs = [abs(p - e["p"]) for p, e in zip(out["p"], expected, strict=True)]
        assert max(diffs) <= tol, (name, max(diffs))
        for label, e in zip(out["labels"], expected, strict=True):
            if abs(e["p"] - 0.5) > tol:  # else within rounding of the tie
                assert label == e["label"], (name, label, e)


@pytest.fixture()
def served(venv):
    if not (venv["tmp"] / "js-home" / "dist" / "tfjs-cpu.mjs").is_file():
        _timed("estuary setup-js", [venv["bin"] / "estuary", "setup-js", "--prefer-offline"],
               env=venv["env"], timeout=600)
    published = _in_venv(venv, "publish")
    assert (published["published"], published["version"]) == (True, 1), published
    port = free_port()
    proc = subprocess.Popen([venv["bin"] / "estuary", "serve", venv["work"] / "store",
                             "--port", str(port)], env=venv["env"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                    if json.load(r)["version"] == 1:
                        break
            except OSError:
                pass
            assert proc.poll() is None, f"estuary serve exited: {proc.communicate()[1][-3000:]}"
            assert time.monotonic() < deadline, "estuary serve did not serve version 1"
            time.sleep(0.1)
        yield url, published
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_estuary_serve_from_the_wheel_in_chromium(venv, served):
    if not CHROMIUM.exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    url, expected = served
    x = expected["x"]
    start = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
            page.goto(f"{url}/?progressive=0")  # onnxruntime-web (wasm) from the JS home
            try:
                page.wait_for_function("window.estuary", timeout=30_000)
            except Exception as e:
                raise AssertionError(f"the page did not start: {errors}") from e
            page.evaluate("window.estuary.ready")
            for name, value in x.items():
                page.fill(f"#fields [name='{name}']", str(value))
            page.click("#form button[type=submit]")
            page.wait_for_function("document.querySelector('#form-result').dataset.output")
            shown = json.loads(page.get_attribute("#form-result", "data-output"))
            text = page.inner_text("#form-result")
            runtime = page.evaluate("window.estuary.state().runtimeInfo")
        finally:
            browser.close()
    TIMINGS["chromium page"] = round(time.monotonic() - start, 1)
    print(f"[test_wheel] chromium page: {TIMINGS['chromium page']} s", file=sys.stderr)
    assert not errors, errors
    assert runtime["name"] == "onnxruntime-web", runtime
    assert "onnx" in text and "v1" in text, text
    assert shown["label"] == expected["label"]
    assert abs(shown["probabilities"][1] - expected["p"]) <= 1e-6, (shown, expected)


def test_type_declarations_match_the_module_exports():
    """types/estuary.d.ts declares exactly the names src/estuary.js exports (values: functions,
    classes, constants, re-exports), and TypeScript accepts it with the real runtimes' types."""
    js = ROOT / "js"
    if not (js / "node_modules" / "typescript").is_dir():
        pytest.fail("the npm dev packages are missing: run `npm ci --prefix js`")
    node = shutil.which("node")
    assert node, "node (20+) is not on PATH"
    exported = json.loads(_run([node, "--input-type=module", "-e",
                                "const m = await import(process.argv[1]);"
                                "console.log(JSON.stringify(Object.keys(m).sort()))",
                                (js / "src" / "estuary.js").as_uri()]).stdout)
    # the runtime names of the declarations, as the TypeScript compiler sees them
    declared = json.loads(_run([node, "--input-type=module", "-e", DECLARED_NAMES,
                                str(js / "types" / "estuary.d.ts")], cwd=js).stdout)
    assert declared == exported
    assert {"loadOnnx", "loadTfjs", "EstuaryModel", "httpReader"} <= set(declared)
    _run(["npm", "run", "--silent", "check-types"], cwd=js)
    package = json.loads((js / "package.json").read_text())
    assert package["exports"]["."] == {"types": "./types/estuary.d.ts",
                                       "default": "./src/estuary.js"}
    packed = json.loads(_run(["npm", "pack", "--dry-run", "--json", "--ignore-scripts"],
                             cwd=js).stdout)
    files = {f["path"] for f in packed[0]["files"]}
    assert {"src/estuary.js", "src/runner.js", "types/estuary.d.ts", "package.json"} <= files


# exported value names of a .d.ts (declared functions, classes, consts), by TypeScript itself
DECLARED_NAMES = r"""
import ts from 'typescript';
import { readFileSync } from 'node:fs';
const file = process.argv[1];
const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
const names = [];
for (const s of source.statements) {
  if (ts.isExportDeclaration(s) && !s.isTypeOnly && s.exportClause && ts.isNamedExports(s.exportClause)) {
    for (const e of s.exportClause.elements) if (!e.isTypeOnly) names.push(e.name.text);
  }
  if (!(ts.getCombinedModifierFlags(s) & ts.ModifierFlags.Export)) continue;
  if (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) names.push(s.name.text);
  if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) names.push(d.name.text);
}
console.log(JSON.stringify([...new Set(names)].sort()));
"""
