"""The server over real HTTP on 127.0.0.1: predictions, artifacts, hot swap, refusals, /learn."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from functools import partial

import httpx
import jsonschema
import pytest

from estuary.online import Learner, Store, web_assets
from estuary.online.manifest import FormatEntry, load_schema
from estuary.online.server import create_app
from estuary.online.testing import logreg, phishing, running_server


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def learned_store(tmp_path):
    model = logreg()
    learner = Learner(model, store=tmp_path, formats=["onnx"])
    for x, y in phishing(300):
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    return learner, model


def test_predict_models_healthz(learned_store, tmp_path):
    learner, model = learned_store
    rows = [x for x, _ in phishing(5)]
    with running_server(create_app(tmp_path, poll=0.05)) as url, httpx.Client(base_url=url) as http:
        health = http.get("/healthz").json()
        assert health["ok"] and health["version"] == 1
        one = http.post("/predict", json=rows[0]).json()
        assert one["version"] == 1 and one["classes"] == [False, True]
        assert one["probabilities"][1] == pytest.approx(model.predict_proba_one(rows[0])[True],
                                                        abs=1e-9)
        assert one["prediction"] == model.predict_one(rows[0])
        batch = http.post("/predict", json={"rows": rows}).json()
        assert batch["predictions"] == [model.predict_one(x) for x in rows]
        assert http.post("/predict", json={"x": rows[1]}).json()["prediction"] == \
            model.predict_one(rows[1])
        bad = http.post("/predict", json={"empty_server_form_handler": "x"})
        assert bad.status_code == 422 and "empty_server_form_handler" in bad.json()["error"]
        assert http.post("/predict", content=b"{oops").status_code == 422
        manifest = http.get("/models/latest").json()
        assert manifest["version"] == 1 and manifest["formats"]["onnx"]["passed"]
        jsonschema.validate(manifest, load_schema())  # the typed manifest, as JSON
        blob = http.get("/models/1/model.onnx")
        assert blob.status_code == 200
        assert blob.headers["etag"].strip('"') == manifest["files"]["model.onnx"]["sha256"]
        assert http.get("/models/latest/model.onnx").content == blob.content
        assert http.get("/models/1/../../latest").status_code == 404
        assert http.get("/models/1/snapshot.json").json()["type"] == "Snapshot"
        off = http.post("/learn", json={"x": rows[0], "y": True})  # off unless allowed
        assert off.status_code == 403 and "--allow-learn" in off.json()["error"]


def test_hot_swap_under_concurrent_requests(learned_store, tmp_path):
    learner, _ = learned_store
    rows = [x for x, _ in phishing(20)]
    failures, seen = [], [[] for _ in range(4)]
    stop = threading.Event()

    def client(i: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            for n in range(2000):  # bounded
                if stop.is_set():
                    break
                r = http.post("/predict", json=rows[n % len(rows)])
                if r.status_code != 200:
                    failures.append((r.status_code, r.text))
                else:
                    seen[i].append(r.json()["version"])

    with running_server(create_app(tmp_path, poll=0.02)) as url:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for x, y in phishing()[300:]:
            learner.learn_one(x, y)
            if learner.n_events % 300 == 0:
                learner.snapshot().result()
                time.sleep(0.15)  # let the watcher swap while requests flow
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(30)
        health = httpx.get(f"{url}/healthz").json()
    learner.close()
    assert not failures, failures[:3]
    assert all(s == sorted(s) for s in seen)  # a client never goes back to an older version
    assert max(max(s) for s in seen) >= 3 and health["swaps"] >= 3
    assert sum(map(len, seen)) > 100 and health["requests"] == sum(map(len, seen))
    assert health["version"] == Store(tmp_path).latest_number()


def test_bad_version_is_refused_previous_keeps_serving(learned_store, tmp_path):
    learner, _ = learned_store
    store = Store(tmp_path)
    v1_pointer = (tmp_path / "latest").read_bytes()
    for x, y in phishing()[300:400]:
        learner.learn_one(x, y)
    v2 = learner.snapshot().result()
    v2_pointer = (tmp_path / "latest").read_bytes()
    # v2's file changes after publishing (its SHA-256 no longer matches); hide v2 meanwhile
    (tmp_path / "latest").write_bytes(v1_pointer)
    (tmp_path / "versions" / str(v2.version) / "model.onnx").write_bytes(b"changed")
    with running_server(create_app(store, poll=0.02)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/healthz").json()["version"] == 1
        (tmp_path / "latest.new").write_bytes(v2_pointer)
        (tmp_path / "latest.new").replace(tmp_path / "latest")
        wait_for(lambda: str(v2.version) in http.get("/healthz").json()["refused"])
        # a version published by something that skipped parity: garbage with a valid hash
        staging = store.new_staging()
        (staging / "model.onnx").write_bytes(b"\x08\x07not a model")
        claims = {"onnx": FormatEntry("model.onnx", True, None)}
        bad = store.commit(staging, partial(replace, store.open(1).manifest, formats=claims),
                           published=True)
        wait_for(lambda: str(bad.number) in http.get("/healthz").json()["refused"])
        health = http.get("/healthz").json()
        assert health["ok"] and health["version"] == 1
        assert "SHA-256" in health["refused"][str(v2.version)]
        assert "not a loadable ONNX model" in health["refused"][str(bad.number)]
        assert http.post("/predict", json=phishing(1)[0][0]).json()["version"] == 1
        for x, y in phishing()[400:500]:
            learner.learn_one(x, y)
        good = learner.snapshot().result()
        wait_for(lambda: http.get("/healthz").json()["version"] == good.version)
    learner.close()


def test_learn_endpoint_feeds_a_learner(tmp_path):
    from estuary.online import EveryN

    learner = Learner(logreg(), store=tmp_path, policy=EveryN(100), formats=["onnx"])
    token = "t" * 24
    app = create_app(tmp_path, poll=0.02, learner=learner, allow_learn=True, learn_token=token)
    events = [{"x": x, "y": y} for x, y in phishing(250)]
    auth = {"Authorization": f"Bearer {token}"}
    with running_server(app) as url, httpx.Client(base_url=url, headers=auth) as http:
        assert http.post("/predict", json=events[0]["x"]).status_code == 503  # nothing yet
        for i in range(0, 250, 50):
            r = http.post("/learn", json=events[i:i + 50])
            assert r.status_code == 200, r.text
        assert r.json()["events"] == 250
        assert http.post("/learn", json=[{"y": 1}]).status_code == 422
        for headers in ({"Authorization": ""}, {"Authorization": f"Bearer {token}x"},
                        {"Authorization": f"Basic {token}"}):
            denied = http.post("/learn", json=events[:1], headers=headers)
            assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith(
                "Bearer")
        assert learner.n_events == 250  # nothing learned from the refused requests
        learner.flush(30)
        wait_for(lambda: http.get("/healthz").json()["version"] == Store(tmp_path).latest_number())
        assert http.post("/predict", json=events[0]["x"]).status_code == 200
    learner.close()


def test_page_loads_the_cpu_only_tfjs_bundle_first_on_a_progressive_page(tmp_path, monkeypatch):
    model = logreg()
    learner = Learner(model, store=tmp_path, formats=["onnx", "tfjs"])
    for x, y in phishing(300):
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    with running_server(create_app(tmp_path, poll=0.05)) as url, httpx.Client(base_url=url) as http:
        page = http.get("/").text
        imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page).group(1))
        tf_url = imports["imports"]["@tensorflow/tfjs"]
        assert re.fullmatch(r"/vendor/@tensorflow/tfjs@4\.22\.0\+[0-9a-f]{12}/tfjs-cpu\.mjs",
                            tf_url)
        preloads = re.findall(r'<link rel="(?:module)?preload" href="([^"]+)"', page)
        assert tf_url in preloads and not any("onnxruntime" in p for p in preloads)  # TF.js first
        only_onnx = http.get("/?progressive=0").text
        assert any("ort-wasm-simd-threaded.wasm" in p
                   for p in re.findall(r'href="([^"]+)"', only_onnx))
        bundle = http.get(tf_url, headers={"Accept-Encoding": "gzip"})
        assert bundle.status_code == 200 and "immutable" in bundle.headers["cache-control"]
        assert bundle.headers["content-encoding"] == "gzip"
        body = bundle.text
        assert len(body) < 700_000 and "loadGraphModel" in body and "webgl2" not in body
    # without the built bundle the page says what to run, and the URL is not served stale
    monkeypatch.setitem(web_assets.VENDOR, "@tensorflow/tfjs", {"tfjs-cpu.mjs": "dist/absent.mjs"})
    with running_server(create_app(tmp_path, poll=0.05)) as url, httpx.Client(base_url=url) as http:
        page = http.get("/").text
        config = json.loads(re.search(r'id="estuary-config">(.*?)</script>', page).group(1))
        assert "@tensorflow/tfjs" in config["missing"]
        assert "estuary setup-js" in config["install"] and "npm ci" in config["install"]


def test_page_files_come_from_memory_and_the_head_fetches_the_first_model(learned_store,
                                                                          tmp_path):
    """The page's own modules, once compressed, are answered from memory (gzip, an ETag of
    their content, 304), cached for good under their content-hashed URL only; the page's head
    starts fetching the first model's files (runtimes.js takes them over), and modulepreloads
    every module of the page's graph."""
    import hashlib

    with running_server(create_app(tmp_path, poll=0.05)) as url, \
            httpx.Client(base_url=url) as http:
        page = http.get("/?progressive=0").text
        early = json.loads(re.search(r"window\.estuaryEarly = new Map\((\[.*?\])\.map", page)
                           .group(1))
        assert early == ["/models/1/model.onnx"]
        assert http.get(early[0]).content == (tmp_path / "versions/1/model.onnx").read_bytes()
        assert "estuaryEarly" not in http.get("/?progressive=0&early=0").text
        preloads = re.findall(r'<link rel="modulepreload" href="([^"?]+)', page)
        assert {"/js/estuary.js", "/js/manifest.js", "/js/verify.js",
                "/web_demo/charts.js"} <= set(preloads)
        app_url = re.search(r'src="(/web_demo/app\.js\?v=[0-9a-f]{12})"', page).group(1)
        path = web_assets._web_demo_dir() / "app.js"
        raw = path.read_bytes()
        web_assets._GZIPPED.get(path)  # as the server's warm-up thread does at start
        etag = f'"{hashlib.sha256(raw).hexdigest()[:32]}"'
        packed = http.get(app_url, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip" and packed.headers["etag"] == etag
        assert packed.content == raw and "immutable" in packed.headers["cache-control"]
        assert packed.headers["content-type"].startswith("text/javascript")
        stale = http.get("/web_demo/app.js?v=000000000000", headers={"Accept-Encoding": "gzip"})
        assert stale.content == raw and stale.headers["cache-control"] == "no-cache"
        again = http.get(app_url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        plain = http.get(app_url, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == raw


def test_ort_wasm_is_served_for_streaming_compile_gzipped_with_a_strong_etag(learned_store,
                                                                             tmp_path):
    """WebAssembly.compileStreaming needs application/wasm; the versioned URL is cached for
    good, gzip when asked (14 MB → 3.7 MB), and an ETag of the content answers a revalidation."""
    import hashlib

    with running_server(create_app(tmp_path, poll=0.05)) as url, \
            httpx.Client(base_url=url) as http:
        page = http.get("/?progressive=0").text
        wasm_url = next(u for u in re.findall(r'href="([^"]+)"', page)
                        if u.endswith("/ort-wasm-simd-threaded.wasm"))
        assert re.fullmatch(r"/vendor/onnxruntime-web@1\.30\.0/ort-wasm-simd-threaded\.wasm",
                            wasm_url)
        raw = (web_assets._js_dir() / web_assets._ORT / "ort-wasm-simd-threaded.wasm").read_bytes()
        etag = f'"{hashlib.sha256(raw).hexdigest()[:32]}"'
        packed = http.get(wasm_url, headers={"Accept-Encoding": "gzip"})
        assert packed.status_code == 200 and packed.headers["content-type"] == "application/wasm"
        assert packed.headers["content-encoding"] == "gzip" and packed.headers["etag"] == etag
        assert packed.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert packed.headers["vary"] == "Accept-Encoding"
        # httpx decodes the body: what came over the wire is num_bytes_downloaded
        assert packed.content == raw and packed.num_bytes_downloaded < len(raw) // 3
        plain = http.get(wasm_url, headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
        assert plain.content == raw and plain.headers["etag"] == etag
        assert plain.headers["content-type"] == "application/wasm"
        # ?encoding=identity (the page's ?wasm=identity, benchmarks/browser.py --ab): not gzipped
        asked = http.get(f"{wasm_url}?encoding=identity", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in asked.headers and asked.content == raw
        assert "?encoding=identity" in http.get("/?progressive=0&wasm=identity").text
        again = http.get(wasm_url, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag


def test_sample_rows_from_a_parity_report_leave_out_rows_the_artifact_refused():
    """The page's example rows come from the manifest's worst rows: a row the artifact's input
    contract refused would be answered 422, so it is not offered."""
    from types import SimpleNamespace

    from estuary.online.manifest import WorstRow
    from estuary.online.server import _sample_rows

    compared = WorstRow(0, "sample", {"a": 1.0, "b": 2.0}, (0.5, 0.5), (0.5, 0.5), 0.0, True)
    refused = WorstRow(1, "sample", {"a": 2.0, "b": "x"}, (0.56, 0.44), (), float("nan"), False,
                       refused="feature 'b': expected a number, got str 'x'")
    report = SimpleNamespace(worst_rows=(refused, compared))
    manifest = SimpleNamespace(formats={"onnx": SimpleNamespace(report=report)})
    assert _sample_rows(manifest, 10) == [{"x": {"a": 1.0, "b": 2.0}}]
