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

Also for the web demo (its files: web_assets.py): GET /models/head (`{"latest", "served",
"refused"}`, no disk read), GET /events (the same as Server-Sent Events, pushed when it changes)
and GET /examples (rows to stream through the page: the Learner's recent events, or the served
version's sample rows).

>>> app = create_app(Store("models")); uvicorn.run(app, port=8000)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import ArtifactError, EstuaryError, InvalidInputError
from ..runtimes import LoadedModel
from .manifest import Manifest
from .store import MANIFEST, Store, StoreError, Version
from .web_assets import web_routes
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


def _sample_rows(manifest: Manifest, limit: int) -> list[dict]:
    """Rows from a manifest's parity reports (sample rows first), without duplicates."""
    seen, rows = set(), []
    worst = [w for e in manifest.formats.values() if e.report for w in e.report.worst_rows]
    for w in sorted(worst, key=lambda w: w.tag != "sample"):
        key = repr(sorted(w.row.items(), key=repr))
        if key not in seen:
            seen.add(key)
            rows.append({"x": dict(w.row)})
    return rows[:limit]


def _state(request: Request) -> ServerState:
    return request.app.state.estuary


async def predict(request: Request) -> Response:
    """POST /predict: one row ({"prediction": ...}) or a batch ({"predictions": [...]})."""
    state = _state(request)
    served = state.served  # one read: the whole request uses this version
    if served is None:
        return _error(503, f"no verified version in {state.store.root} yet")
    try:
        rows, single = _rows(await _json(request))
        if len(rows) > MAX_BATCH:
            raise InvalidInputError("<body>", f"at most {MAX_BATCH} rows per request")
        out = _predictions(served, rows)
    except InvalidInputError as e:
        return _error(422, str(e))
    state.requests += 1
    if single:
        out["prediction"] = out.pop("predictions")[0]
        if "probabilities" in out:
            out["probabilities"] = out["probabilities"][0]
    return JSONResponse(out)


def _predictions(served: Served, rows: list[dict]) -> dict[str, Any]:
    model = served.model
    out: dict[str, Any] = {"version": served.version.number}
    result = model.run(model.encoder.encode_many(rows))
    if model.is_classifier:
        out["classes"] = list(model.classes)
        out["probabilities"] = result["probabilities"].tolist()
        out["predictions"] = [model.classes[i] for i in result["label"]]
    else:
        out["predictions"] = result["value"].tolist()
    return out


async def latest(request: Request) -> Response:
    """GET /models/latest: the served version's manifest."""
    served = _state(request).served
    if served is None:
        return _error(503, "no verified version yet")
    return JSONResponse(served.version.manifest.to_dict(),
                        headers={"X-Estuary-Version": str(served.version.number)})


async def artifact(request: Request) -> Response:
    """GET /models/<n|latest>/<file>: a file the version's manifest lists, or the manifest."""
    state = _state(request)
    ref, name = request.path_params["version"], request.path_params["file"]
    if ref == "latest" and state.served is not None:
        number = state.served.version.number
    elif ref.isdigit():
        number = int(ref)
    else:
        return _error(404, f"no version {ref!r}")
    try:
        version = state.version(number)
    except ArtifactError as e:  # StoreError, or ManifestError: not a version to hand out
        return _error(404, str(e))
    if name == MANIFEST:
        return FileResponse(version.path / MANIFEST, media_type="application/json")
    entry = version.manifest.files.get(name)
    if entry is None:  # only files the manifest lists: no path tricks
        return _error(404, f"version {number} has no file {name!r}; it has "
                           f"{sorted(version.manifest.files)}")
    return FileResponse(version.path / name, headers={"ETag": f'"{entry.sha256}"'})


async def healthz(request: Request) -> Response:
    state = _state(request)
    served = state.served
    body = {"ok": served is not None, "format": state.format, "store": str(state.store.root),
            "version": served.version.number if served else None, "swaps": state.swaps,
            "requests": state.requests, "refused": state.refused}
    if state.learner is not None:
        body["learner"] = {"events": state.learner.n_events,
                           "snapshots": state.learner.n_snapshots}
    return JSONResponse(body, status_code=200 if served else 503)


async def learn(request: Request) -> Response:
    """POST /learn: one event {"x": row, "y": label} or a list, for the server's Learner."""
    learner = _state(request).learner
    if learner is None:
        return _error(404, "this server has no Learner: start it with one to accept events")
    try:
        body = await _json(request)
        events = body if isinstance(body, list) else [body]
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("x"), dict):
                raise InvalidInputError("<body>", 'each event is {"x": {...}, "y": ...}')
            learner.learn_one(event["x"], event.get("y"))
    except InvalidInputError as e:
        return _error(422, str(e))
    return JSONResponse({"learned": len(events), "events": learner.n_events})


async def head(request: Request) -> Response:
    return JSONResponse(_state(request).head(), headers={"Cache-Control": "no-store"})


async def events(request: Request) -> Response:
    """GET /events: the head as Server-Sent Events, pushed when it changes."""
    state = _state(request)

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


async def example_rows(request: Request) -> Response:
    """GET /examples?n=64: rows for the page to stream (see `create_app`)."""
    state = _state(request)
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


API_ROUTES = [
    Route("/predict", predict, methods=["POST"]),
    Route("/models/latest", latest, methods=["GET"]),
    Route("/models/{version}/{file:path}", artifact, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/learn", learn, methods=["POST"]),
    Route("/models/head", head, methods=["GET"]),
    Route("/events", events, methods=["GET"]),
    Route("/examples", example_rows, methods=["GET"]),
]


def create_app(store: Store | str | Path, *, format: str = "onnx", poll: float = 0.25,
               learner: Any = None, examples: list[dict] | None = None) -> Starlette:
    """The ASGI app; run it with uvicorn (`estuary serve` does). `examples` (rows, or
    `{"x": row, "y": label}` events) are what the web demo streams; by default the Learner's
    recent events, or the sample rows in the served version's parity reports."""
    state = ServerState(store if isinstance(store, Store) else Store(store), format, poll, learner)
    if examples is not None:
        state.examples = [e if isinstance(e.get("x"), dict) else {"x": e} for e in examples]

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

    app = Starlette(routes=[*API_ROUTES, *web_routes(state)], lifespan=lifespan)
    app.state.estuary = state
    return app


def serve(store: Store | str | Path, host: str = "127.0.0.1", port: int = 8000, *,
          format: str = "onnx", poll: float = 0.25, learner: Any = None) -> None:
    """Run the server until interrupted."""
    import uvicorn

    uvicorn.run(create_app(store, format=format, poll=poll, learner=learner), host=host,
                port=port, log_level="warning", timeout_graceful_shutdown=2)


__all__ = ["ServerState", "create_app", "serve"]
