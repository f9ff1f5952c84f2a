"""The server and the store against hostile input (issue 18): a reload loop that never dies, a
store whose every path stays inside its version, typed 4xx for bad requests, a body limit
enforced while reading, /learn off unless enabled and then behind a token, and a seeded fuzz
run with no 500."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import shutil
import socket
import time
import warnings
from functools import partial
from pathlib import Path

import httpx
import onnx
import pytest

from estuary.online import Learner, Store, StoreError, server
from estuary.online.manifest import ManifestError
from estuary.online.request_body import BodyLimits, nesting_depth, parse_json
from estuary.online.server import create_app
from estuary.online.testing import logreg, phishing, running_server

with warnings.catch_warnings():  # Starlette 1.10 suggests httpx2; httpx 0.28 is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ROW = phishing(1)[0][0]


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory) -> Path:
    """A store with one published ONNX version (learned once for the whole module)."""
    root = tmp_path_factory.mktemp("seed")
    learner = Learner(logreg(), store=root, formats=["onnx"])
    for x, y in phishing(300):
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    learner.close()
    return root


@pytest.fixture
def store(seed_store, tmp_path) -> Store:
    root = tmp_path / "store"
    shutil.copytree(seed_store, root, symlinks=True)
    return Store(root)


def republish(store: Store, mutate=None):
    """A copy of version 1 committed as a new published version (`mutate(staging)` first): its
    hashes are right, whatever `mutate` did to the files."""
    staging = store.new_staging()
    for name in store.open(1).manifest.files:
        shutil.copy(store.versions / "1" / name, staging / name)
    if mutate is not None:
        mutate(staging)
    manifest = store.open(1).manifest
    return store.commit(staging, partial(_replace, manifest), published=True)


def _replace(manifest, **changes):
    from dataclasses import replace

    return replace(manifest, **changes)


def onnx_metadata_is_a_list(staging: Path) -> None:
    model = onnx.load(staging / "model.onnx")
    for prop in model.metadata_props:
        if prop.value.startswith("{"):
            prop.value = "[1,2,3]"
    onnx.save(model, staging / "model.onnx")


def health(http) -> dict:
    return http.get("/healthz").json()


# ---------------------------------------------------------------------------- the reload loop


class _OrtFail(Exception):
    """Stands for onnxruntime's Fail / InvalidArgument (pybind11 exceptions, not EstuaryError)."""


def test_reload_survives_any_exception_and_serves_the_next_good_version(store, monkeypatch):
    real = server._load_artifact
    raises = {2: KeyError("probabilities"), 3: RecursionError("maximum recursion depth"),
              4: _OrtFail("[ONNXRuntimeError] : 1 : FAIL : Load model failed"),
              5: MemoryError("std::bad_alloc")}

    def load(path: Path, *rest):
        number = int(path.parent.name)
        if number in raises:
            raise raises[number]
        return real(path, *rest)

    monkeypatch.setattr(server, "_load_artifact", load)
    with running_server(create_app(store, poll=0.02)) as url, httpx.Client(base_url=url) as http:
        assert health(http)["version"] == 1
        for number in sorted(raises):
            assert republish(store).number == number
            wait_for(lambda n=number: str(n) in health(http)["refused"])
        real_bad = republish(store, onnx_metadata_is_a_list)  # a real artifact, not a stand-in
        wait_for(lambda: str(real_bad.number) in health(http)["refused"])
        good = republish(store)
        wait_for(lambda: health(http)["version"] == good.number)
        now = health(http)
        assert now["ok"] and now["watcher"]["status"] == "running" and now["swaps"] == 2
        refused = now["refused"]
        assert refused["2"].startswith("KeyError") and refused["3"].startswith("RecursionError")
        assert refused["4"].startswith("_OrtFail") and refused["5"].startswith("MemoryError")
        assert sorted(map(int, refused)) == [2, 3, 4, 5, real_bad.number]
        assert http.get("/models/head").json()["refused"] == refused
        assert http.post("/predict", json=ROW).json()["version"] == good.number


def test_a_load_that_hangs_is_refused_after_load_timeout(store, monkeypatch):
    real = server._load_artifact

    def load(path: Path, *rest):
        if path.parent.name == "2":
            time.sleep(3)  # a runtime that hangs (the thread is left behind, the watcher is not)
        return real(path, *rest)

    monkeypatch.setattr(server, "_load_artifact", load)
    app = create_app(store, poll=0.02, load_timeout=0.3)
    with running_server(app) as url, httpx.Client(base_url=url) as http:
        republish(store)
        wait_for(lambda: "2" in health(http)["refused"])
        assert health(http)["refused"]["2"].startswith("TimeoutError")
        good = republish(store)
        wait_for(lambda: health(http)["version"] == good.number)


def test_watcher_survives_errors_and_healthz_reports_stalled_or_dead(store, monkeypatch):
    app = create_app(store, poll=0.02, stall_after=1.0)
    state = app.state.estuary
    with running_server(app) as url, httpx.Client(base_url=url) as http:
        assert health(http)["ok"]
        real = Store.read_latest
        boom = iter([KeyError("version"), RecursionError(), TypeError("x"), ValueError("y")] * 5)

        def flaky(self):
            error = next(boom, None)
            if error is not None:
                raise error
            return real(self)

        monkeypatch.setattr(Store, "read_latest", flaky)
        wait_for(lambda: health(http)["watcher"]["errors"] >= 20)
        monkeypatch.setattr(Store, "read_latest", real)
        good = republish(store)  # the watcher lived through 20 errors: it still swaps
        wait_for(lambda: health(http)["version"] == good.number)
        now = health(http)
        assert now["ok"] and now["watcher"]["status"] == "running"
        assert now["watcher"]["last_error"].startswith("ValueError")

        async def hang() -> None:
            await asyncio.sleep(3600)

        monkeypatch.setattr(state, "refresh", hang)  # the next look never completes
        wait_for(lambda: http.get("/healthz").status_code == 503)
        stalled = health(http)
        assert not stalled["ok"] and stalled["watcher"]["status"] == "stalled"
        assert stalled["version"] == good.number  # still serving
        assert http.post("/predict", json=ROW).status_code == 200
        loop = state.watcher.get_loop()
        loop.call_soon_threadsafe(state.watcher.cancel)
        wait_for(lambda: health(http)["watcher"]["status"] == "dead")
        assert http.get("/healthz").status_code == 503


HOSTILE_LATEST = {
    "nested": b"[" * 100_000,
    "not json": b"\x00\xffnot json at all",
    "a list": b"[1, 2]",
    "a string version": b'{"version": "1", "manifest_sha256": "' + b"0" * 64 + b'"}',
    "no manifest hash": b'{"version": 1}',
    "huge": b'{"version": 1, "pad": "' + b"x" * 100_000 + b'"}',
    "bool version": b'{"version": true, "manifest_sha256": "' + b"0" * 64 + b'"}',
}


@pytest.mark.parametrize("case", sorted(HOSTILE_LATEST))
def test_start_up_survives_a_hostile_latest(store, case):
    good = (store.root / "latest").read_bytes()
    (store.root / "latest").write_bytes(HOSTILE_LATEST[case])
    with pytest.raises(StoreError):
        store.read_latest()
    with TestClient(create_app(store, poll=0.02)) as http:
        r = http.get("/healthz")
        assert r.status_code == 503 and r.json()["version"] is None
        assert r.json()["watcher"]["status"] == "running"
        assert "publish again" in r.json()["watcher"]["latest_error"]
        (store.root / "latest").write_bytes(good)
        wait_for(lambda: http.get("/healthz").json()["version"] == 1)
    (store.root / "latest").write_bytes(HOSTILE_LATEST[case])
    assert republish(store).number == 2  # a hostile `latest` does not stop publishing either
    assert store.latest_number() == 2


# ---------------------------------------------------------------------------- the store


def test_server_checks_latest_manifest_hash(store):
    with TestClient(create_app(store, poll=0.02)) as http:
        v2 = republish(store)
        wait_for(lambda: http.get("/healthz").json()["version"] == 2)
        digest_v2 = hashlib.sha256((v2.path / "manifest.json").read_bytes()).hexdigest()
        assert json.loads((store.root / "latest").read_text())["manifest_sha256"] == digest_v2
        # `latest` names version 3 with version 2's manifest hash (from the moment it names 3):
        # a pointer to the wrong thing
        store._point_latest = lambda number, _: Store._point_latest(store, number, digest_v2)
        v3 = republish(store)
        del store._point_latest
        assert json.loads((store.root / "latest").read_text()) == {
            "version": 3, "manifest_sha256": digest_v2}
        wait_for(lambda: "3" in http.get("/healthz").json()["refused"])
        assert "does not match `latest`" in http.get("/healthz").json()["refused"]["3"]
        assert http.get("/healthz").json()["version"] == 2
        with pytest.raises(StoreError, match="does not match `latest`"):
            store.open(3)  # by number too: `latest` names 3, so its hash is checked
        store._point_latest(3, hashlib.sha256((v3.path / "manifest.json").read_bytes())
                            .hexdigest())  # the right hash: retried and served
        wait_for(lambda: http.get("/healthz").json()["version"] == 3)


def test_a_version_directory_that_is_a_symlink_is_refused(store, tmp_path):
    v2 = republish(store)
    outside = tmp_path / "elsewhere"
    shutil.copytree(v2.path, outside)
    for target in (store.versions / "1", outside):
        link = store.versions / "3"
        link.unlink(missing_ok=True)
        link.symlink_to(target, target_is_directory=True)
        with pytest.raises(StoreError, match="is a symlink"):
            store.open(3)
        with TestClient(create_app(store)) as http:
            r = http.get("/models/3/model.onnx")
            assert r.status_code == 404 and "symlink" in r.json()["error"]
    # a copy (not a link) under another number says so through its manifest's number
    (store.versions / "3").unlink()
    shutil.copytree(v2.path, store.versions / "3")
    with pytest.raises(StoreError, match="its manifest says version 2"):
        store.open(3)


def test_a_file_that_is_a_symlink_out_of_its_version_is_refused(store, tmp_path):
    outside = tmp_path / "model.onnx"
    shutil.copy(store.versions / "1" / "model.onnx", outside)

    def link_out(staging: Path) -> None:
        (staging / "model.onnx").unlink()
        (staging / "model.onnx").symlink_to(outside)  # same bytes, so the same SHA-256

    with TestClient(create_app(store, poll=0.02)) as http:
        assert http.get("/healthz").json()["version"] == 1
        with pytest.raises(StoreError, match="resolves outside"):
            store.open(republish(store, link_out).number)
        wait_for(lambda: "2" in http.get("/healthz").json()["refused"])
        assert "resolves outside" in http.get("/healthz").json()["refused"]["2"]
        assert http.get("/healthz").json()["version"] == 1
        assert http.get("/models/2/model.onnx").status_code == 404


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/passwd", "a/../../b"])
def test_a_manifest_naming_a_path_outside_its_version_is_refused(store, name):
    republish(store)  # version 1 is no longer the one `latest` names (its hash is not checked)
    path = store.versions / "1" / "manifest.json"
    data = json.loads(path.read_text())
    data["files"][name] = {"sha256": "0" * 64, "size": 1}
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="not a relative path inside"):
        store.open(1)
    with TestClient(create_app(store)) as http:
        quoted = name.replace("/", "%2f")
        for url in (f"/models/1/{quoted}", f"/models/1/{name}"):
            assert http.get(url).status_code == 404


def test_temp_files_of_killed_writers_are_cleaned_by_the_next_publish(store):
    dead = 4_000_000  # above pid_max: no live process has it
    leftovers = [store.root / ".latest.123.tmp", store.root / ".latest.a1b2c3d4e5f6"]
    for path in leftovers:
        path.write_bytes(b'{"vers')
    for name in (f"{dead}-0123456789ab", "trash-1-deadbeef", "garbage"):
        (store.staging / name).mkdir()
        (store.staging / name / "model.onnx").write_bytes(b"half")
    live = store.staging / f"{os.getpid()}-live"
    live.mkdir()
    assert republish(store).number == 2
    assert not any(p.exists() for p in leftovers)
    assert sorted(p.name for p in store.staging.iterdir()) == [live.name]  # a live writer's


# ---------------------------------------------------------------------------- bad requests


@pytest.fixture
def client(store):
    with TestClient(create_app(store), raise_server_exceptions=False) as http:
        yield http


BAD_BODIES = {
    "401-digit integer": (b'{"long_url": 1' + b"0" * 400 + b"}", 422, "beyond float64"),
    "1e999": (b'{"long_url": 1e999}', 422, "beyond float64"),
    "NaN literal": (b'{"long_url": NaN}', 422, "not a JSON number"),
    "-Infinity literal": (b'{"long_url": -Infinity}', 422, "not a JSON number"),
    "nested 1000": (b'{"x": ' + b"[" * 1000 + b"]" * 1000 + b"}", 422, "nested 1001 levels"),
    "nested 100k": (b"[" * 100_000, 422, "nested 100000 levels"),
    "x null": (b'{"x": null}', 422, "'x': expected a row"),
    "x list": (b'{"x": [1, 2]}', 422, "'x': expected a row"),
    "rows 5": (b'{"rows": 5}', 422, "'rows': expected a list of rows, got int"),
    "rows of numbers": (b'{"rows": [1, 2]}', 422, "a row must be a dict"),
    "a string": (b'"hello"', 422, "got str"),
    "a list value": (b'{"long_url": [1]}', 422, "'long_url': expected a number"),
    "an object value": (b'{"long_url": {"a": 1}}', 422, "'long_url': expected a number"),
    "not utf-8": (b'{"long_url": "\xff\xfe"}', 422, "not valid JSON"),
    "empty": (b"", 422, "not valid JSON"),
    "too many rows": (b'{"rows": [' + b",".join([b"{}"] * 10_001) + b"]}", 422, "at most 10000"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_bodies_are_typed_4xx(client, case):
    body, status, message = BAD_BODIES[case]
    r = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


def test_extreme_features_give_422_not_nan(client):
    """The NaN policy: an output that is not finite is refused with 422 naming the rows."""
    rows = [ROW, {k: (1e308 if i % 2 else -1e308) for i, k in enumerate(ROW)}, ROW]
    r = client.post("/predict", json={"rows": rows})
    assert r.status_code == 422, r.text
    assert r.json()["rows"] == [1] and "not a finite number" in r.json()["error"]
    assert "e+308" in r.json()["error"]  # the largest inputs are named
    assert client.post("/predict", json={"rows": [ROW, ROW]}).status_code == 200


def test_bad_routes_and_queries(client, store):
    assert client.get("/examples?n=abc").status_code == 400
    assert client.get("/examples?n=-1").status_code == 400
    assert client.get("/examples?n=0").json()["rows"] == []
    assert len(client.get("/examples?n=2").json()["rows"]) <= 2
    assert client.get("/models/%C2%B2/x").status_code == 404
    assert client.get("/models/99999999999999999999999/x").status_code == 404
    assert client.get("/models/latest/nope").status_code == 404
    # non-latest versions whose manifest is not JSON, or a list: 404, not 500
    for n, data in ((2, b"{not json"), (3, b"[1, 2, 3]"), (4, b"[" * 100_000)):
        republish(store)
        (store.versions / str(n) / "manifest.json").write_bytes(data)
    republish(store)  # latest is 5
    for n in (2, 3, 4):
        r = client.get(f"/models/{n}/model.onnx")
        assert r.status_code == 404 and "manifest field" in r.json()["error"], r.text


def test_body_limit_declared_and_streamed(store):
    app = create_app(store, limits=BodyLimits(max_bytes=1000, max_depth=8))
    with TestClient(app) as http:
        r = http.post("/predict", content=b" " * 1001, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "1,000 bytes" in r.json()["error"]
        assert http.post("/predict", json=ROW).status_code == 200
        deep = b'{"x": {"a": ' + b"[" * 8 + b"]" * 8 + b"}}"
        assert http.post("/predict", content=deep).status_code == 422


def _run_asgi(app, body_chunks, path: str = "/predict") -> tuple[int, int]:
    """Call the ASGI app with a body delivered chunk by chunk (no Content-Length); return the
    status and how many body bytes the app pulled."""
    consumed, status = 0, []

    async def main() -> None:
        nonlocal consumed
        state = app.state.estuary
        await state.look()  # load the latest version, as the lifespan would
        chunks = iter(body_chunks)

        async def receive():
            nonlocal consumed
            chunk = next(chunks, None)
            if chunk is None:
                return {"type": "http.request", "body": b"", "more_body": False}
            consumed += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "headers": [
                     (b"content-type", b"application/json")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        await app(scope, receive, send)

    asyncio.run(main())
    return status[0], consumed


def test_a_200_mb_body_is_refused_with_413_without_being_read(store):
    chunk = b" " * (1 << 20)  # 200 chunks of 1 MiB, made lazily: 200 MiB offered
    status, consumed = _run_asgi(create_app(store), (chunk for _ in range(200)))
    limit = BodyLimits().max_bytes
    assert status == 413
    assert limit < consumed <= limit + len(chunk)  # read up to the limit and stopped


def test_a_declared_200_mb_body_is_refused_at_once_over_http(store):
    with running_server(create_app(store)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nContent-Length: 209715200\r\n\r\n" + b" " * 1000)
            head = sock.recv(4096)  # answered before the other 199.99 MB are sent
    assert head.startswith(b"HTTP/1.1 413 ")


# ---------------------------------------------------------------------------- POST /learn


def test_learn_is_off_unless_allowed_and_then_needs_the_token(store, monkeypatch):
    learner = Learner(logreg(), formats=["onnx"])
    event = {"x": ROW, "y": True}
    with TestClient(create_app(store, learner=learner)) as http:  # a learner, but not allowed
        r = http.post("/learn", json=event)
        assert r.status_code == 403 and "--allow-learn" in r.json()["error"]
    with pytest.raises(ValueError, match="ESTUARY_LEARN_TOKEN"):
        create_app(store, learner=learner, allow_learn=True)
    with pytest.raises(ValueError, match="needs a learner"):
        create_app(store, allow_learn=True, learn_token="x" * 20)
    monkeypatch.setenv(server.TOKEN_ENV, "from-the-environment-1234")
    with TestClient(create_app(store, learner=learner, allow_learn=True)) as http:
        assert http.post("/learn", json=event).status_code == 401
        ok = http.post("/learn", json=event,
                       headers={"Authorization": "Bearer from-the-environment-1234"})
        assert ok.status_code == 200 and ok.json()["events"] == 1
        assert http.get("/healthz").json()["learn"] == "on"


# ---------------------------------------------------------------------------- fuzz


def _fuzz_bodies(rng: random.Random) -> list[bytes]:
    keys = [*ROW, "x", "rows", "", "é", "\u0000", "a" * 1000]
    values = [0, -1, 1e308, -1e308, 5e-324, 10**300, 2**64, True, None, "1", "", "nan",
              [], {}, [1, [2]], {"a": {"b": 1}}, "\ud800"]
    raw = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1" * 401, b"1" * 5000,
           b"0x10", b"01", b"1.", b".5", b"+1", b"true", b"'a'", b"\"\\ud800\""]
    out = []
    for _ in range(300):
        kind = rng.randrange(8)
        if kind == 0:
            row = {rng.choice(keys): rng.choice(values) for _ in range(rng.randrange(1, 6))}
            out.append(json.dumps(rng.choice([row, {"x": row}, {"rows": [row] * 3}, [row]]))
                       .encode())
        elif kind == 1:
            out.append(b'{"%s": %s}' % (rng.choice(list(ROW)).encode(), rng.choice(raw)))
        elif kind == 2:
            depth = rng.choice([5, 31, 32, 33, 500, 5000])
            out.append(b'{"x": ' + b"[" * depth + b"]" * depth + b"}")
        elif kind == 3:
            good = json.dumps({"rows": [ROW] * rng.randrange(1, 50)}).encode()
            cut = rng.randrange(len(good))
            out.append(good[:cut] + bytes([rng.randrange(256)]) + good[cut + 1:])
        elif kind == 4:
            text = json.dumps({"x": ROW})
            out.append(text.encode(rng.choice(["utf-16", "utf-32", "utf-8-sig", "latin-1"])))
        elif kind == 5:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(200))))
        elif kind == 6:
            out.append(json.dumps({"rows": rng.choice([5, "5", None, {}, [[]], [None]]),
                                   "x": rng.choice([None, [], 1, "a"])}).encode())
        else:
            out.append(json.dumps(rng.choice([[], {}, 0, "s", None, [[ROW]], {"rows": []}]))
                       .encode())
    return out


def _fuzz_routes(rng: random.Random) -> list[tuple[str, str]]:
    parts = ["models", "latest", "1", "0", "-1", "%C2%B2", "%00", "..", "%2e%2e", "..%2f..",
             "manifest.json", "model.onnx", "snapshot.json", "%ff", "%", "etc%2fpasswd", "x" * 300,
             "examples", "healthz", "head", "vendor", "web_demo", "js", "estuary.js", "٣",
             "%00.js", "app.js", "..%2fapp.js", "style.css", "index.html", "%2e.js", ""]
    queries = ["", "?n=abc", "?n=", "?n=99999999999999999999", "?n=5", "?n=%00", "?n=-3",
               "?n=1e3", "?runtime=tfjs", "?progressive=0&runtime=%ff", "?v=" + "a" * 100]
    out = [("GET", url) for url in (
        "/web_demo/%00.js", "/web_demo/..%2f..%2f..%2fetc%2fpasswd.js", "/js/%00", "/vendor/%00",
        "/models/1/%00", "/models/%00/x", "/models/1/model.onnx%00", "/examples?n=%00",
        "/?runtime=%00", "/models/latest/..%2fmanifest.json", "/models/1/.", "/models/1/")]
    while len(out) < 150:
        path = "/" + "/".join(rng.choice(parts) for _ in range(rng.randrange(1, 4)))
        out.append((rng.choice(["GET", "GET", "HEAD", "DELETE", "PUT"]),
                    path + rng.choice(queries)))
    return out


def test_fuzz_no_request_gives_a_500(client):
    rng = random.Random(18)
    statuses: dict[int, int] = {}
    bodies = _fuzz_bodies(rng)
    for body in bodies:
        path = rng.choice(["/predict", "/predict", "/learn"])
        r = client.post(path, content=body, headers={"Content-Type": rng.choice(
            ["application/json", "text/plain", "application/json; charset=utf-16"])})
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (body[:200], r.status_code, r.text[:300])
        if path == "/predict" and r.status_code != 200:
            assert "error" in r.json()
    for method, url in _fuzz_routes(rng):
        r = client.request(method, url)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (method, url, r.status_code, r.text[:300])
    assert sum(statuses.values()) == len(bodies) + 150 >= 450
    assert statuses.get(200, 0) > 10 and statuses.get(422, 0) > 100  # both sides exercised


def test_fuzz_learn_gives_no_500(store):
    token = "fuzz-token-0123456789"
    learner = Learner(logreg(), formats=["onnx"])
    app = create_app(store, learner=learner, allow_learn=True, learn_token=token)
    rng = random.Random(10)
    labels = [True, False, None, 1, "a", [1], {"a": 1}, 1e308]
    statuses: dict[int, int] = {}
    with TestClient(app, raise_server_exceptions=False,
                    headers={"Authorization": f"Bearer {token}"}) as http:
        bodies = _fuzz_bodies(rng)
        events = [json.dumps([{"x": json.loads(b), "y": rng.choice(labels)}]).encode()
                  for b in bodies[:100] if _is_json(b)]
        for body in bodies + events:
            r = http.post("/learn", content=body)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, (body[:200], r.status_code, r.text[:300])
    assert statuses.get(200, 0) > 5 and statuses.get(422, 0) > 100, statuses


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body, parse_constant=float)
    except (ValueError, RecursionError):
        return False
    return True


def test_nesting_depth_ignores_brackets_inside_strings():
    assert nesting_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "]]]"}]}') == 3
    assert nesting_depth(b'"\\"[[["') == 0
    assert parse_json(b'{"a": "[[[["}', 1) == {"a": "[[[["}

    def depth(value) -> int:  # the reference: walk the parsed value
        if isinstance(value, dict):
            value = list(value.values())
        return 1 + max(map(depth, value), default=0) if isinstance(value, list) else 0

    rng = random.Random(7)
    alphabet = ["[", "]", "{", "}", '"', "\\", "a", "\n", "é"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))

    def make(level: int):
        r = rng.random()
        if level > 6 or r < 0.3:
            return text()
        if r < 0.65:
            return [make(level + 1) for _ in range(rng.randrange(3))]
        return {text(): make(level + 1) for _ in range(rng.randrange(3))}

    for _ in range(2000):  # escaped quotes and backslashes, brackets in keys and values
        value = make(0)
        body = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        assert nesting_depth(body) == depth(value), body


def test_examples_never_send_nan_and_a_removed_version_is_404(store):
    app = create_app(store, examples=[{"a": float("nan"), "b": [float("inf")], "c": 1.5}])
    with TestClient(app, raise_server_exceptions=False) as http:
        r = http.get("/examples")
        strict = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
        assert strict["rows"] == [{"x": {"a": None, "b": [None], "c": 1.5}}]
        assert http.get("/models/1/model.onnx").status_code == 200  # verified, then cached
        republish(store)
        shutil.rmtree(store.versions / "1")  # as retention removes an old version
        r = http.get("/models/1/model.onnx")  # the cached version's file is gone
        assert r.status_code == 404 and "no longer" in r.json()["error"]
        r = http.get("/models/1/manifest.json")  # evicted from the cache, opened again
        assert r.status_code == 404 and "version 1 is not in" in r.json()["error"]


def test_serve_cli_flags(store, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from estuary.cli import app

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app.state.estuary))
    monkeypatch.delenv(server.TOKEN_ENV, raising=False)
    runner = CliRunner()
    no_token = runner.invoke(app, ["serve", str(store.root), "--allow-learn"])
    assert no_token.exit_code == 2 and "ESTUARY_LEARN_TOKEN" in no_token.output
    pickled = runner.invoke(app, ["serve", str(store.root), "--allow-learn", "--model", "m.pkl"])
    assert pickled.exit_code == 2 and "--allow-learn use one of" in pickled.output
    assert runner.invoke(app, ["serve", str(store.root), "--max-body-mb", "2"]).exit_code == 0
    assert started[-1].limits.max_bytes == 2_000_000 and not started[-1].allow_learn
    monkeypatch.setenv(server.TOKEN_ENV, "a-token-long-enough-for-this")
    ok = runner.invoke(app, ["serve", str(store.root), "--allow-learn", "--every", "50"])
    assert ok.exit_code == 0, ok.output
    assert started[-1].allow_learn and started[-1].learner.policy is not None
    assert started[-1].learn_token == "a-token-long-enough-for-this"
