"""The web demo in headless Chromium (Debian's, driven by pip's Playwright) against a real server
over a store a Learner publishes to: predictions equal River's (ONNX within 1e-6, TF.js within
float32 error), a new version is swapped in without a reload or a moment with no model, corrupt
versions are refused while the previous model keeps predicting, bad form input is shown, and a
tree model shows that TF.js is not available for it. Saves test-artifacts/web_demo.png."""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from estuary import integrity
from estuary.online import Learner, Store
from estuary.online.server import create_app
from estuary.online.store import Version
from estuary.online.testing import logreg, phishing, running_server
from estuary.runtimes.node import js_dir

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL = "apt-get install -y chromium  (or: sudo scripts/install-system.sh)"
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ROWS = [x for x, _ in phishing()[900:960]]  # never learned: the Learner sees rows 0..700
TFJS_TOL = 1e-5  # the bound on TF.js (float32) probabilities; measured ~5e-8


def _requirements() -> None:
    """Fail (not skip) with the command that installs what is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: {CHROMIUM_INSTALL}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[web]' (never run "
                    "`playwright install`: the test drives Debian's chromium)")
    ort = js_dir() / "node_modules" / "onnxruntime-web" / "dist" / "ort-wasm-simd-threaded.wasm"
    if not ort.is_file():
        pytest.fail(f"{ort} is missing: npm ci --prefix js")


@pytest.fixture(scope="module")
def browser():
    _requirements()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def open_page(browser, url: str, query: str = ""):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/{query}")
    page.evaluate("window.estuary.ready")
    return page, errors


def state(page) -> dict:
    return page.evaluate("window.estuary.state()")


def wait_for(page, predicate: Callable[[dict], bool], what: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = state(page)
        if predicate(s):
            return s
        assert time.monotonic() < deadline, f"timed out waiting for {what}; page state: {s}"
        time.sleep(0.05)


def assert_matches_river(page, model, runtime: str, tol: float) -> None:
    got = page.evaluate("rows => window.estuary.predict(rows)", ROWS)
    assert got["runtime"] == runtime
    worst = 0.0
    for x, p in zip(ROWS, got["predictions"], strict=True):
        expected = model.predict_proba_one(x)
        probs = dict(zip([False, True], p["probabilities"]))
        worst = max(worst, *(abs(probs[c] - expected.get(c, 0.0)) for c in probs))
        if abs(expected.get(True, 0.0) - 0.5) > tol:  # else within rounding of the tie
            assert p["label"] == model.predict_one(x), (x, p, expected)
    assert worst <= tol, f"{runtime}: max abs diff {worst} > {tol}"


def publish_altered(store: Store, base: Version, alter: Callable[[Path], None]) -> Version:
    """Publish a copy of `base` changed by `alter`, hashed as it is: something that skipped
    parity (or a bug) published it; only the page's own checks stand in the way."""
    staging = store.new_staging()
    shutil.copytree(base.path, staging, dirs_exist_ok=True)
    (staging / "manifest.json").unlink()
    alter(staging)
    # the same manifest but for what commit writes (version, status, files: hashed as they are)
    return store.commit(staging, functools.partial(dataclasses.replace, base.manifest),
                        published=True)


def malformed_model_json(d: Path) -> None:
    (d / "model.tfjs" / "model.json").write_text('{"format": "graph-model", "modelTopology": ')


def missing_shard(d: Path) -> None:
    (d / "model.tfjs" / "group1-shard1of1.bin").unlink()


def truncated_shard(d: Path) -> None:
    shard = d / "model.tfjs" / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:-8])


def wrong_golden(d: Path) -> None:
    """Golden outputs changed and the SHA-256 stamped again: only the golden check sees it."""
    path = d / "model.tfjs" / "model.json"
    doc = json.loads(path.read_text())
    meta = json.loads(doc["userDefinedMetadata"]["estuary"])
    meta["golden_outputs"] = [[1 - v for v in row] for row in meta["golden_outputs"]]
    meta["integrity"] = integrity.PLACEHOLDER
    doc["userDefinedMetadata"]["estuary"] = json.dumps(meta)
    path.write_text(json.dumps(doc))
    assert integrity.stamp(d / "model.tfjs")


def edited_not_stamped(d: Path) -> None:
    """The IR hash in model.json edited (same length), the digest left as it was."""
    path = d / "model.tfjs" / "model.json"
    meta = json.loads(json.loads(path.read_text())["userDefinedMetadata"]["estuary"])
    path.write_text(path.read_text().replace(meta["ir_hash"], meta["ir_hash"][::-1], 1))


def garbage_onnx(d: Path) -> None:
    (d / "model.onnx").write_bytes(b"\x08\x07not an onnx model at all")


def test_web_demo_end_to_end(browser, tmp_path):
    store = Store(tmp_path)
    model = logreg()
    learner = Learner(model, store=store, formats=["onnx", "tfjs"])
    stream = phishing()
    for x, y in stream[:300]:
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    app = create_app(store, poll=0.05, learner=learner)
    with running_server(app) as url:
        page, errors = open_page(browser, url, "?stream=100")
        navigations: list[str] = []
        page.on("framenavigated", lambda f: navigations.append(f.url))
        s = state(page)
        assert (s["version"], s["runtime"], s["tfjsAvailable"]) == (1, "onnx", True)
        # progressive: TF.js answered first, and onnxruntime-web's wasm was only asked for after
        t = s["timings"]
        assert t["firstPrediction.tfjs"] < t["firstPrediction.onnx"]
        wasm_start = page.evaluate("""() => performance.getEntriesByType('resource')
            .filter((e) => e.name.endsWith('.wasm')).map((e) => e.startTime)""")
        assert wasm_start and min(wasm_start) >= t["firstPrediction.tfjs"]
        assert s["irHash"] == store.open(1).manifest.ir_hash
        assert s["goldenMaxDiff"] <= 1e-6
        assert_matches_river(page, model, "onnx", 1e-6)
        page.wait_for_selector("#events tbody tr")  # the example stream runs

        # the form: a row typed in, then a non-numeric value
        x = ROWS[0]
        for name, value in x.items():
            page.fill(f"#fields [name='{name}']", str(value))
        page.click("#form button[type=submit]")
        page.wait_for_function("document.querySelector('#form-result').dataset.output")
        shown = json.loads(page.get_attribute("#form-result", "data-output"))
        assert shown["label"] == model.predict_one(x)
        assert abs(shown["probabilities"][1] - model.predict_proba_one(x)[True]) <= 1e-6
        page.fill("#fields [name='long_url']", "abc")
        page.wait_for_selector("#form-error:not([hidden])")
        assert "long_url" in page.inner_text("#form-error")
        assert "expected a number" in page.inner_text("#form-error")
        assert page.locator(".field.invalid [name='long_url']").count() == 1
        assert state(page)["version"] == 1
        page.fill("#fields [name='long_url']", "1")
        page.wait_for_selector("#form-error", state="hidden")

        # a new snapshot: swapped in without a reload and without a moment with no model
        page.evaluate("window.__sameDocument = true")
        for x_, y_ in stream[300:700]:
            learner.learn_one(x_, y_)
        v2 = learner.snapshot().result()
        assert v2.published and v2.version == 2
        s = wait_for(page, lambda s: s["version"] == 2, "the page to swap to v2")
        assert page.evaluate("window.__sameDocument") is True and not navigations
        assert s["gaps"] == 0 and s["swaps"] >= 1
        assert_matches_river(page, model, "onnx", 1e-6)
        streamed = s["streamed"]

        # TF.js: the same version in @tensorflow/tfjs (float32)
        assert page.evaluate("window.estuary.switchRuntime('tfjs')") is True
        s = state(page)
        assert (s["version"], s["runtime"]) == (2, "tfjs")
        assert s["runtimeInfo"]["name"] == "@tensorflow/tfjs"
        assert_matches_river(page, model, "tfjs", TFJS_TOL)

        # corrupt versions: each refused with its reason, v2 keeps predicting
        v2_version = store.open(2)
        cases = [
            (malformed_model_json, "model.json is not valid JSON"),
            (missing_shard, "group1-shard1of1.bin"),
            (truncated_shard, "bytes but model.json declares"),
            (wrong_golden, "golden vectors do not reproduce"),
            (edited_not_stamped, "IntegrityError: the artifact: its bytes do not match"),
        ]
        for alter, message in cases:
            bad = publish_altered(store, v2_version, alter)
            s = wait_for(page, lambda s, n=bad.number: f"{n}/tfjs" in s["refused"],
                         f"the page to refuse v{bad.number} ({alter.__name__})")
            assert message in s["refused"][f"{bad.number}/tfjs"], s["refused"]
            assert (s["version"], s["runtime"]) == (2, "tfjs")
            assert_matches_river(page, model, "tfjs", TFJS_TOL)
        assert "keeps running" in page.inner_text("#status")
        assert "refused" in page.inner_text("#log")

        # back to ONNX: v2 in onnxruntime-web, then the latest version if its ONNX is sound;
        # a garbage ONNX (with a valid hash) is refused by the server and by the page
        bad = publish_altered(store, v2_version, lambda d: (garbage_onnx(d), wrong_golden(d)))
        wait_for(page, lambda s, n=bad.number: f"{n}/tfjs" in s["refused"], "a refusal")
        assert page.evaluate("window.estuary.switchRuntime('onnx')") is True
        s = wait_for(page, lambda s, n=bad.number: f"{n}/onnx" in s["refused"], "a refusal")
        assert (s["version"], s["runtime"]) == (2, "onnx")
        assert s["refused"][f"{bad.number}/onnx"].startswith("ArtifactError: ")
        assert "ONNX" in s["refused"][f"{bad.number}/onnx"]
        assert str(bad.number) in s["head"]["refused"]  # the server refused it too
        assert_matches_river(page, model, "onnx", 1e-6)

        # and a good version after the bad ones is taken up
        for x_, y_ in stream[700:800]:
            learner.learn_one(x_, y_)
        good = learner.snapshot().result()
        assert good.published
        s = wait_for(page, lambda s: s["version"] == good.version, "the page to take v-good")
        assert_matches_river(page, model, "onnx", 1e-6)
        s = wait_for(page, lambda s: s["streamed"] > streamed + 5, "the stream to go on")
        assert s["gaps"] == 0 and not navigations and not errors, (s, navigations, errors)
        page.wait_for_timeout(300)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web_demo.png"), full_page=True)
        page.close()  # before the server stops: it would wait for the open event stream
    learner.close()


def test_a_tree_answers_first_in_tfjs_then_onnx_both_as_river(browser, tmp_path):
    from river import tree

    model = tree.HoeffdingTreeClassifier(grace_period=50)  # naive-Bayes adaptive leaves
    learner = Learner(model, store=tmp_path, formats=["onnx", "tfjs"])
    for x, y in phishing()[:800]:
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    with running_server(create_app(tmp_path, poll=0.05)) as url:
        page, errors = open_page(browser, url, "?stream=0&runtime=tfjs")
        s = state(page)
        assert (s["version"], s["runtime"], s["tfjsAvailable"]) == (1, "tfjs", True)
        assert_matches_river(page, model, "tfjs", 1e-5)
        page.close()
        page, errors = open_page(browser, url, "?stream=0")
        s = wait_for(page, lambda s: s["runtime"] == "onnx", "onnxruntime-web to take over")
        assert s["timings"]["firstPrediction.tfjs"] < s["timings"]["firstPrediction.onnx"]
        assert_matches_river(page, model, "onnx", 1e-6)
        assert not errors, errors
        page.close()
    learner.close()


def golden_row_altered(row: int) -> Callable[[Path], None]:
    """TF.js golden output `row` changed (1 - River's) and the SHA-256 stamped again."""
    def alter(d: Path) -> None:
        path = d / "model.tfjs" / "model.json"
        doc = json.loads(path.read_text())
        meta = json.loads(doc["userDefinedMetadata"]["estuary"])
        meta["golden_outputs"][row] = [1 - v for v in meta["golden_outputs"][row]]
        meta["integrity"] = integrity.PLACEHOLDER
        doc["userDefinedMetadata"]["estuary"] = json.dumps(meta)
        path.write_text(json.dumps(doc))
        assert integrity.stamp(d / "model.tfjs")
    return alter


def test_the_first_answer_waits_for_four_golden_rows_and_the_rest_withdraws_it(browser, tmp_path):
    # the page's first model answers once 4 golden rows spread over the set (first and last
    # included) reproduce; the others run right after that answer: a wrong one there withdraws
    # the model (refused, its answer cleared) and ONNX answers instead
    store = Store(tmp_path)
    model = logreg()
    learner = Learner(model, store=store, formats=["onnx", "tfjs"])
    for x, y in phishing()[:300]:
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    learner.close()
    v1 = store.open(1)
    with running_server(create_app(store, poll=0.05)) as url:
        page, errors = open_page(browser, url, "?stream=0")
        s = wait_for(page, lambda s: s["runtime"] == "onnx", "onnxruntime-web to take over")
        n = int(page.inner_text("#golden").split()[0])
        assert n >= 8 and s["goldenPending"] == 0  # row 1 is not among the first 4 (0, ~n/3, ..)
        assert s["timings"]["goldenChecked.tfjs"] < s["timings"]["firstPrediction.onnx"]
        page.close()

        bad = publish_altered(store, v1, golden_row_altered(1))  # in the rest: answers, withdrawn
        page, errors = open_page(browser, url, "?stream=0")
        s = wait_for(page, lambda s: s["runtime"] == "onnx" and s["version"] == bad.number,
                     "ONNX to answer after TF.js was withdrawn")
        assert "firstPrediction.tfjs" in s["timings"] and "goldenChecked.tfjs" not in s["timings"]
        assert "golden vectors do not reproduce" in s["refused"][f"{bad.number}/tfjs"]
        assert s["goldenPending"] == 0
        assert_matches_river(page, model, "onnx", 1e-6)
        assert not errors, errors
        page.close()

        worse = publish_altered(store, v1, golden_row_altered(0))  # in the first 4: no answer
        page, errors = open_page(browser, url, "?stream=0")
        s = wait_for(page, lambda s: s["runtime"] == "onnx" and s["version"] == worse.number,
                     "ONNX to answer instead of TF.js")
        assert "firstPrediction.tfjs" not in s["timings"], s["timings"]
        assert "could not answer first" in page.inner_text("#log")
        assert "golden vectors do not reproduce" in page.inner_text("#log")
        assert_matches_river(page, model, "onnx", 1e-6)
        assert not errors, errors
        page.close()


def test_a_model_tfjs_refuses_runs_in_onnx_and_the_page_says_why(browser, tmp_path):
    from river import feature_extraction, linear_model, preprocessing

    model = (preprocessing.StandardScaler() | feature_extraction.PolynomialExtender()
             | linear_model.LogisticRegression())
    learner = Learner(model, store=tmp_path)  # every format: TF.js is not applicable
    for x, y in phishing()[:400]:
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    with running_server(create_app(tmp_path, poll=0.05)) as url:
        page, errors = open_page(browser, url, "?stream=0")
        s = state(page)
        assert (s["version"], s["runtime"], s["tfjsAvailable"]) == (1, "onnx", False)
        assert "float32 products" in s["tfjsNote"] and "ONNX" in s["tfjsNote"]
        # ONNX only: the page's head fetched and compiled ORT's wasm, and ORT started on that
        # module (runtimes.js)
        marks = page.evaluate("""() => performance.getEntriesByType('mark')
          .filter((m) => m.name.startsWith('estuary:')).map((m) => m.name)""")
        assert marks[:1] == ["estuary:wasm-fetch-start"] and [m for m in marks if m in (
            "estuary:wasm-compiled", "estuary:wasm-instantiated", "estuary:ort-ready")] == [
            "estuary:wasm-compiled", "estuary:wasm-instantiated", "estuary:ort-ready"]
        # downloaded once (3.7 MB gzipped); ORT's own fetch of it, dropped, comes from the cache
        sizes = page.evaluate("""() => performance.getEntriesByType('resource')
          .filter((r) => r.name.endsWith('.wasm')).map((r) => r.transferSize)""")
        assert len(sizes) == 2 and sizes[0] > 3_000_000 and sizes[1] == 0, sizes
        assert page.is_visible("#tfjs-note") and page.is_disabled("input[value=tfjs]")
        assert page.evaluate("window.estuary.switchRuntime('tfjs')") is False
        assert state(page)["runtime"] == "onnx"
        assert_matches_river(page, model, "onnx", 1e-6)
        assert not errors, errors
        page.close()
    learner.close()


def test_the_page_verifies_signatures_with_the_servers_trusted_key(browser, tmp_path):
    # Chromium's own WebCrypto Ed25519: the page checks what it fetches against the key the
    # server trusts, so bytes changed on disk after the server verified them are refused too
    from estuary.signing import generate_keypair

    key, public = generate_keypair(tmp_path / "release.key")
    store = Store(tmp_path / "store", signing_key=key)
    model = logreg()
    learner = Learner(model, store=store, formats=["onnx"])
    for x, y in phishing()[:300]:
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    learner.close()
    with running_server(create_app(store.root, poll=0.05, trusted_key=public)) as url:
        page, errors = open_page(browser, url, "?stream=0")
        s = state(page)
        assert (s["version"], s["runtime"]) == (1, "onnx") and not s["refused"]
        assert_matches_river(page, model, "onnx", 1e-6)
        page.close()
        onnx = store.open(1).path / "model.onnx"  # the server verified it and keeps serving it
        data = bytearray(onnx.read_bytes())
        data[len(data) // 2] ^= 0x01
        onnx.write_bytes(bytes(data))
        page = browser.new_page()  # a fresh context: no cached copy of the good bytes
        page.goto(f"{url}/?stream=0")
        with pytest.raises(Exception, match="SignatureError: the artifact: its bytes are not "
                                            "the bytes signed by key"):
            page.evaluate("window.estuary.ready")  # the start fails: no model is run
        assert state(page)["version"] is None
        page.close()
