"""`estuary serve STORE`: predictions from the store's latest verified version, hot-reloaded.

Why Starlette + uvicorn: Starlette is a small ASGI toolkit (routing, JSON and file responses,
lifespan) without FastAPI's pydantic layer, which estuary would not use (rows are River-style
dicts, validated by the artifact's own schema); uvicorn is the reference ASGI server. Both run
the server's watcher, the requests and an optional in-process `Learner` (POST /learn) on one
event loop, so a swap is one attribute assignment between two requests. aiohttp would do too,
but brings its own client and server stack where Starlette leaves HTTP to uvicorn.

Endpoints: POST /predict (one row, or a batch), GET /models/latest (the served manifest),
GET /models/<n>/<file> (artifacts, for browsers and apps), GET /healthz, and with a Learner
POST /learn. The watcher reads `latest` every `poll` seconds; a new version is loaded once, in a
thread, after its SHA-256 hashes and golden vectors check out. A version that fails is refused
(and never retried); the previous one keeps serving.

The web demo (web_demo/): GET / (the page), /web_demo/<file>, /js/estuary.js,
/vendor/<package>@<version>/<file> (onnxruntime-web's wasm build, @tensorflow/tfjs's ES module
bundle, from js/node_modules: no CDN; gzip-compressed once, in memory, and cached for good: the
version is in the URL; the page's own files likewise under content-hashed URLs), GET /models/head
(`{"latest", "served", "refused"}`, no disk read), GET /events (the same as Server-Sent Events, pushed when it changes) and GET /examples
(rows to stream through the page: the Learner's recent events, or the served version's sample rows).

>>> app = create_app(Store("models")); uvicorn.run(app, port=8000)
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import EstuaryError, InvalidInputError
from ..runtimes import LoadedModel
from .store import MANIFEST, Store, StoreError, Version
from .worker import _detach_jvm

log = logging.getLogger(__name__)
MAX_BATCH = 10_000
SSE_KEEPALIVE = 15.0  # seconds between comments on an idle /events stream
SSE_LIFETIME = 300.0  # an /events stream ends after this (EventSource reconnects at once), so
                      # a server shutting down never waits long on an open stream


@dataclass(frozen=True)
class Served:
    """One loaded, verified version: swapped as a whole, so a request sees one or the other."""

    version: Version
    model: LoadedModel
    loaded_at: float


@dataclass
class ServerState:
    store: Store
    format: str = "onnx"
    poll: float = 0.25
    learner: Any = None
    served: Served | None = None
    refused: dict[int, str] = field(default_factory=dict)
    verified: dict[int, Version] = field(default_factory=dict)  # versions are immutable
    swaps: int = 0
    requests: int = 0
    latest: int | None = None  # what `latest` named at the last look
    examples: list[dict] | None = None
    _changed: asyncio.Event | None = None

    def head(self) -> dict[str, Any]:
        """What /models/head and /events say: the store's latest published version, the one
        this server serves, and the versions it refused (with why)."""
        return {"latest": self.latest,
                "served": self.served.version.number if self.served else None,
                "refused": {str(n): why for n, why in sorted(self.refused.items())}}

    def changed(self) -> asyncio.Event:
        """Set (and replaced by a fresh one) when `head()` changes."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _notify(self) -> None:
        old, self._changed = self.changed(), asyncio.Event()
        old.set()

    def _load(self, number: int) -> Served:
        try:
            version = self.store.open(number)
            model = self.store.load(number, self.format)
            return Served(version, model, time.time())
        finally:
            _detach_jvm()  # this is a pool thread: see worker._detach_jvm

    async def refresh(self) -> None:
        """Load the store's latest version if it is new and not refused."""
        try:
            number = self.store.latest_number()
        except StoreError as e:
            log.warning("%s", e)
            return
        if number != self.latest:
            self.latest = number
            self._notify()
        current = self.served.version.number if self.served else None
        if number is None or number == current or number in self.refused:
            return
        try:
            served = await asyncio.to_thread(self._load, number)
        except (EstuaryError, OSError, ValueError) as e:
            self.refused[number] = f"{type(e).__name__}: {e}"
            log.error("refusing version %d, still serving %s: %s", number, current, e)
            self._notify()
            return
        self.served = served  # the swap: requests in flight keep the object they hold
        self.swaps += 1
        self._notify()
        log.info("serving version %d (%s)", number, self.format)

    async def watch(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.poll)

    def version(self, number: int) -> Version:
        if number not in self.verified:
            self.verified[number] = self.store.open(number)
        return self.verified[number]


def _rows(body: Any) -> tuple[list[dict], bool]:
    """(rows, single): {"x": row} | {"rows": [...]} | row | [row, ...]."""
    if isinstance(body, dict) and isinstance(body.get("rows"), list):
        return body["rows"], False
    if isinstance(body, dict) and isinstance(body.get("x"), dict):
        return [body["x"]], True
    if isinstance(body, list):
        return body, False
    if isinstance(body, dict):
        return [body], True
    raise InvalidInputError("<body>", "send a JSON object (one row), a list of rows, "
                            '{"x": row} or {"rows": [...]}')


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as e:
        raise InvalidInputError("<body>", f"not valid JSON ({e})") from e


# ---------------------------------------------------------------------------- the web demo

REPO = Path(__file__).resolve().parents[2]
WEB_DEMO = REPO / "web_demo"
NO_CACHE = {"Cache-Control": "no-cache"}
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
# The page is cross-origin isolated (everything it loads is same-origin): performance.now() then
# has 5 µs resolution instead of 100 µs, which the one-row latencies it shows need.
ISOLATED = {"Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Embedder-Policy": "require-corp"}
MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".wasm": "application/wasm", ".svg": "image/svg+xml", ".json": "application/json"}
# URL name → file under js/: only what the page needs, nothing else.
_ORT = "node_modules/onnxruntime-web/dist/"
VENDOR = {
    "onnxruntime-web": {
        "ort.wasm.bundle.min.mjs": _ORT + "ort.wasm.bundle.min.mjs",  # API + wasm glue in one
        "ort-wasm-simd-threaded.wasm": _ORT + "ort-wasm-simd-threaded.wasm",
        "ort-wasm-simd-threaded.mjs": _ORT + "ort-wasm-simd-threaded.mjs",
    },
    # tfjs-core + converter + cpu backend in one ES module, built by `npm ci` (js/src/tfjs-cpu.js)
    "@tensorflow/tfjs": {"tfjs-cpu.mjs": "dist/tfjs-cpu.mjs"},
}
VENDOR_ENTRY = {"onnxruntime-web": "ort.wasm.bundle.min.mjs", "@tensorflow/tfjs": "tfjs-cpu.mjs"}
NPM_HINT = "npm ci --prefix js"


class _Gzipped:
    """Vendored files gzip-compressed once, in memory (ORT's 14 MB wasm → 3.7 MB): a first visit
    downloads a quarter of the bytes, and the browser's HTTP cache keeps the small copy."""

    def __init__(self) -> None:
        self._done: dict[Path, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> bytes | None:
        """The compressed bytes of `path` (compressed now if needed), or None if unreadable."""
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        with self._lock:
            hit = self._done.get(path)
            if hit is None or hit[0] != mtime:
                hit = (mtime, gzip.compress(path.read_bytes(), 6, mtime=0))
                self._done[path] = hit
            return hit[1]

    def warm(self, paths: list[Path]) -> None:
        """Compress `paths` in a background thread (before the first visitor asks)."""
        def run() -> None:
            for path in paths:
                self.get(path)
        threading.Thread(target=run, name="estuary-gzip", daemon=True).start()


_GZIPPED = _Gzipped()  # one per process: every app created here shares it


def _script_json(value: Any) -> str:
    """JSON to inline in a <script> element: no '</script>' (or '<!--') in any string."""
    return json.dumps(value, default=str).replace("<", "\\u003c")


def _file_hash(path: Path) -> str:
    """First 12 hex digits of the file's SHA-256 ('' if it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return ""


def _js_dir() -> Path:
    from ..runtimes.node import js_dir

    return js_dir()


def _built_hashes() -> dict[Path, str]:
    """Hash of each vendored file we build ourselves (not under js/node_modules): part of its
    URL, and checked again when it is served ('' if it is missing)."""
    return {_js_dir() / rel: _file_hash(_js_dir() / rel) for files in VENDOR.values()
            for rel in files.values() if not rel.startswith("node_modules/")}


def _vendor_versions(built: dict[Path, str]) -> dict[str, str | None]:
    """Installed version of each vendored npm package (it goes in the URL: cached forever)."""
    out: dict[str, str | None] = {}
    for package, files in VENDOR.items():
        try:
            out[package] = json.loads((_js_dir() / "node_modules" / package / "package.json")
                                      .read_text())["version"]
        except (OSError, ValueError, KeyError):
            out[package] = None
        digests = [built[_js_dir() / rel] for rel in files.values() if _js_dir() / rel in built]
        if out[package] and digests:  # our own bundle of it: its content is part of its name
            out[package] = f"{out[package]}+{''.join(digests)}" if all(digests) else None
    return out


def _web_routes(state: ServerState) -> list[Route]:
    built_hash = _built_hashes()
    versions = _vendor_versions(built_hash)
    vendor_files = {f"{package}@{versions[package]}/{name}": _js_dir() / rel
                    for package, files in VENDOR.items() for name, rel in files.items()}
    vendor_url = {package: f"/vendor/{package}@{versions[package]}/{VENDOR_ENTRY[package]}"
                  for package in VENDOR}
    missing = sorted(p for p, v in versions.items() if v is None)
    _GZIPPED.warm([p for p in vendor_files.values() if p.is_file()])
    ort_wasm = f"/vendor/onnxruntime-web@{versions['onnxruntime-web']}/ort-wasm-simd-threaded.wasm"
    ort_glue = ort_wasm.removesuffix(".wasm") + ".mjs"

    def own_files() -> dict[str, Path]:
        """URL → file of the page's own modules and style (not vendored: they change)."""
        files = {f"/web_demo/{p.name}": p for p in sorted(WEB_DEMO.glob("*"))
                 if p.suffix in (".js", ".css")}
        return {**files, "/js/estuary.js": _js_dir() / "src" / "estuary.js"}

    def preloads(runtimes: list[str]) -> str:
        """Fetched at once, while the page is parsed: the runtime the page answers with first.
        A progressive page (TF.js first, then ONNX) preloads TF.js only: fetching, unpacking
        and parsing ORT's 14 MB wasm at the same time delays TF.js's first answer by 100+ ms
        on a cold visit; onnxruntime-web is fetched once TF.js has answered."""
        links = []
        if "tfjs" in runtimes and "@tensorflow/tfjs" not in missing:
            links.append(f'<link rel="modulepreload" href="{vendor_url["@tensorflow/tfjs"]}">')
        if runtimes == ["onnx"] and "onnxruntime-web" not in missing:
            # the wasm too: its download (warm: its read from the HTTP cache) starts now, not when
            # onnxruntime-web asks for it (as=fetch + crossorigin: what its fetch() matches)
            links += [f'<link rel="modulepreload" href="{vendor_url["onnxruntime-web"]}">',
                      f'<link rel="modulepreload" href="{ort_glue}">',  # it imports this
                      f'<link rel="preload" href="{ort_wasm}" as="fetch" '
                      'crossorigin>']
        return "\n".join(links)

    def latest_manifest(head: dict) -> dict | None:
        """The latest version's manifest, inlined in the page: one round trip less before the
        first model is fetched (the page checks its version number before using it)."""
        if head["latest"] is None:
            return None
        try:
            return state.version(head["latest"]).manifest
        except StoreError:
            return None

    async def page(request: Request) -> Response:
        try:
            html = (WEB_DEMO / "index.html").read_text(encoding="utf-8")
        except OSError:
            return _error(404, f"the web demo is not installed here ({WEB_DEMO} is missing)")
        # the page's own files under content-hashed URLs (cached for good, like the vendored
        # ones): a second visit loads them without a round trip; an edit changes the URL
        versioned = {url: f"{url}?v={_file_hash(path)}" for url, path in own_files().items()}
        # ...also where a module imports another ('./runtimes.js' → the same versioned URL)
        modules = {url: v for url, v in versioned.items() if url.endswith(".js")}
        import_map = {"imports": {"estuary": versioned["/js/estuary.js"], **modules,
                                  **vendor_url}}
        for url, v in versioned.items():
            html = html.replace(f'"{url}"', f'"{v}"')
        head = state.head()
        manifest = latest_manifest(head)
        config = {"missing": missing, "install": NPM_HINT, "head": head, "manifest": manifest}
        # as web_demo/runtimes.js plans it: ?runtime=tfjs → TF.js; else ONNX, and TF.js first
        # (a progressive first answer) when the latest version has a TF.js artifact that passed
        tfjs = (manifest or {}).get("formats", {}).get("tfjs") or {}
        query = request.query_params
        runtimes = (["tfjs"] if query.get("runtime") == "tfjs" else
                    ["tfjs", "onnx"] if tfjs.get("passed") and query.get("progressive") != "0"
                    else ["onnx"])
        html = html.replace("<!--IMPORTMAP-->", '<script type="importmap">'
                            f"{json.dumps(import_map)}</script>\n" + preloads(runtimes))
        html = html.replace("<!--CONFIG-->", '<script type="application/json" id="estuary-config">'
                            f"{_script_json(config)}</script>")
        return Response(html, media_type=MEDIA[".html"], headers={**NO_CACHE, **ISOLATED})

    def _own(request: Request, path: Path) -> Response:
        """A page file: cached for good under its content-hashed URL, else revalidated."""
        fresh = request.query_params.get("v") == _file_hash(path)
        return _file(path, IMMUTABLE if fresh else NO_CACHE)

    def _file(path: Path, headers: dict[str, str]) -> Response:
        if not path.is_file():
            hint = f": run `{NPM_HINT}`" if _js_dir() in path.parents else ""
            return _error(404, f"{path.name} is not installed{hint}")
        return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                            headers={**headers, "Cross-Origin-Resource-Policy": "same-origin"})

    async def demo_file(request: Request) -> Response:
        name = request.path_params["file"]
        path = WEB_DEMO / name
        if "/" in name or name.startswith(".") or path.suffix not in MEDIA:
            return _error(404, f"no web demo file {name!r}")
        return _own(request, path)

    async def client_library(request: Request) -> Response:
        return _own(request, _js_dir() / "src" / "estuary.js")

    async def vendor(request: Request) -> Response:
        path = vendor_files.get(request.path_params["file"])
        if path is None:
            return _error(404, f"not a vendored file: {request.path_params['file']!r}; this "
                               f"server has {sorted(vendor_files)}")
        # a bundle rebuilt since start-up no longer matches the hash in its URL: not for good
        fresh = path not in built_hash or \
            await asyncio.to_thread(_file_hash, path) == built_hash[path]
        cache = IMMUTABLE if fresh else NO_CACHE
        if "gzip" not in request.headers.get("accept-encoding", "") or not path.is_file():
            return _file(path, cache)
        body = await asyncio.to_thread(_GZIPPED.get, path)
        if body is None:
            return _file(path, cache)
        return Response(body, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                        headers={**cache, "Content-Encoding": "gzip", "Vary": "Accept-Encoding",
                                 "Cross-Origin-Resource-Policy": "same-origin"})

    return [
        Route("/", page, methods=["GET"]),
        Route("/web_demo/{file:path}", demo_file, methods=["GET"]),
        Route("/js/estuary.js", client_library, methods=["GET"]),
        Route("/vendor/{file:path}", vendor, methods=["GET"]),
    ]


def _sample_rows(manifest: dict, limit: int) -> list[dict]:
    """Rows from a manifest's parity reports (sample rows first), without duplicates."""
    seen, rows = set(), []
    reports = [e.get("report") or {} for e in manifest.get("formats", {}).values()]
    worst = [w for r in reports for w in r.get("worst_rows") or [] if isinstance(w.get("row"), dict)]
    for w in sorted(worst, key=lambda w: w.get("tag") != "sample"):
        key = repr(sorted(w["row"].items(), key=repr))
        if key not in seen:
            seen.add(key)
            rows.append({"x": w["row"]})
    return rows[:limit]


def create_app(store: Store | str | Path, *, format: str = "onnx", poll: float = 0.25,
               learner: Any = None, examples: list[dict] | None = None) -> Starlette:
    """The ASGI app; run it with uvicorn (`estuary serve` does). `examples` (rows, or
    `{"x": row, "y": label}` events) are what the web demo streams; by default the Learner's
    recent events, or the sample rows in the served version's parity reports."""
    state = ServerState(store if isinstance(store, Store) else Store(store), format, poll, learner)
    if examples is not None:
        state.examples = [e if isinstance(e.get("x"), dict) else {"x": e} for e in examples]

    async def predict(request: Request) -> Response:
        served = state.served  # one read: the whole request uses this version
        if served is None:
            return _error(503, f"no verified version in {state.store.root} yet")
        try:
            rows, single = _rows(await _json(request))
            if len(rows) > MAX_BATCH:
                raise InvalidInputError("<body>", f"at most {MAX_BATCH} rows per request")
            model = served.model
            out: dict[str, Any] = {"version": served.version.number}
            result = model.run(model.encoder.encode_many(rows))
            if model.is_classifier:
                out["classes"] = list(model.classes)
                out["probabilities"] = result["probabilities"].tolist()
                out["predictions"] = [model.classes[i] for i in result["label"]]
            else:
                out["predictions"] = result["value"].tolist()
        except InvalidInputError as e:
            return _error(422, str(e))
        state.requests += 1
        if single:
            out["prediction"] = out.pop("predictions")[0]
            if "probabilities" in out:
                out["probabilities"] = out["probabilities"][0]
        return JSONResponse(out)

    async def latest(request: Request) -> Response:
        if state.served is None:
            return _error(503, "no verified version yet")
        return JSONResponse(state.served.version.manifest,
                            headers={"X-Estuary-Version": str(state.served.version.number)})

    async def artifact(request: Request) -> Response:
        ref, name = request.path_params["version"], request.path_params["file"]
        if ref == "latest" and state.served is not None:
            number = state.served.version.number
        elif ref.isdigit():
            number = int(ref)
        else:
            return _error(404, f"no version {ref!r}")
        try:
            version = state.version(number)
        except StoreError as e:
            return _error(404, str(e))
        if name == MANIFEST:
            return FileResponse(version.path / MANIFEST, media_type="application/json")
        entry = version.manifest["files"].get(name)
        if entry is None:  # only files the manifest lists: no path tricks
            return _error(404, f"version {number} has no file {name!r}; it has "
                               f"{sorted(version.manifest['files'])}")
        return FileResponse(version.path / name, headers={"ETag": f'"{entry["sha256"]}"'})

    async def healthz(request: Request) -> Response:
        served = state.served
        body = {"ok": served is not None, "format": state.format, "store": str(state.store.root),
                "version": served.version.number if served else None, "swaps": state.swaps,
                "requests": state.requests, "refused": state.refused}
        if state.learner is not None:
            body["learner"] = {"events": state.learner.n_events,
                               "snapshots": state.learner.n_snapshots}
        return JSONResponse(body, status_code=200 if served else 503)

    async def learn(request: Request) -> Response:
        if state.learner is None:
            return _error(404, "this server has no Learner: start it with one to accept events")
        try:
            body = await _json(request)
            events = body if isinstance(body, list) else [body]
            for event in events:
                if not isinstance(event, dict) or not isinstance(event.get("x"), dict):
                    raise InvalidInputError("<body>", 'each event is {"x": {...}, "y": ...}')
                state.learner.learn_one(event["x"], event.get("y"))
        except InvalidInputError as e:
            return _error(422, str(e))
        return JSONResponse({"learned": len(events), "events": state.learner.n_events})

    async def head(request: Request) -> Response:
        return JSONResponse(state.head(), headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            yield "retry: 500\n\n"
            last, end = None, time.monotonic() + SSE_LIFETIME
            while time.monotonic() < end:
                changed = state.changed()  # taken before reading head: no change is missed
                now = state.head()
                if now != last:
                    yield f"event: head\ndata: {json.dumps(now)}\n\n"
                    last = now
                try:
                    await asyncio.wait_for(changed.wait(), SSE_KEEPALIVE)
                except TimeoutError:
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def examples_(request: Request) -> Response:
        limit = min(int(request.query_params.get("n", "64") or 64), 1000)
        if state.learner is not None:
            rows, source = [{"x": x} for x in state.learner.recent() if x is not None], "learner"
        elif state.examples is not None:
            rows, source = state.examples, "server"
        elif state.served is not None:
            rows, source = _sample_rows(state.served.version.manifest, limit), "parity report"
        else:
            rows, source = [], "none"
        body = json.dumps({"source": source, "rows": rows[-limit:]}, default=str)
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.refresh()
        task = asyncio.create_task(state.watch())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(routes=[
        Route("/predict", predict, methods=["POST"]),
        Route("/models/latest", latest, methods=["GET"]),
        Route("/models/{version}/{file:path}", artifact, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/learn", learn, methods=["POST"]),
        Route("/models/head", head, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        Route("/examples", examples_, methods=["GET"]),
        *_web_routes(state),
    ], lifespan=lifespan)
    app.state.estuary = state
    return app


def serve(store: Store | str | Path, host: str = "127.0.0.1", port: int = 8000, *,
          format: str = "onnx", poll: float = 0.25, learner: Any = None) -> None:
    """Run the server until interrupted."""
    import uvicorn

    uvicorn.run(create_app(store, format=format, poll=poll, learner=learner), host=host,
                port=port, log_level="warning", timeout_graceful_shutdown=2)


__all__ = ["ServerState", "create_app", "serve"]
