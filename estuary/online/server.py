"""`estuary serve STORE`: predictions from the store's latest verified version, hot-reloaded.

Why Starlette + uvicorn: Starlette is a small ASGI toolkit (routing, JSON and file responses,
lifespan) without FastAPI's pydantic layer, which estuary would not use (rows are River-style
dicts, validated by the artifact's own schema); uvicorn is the reference ASGI server. Both run
the server's watcher, the requests and an optional in-process `Learner` (POST /learn) on one
event loop, so a swap is one attribute assignment between two requests. aiohttp would do too,
but brings its own client and server stack where Starlette leaves HTTP to uvicorn.

Endpoints: POST /predict (one row, or a batch), GET /models/latest (the served manifest),
GET /models/<n>/<file> (artifacts, for browsers and apps), GET /models/history (every
version's events, trigger, parity and metrics), GET /healthz, GET /metrics (Prometheus text
format: metrics.py), and POST /learn when
enabled (`allow_learn=True`, a Learner, and a bearer token). The watcher reads `latest` every
`poll` seconds; a new version is loaded once, in a thread, after `latest`'s manifest hash, its
files' SHA-256 and its golden vectors check out. A version that fails in any way (any exception,
or a load longer than `load_timeout`) is refused, listed with its reason and not retried
(unless `latest` names it again with another manifest hash); the previous one keeps serving and
the next version is still tried. /healthz is 503 while nothing is served or when the watcher is
dead or has not completed a look for `stall_after` seconds.

Bad input is a 4xx, never a 500: 413 for a body over `limits.max_bytes` (checked while reading),
422 for a body that is not JSON, nested deeper than `limits.max_depth`, carries NaN / Infinity / a
number beyond float64, or a row with a bad value (the error names the feature), 400 for a bad
query parameter, 404 for an unknown version or file. NaN policy: JSON has no NaN or infinity,
so a request for which the model's output is not finite (e.g. features near ±1e308 overflow
the logistic's dot product) is refused with 422 naming the rows and their largest inputs,
instead of answering `NaN`.

Many models: a store root holding named models (`ROOT/<name>/`, catalog.py) is served by one
server, each model loaded, hot-reloaded and refused on its own (served_models.py). A request
names its model by path (POST /models/<name>/predict, GET /models/<name>/latest,
GET /models/<name>/<n>/<file>) or by `?model=<name>` on any route; GET /models lists them. On a
root that is itself a store, the routes above work without a name, as they always have.

Also for the web demo (its files: web_assets.py): GET /models/head (`{"latest", "served",
"refused"}`, no disk read), GET /events (the same as Server-Sent Events, pushed when it changes)
and GET /examples (rows to stream through the page: the Learner's recent events, or the served
version's sample rows).

>>> app = create_app(Store("models")); uvicorn.run(app, port=8000)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import ArtifactError, InvalidInputError
from ..runtimes import LoadedModel
from ..signing import trusted_key as trusted_key_of
from .manifest import Manifest
from .metrics import (
    CONTENT_TYPE_LATEST,
    MetricsMiddleware,
    ServerMetrics,
    _StateCollector,
    reason_label,
)
from .request_body import BodyLimits, RequestTooLargeError, read_json
from .served_models import ModelSet, NamedCollector, UnknownModelError
from .store import MANIFEST, MANIFEST_SIG, Pointer, Store, StoreError, Version
from .web_assets import web_routes
from .worker import _detach_jvm

log = logging.getLogger(__name__)
MAX_BATCH = 10_000
MAX_EXAMPLES = 1000
TOKEN_ENV = "ESTUARY_LEARN_TOKEN"  # the bearer token of POST /learn, when not given in code
SSE_KEEPALIVE = 15.0  # seconds between comments on an idle /events stream
SSE_LIFETIME = 300.0  # an /events stream ends after this (EventSource reconnects at once), so
                      # a server shutting down never waits long on an open stream


@dataclass(frozen=True)
class Served:
    """One loaded, verified version: swapped as a whole, so a request sees one or the other."""

    version: Version
    model: LoadedModel
    loaded_at: float
    manifest_sha256: str = ""
    features: frozenset[str] = frozenset()  # the keys a row may use ("x" may be one)
    columns: tuple[str, ...] = ()  # the input matrix's columns, to name extreme inputs

    @classmethod
    def of(cls, version: Version, model: LoadedModel, manifest_sha256: str) -> Served:
        schema = model.metadata.schema
        names = {f.name for f in schema.features} | {str(f.key) for f in schema.features}
        return cls(version, model, time.time(), manifest_sha256, frozenset(names),
                   tuple(schema.columns))


def _load_artifact(path: Path, trusted_key: Any = None) -> LoadedModel:
    """The real runtime's load (golden vectors re-run, and the signature checked with a
    trusted key); one name, so tests can stand in for it."""
    from ..runtimes import load

    return load(path, trusted_key=trusted_key)


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:2000]


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
    limits: BodyLimits = field(default_factory=BodyLimits)
    allow_learn: bool = False
    learn_token: str | None = None
    load_timeout: float = 60.0  # a candidate that takes longer to load is refused
    stall_after: float = 90.0  # no completed look at `latest` for this long: /healthz says 503
    trusted_key: Any = None  # an Ed25519 public key: serve only versions signed by it
    latest_error: str | None = None  # why `latest` could not be read at the last look
    watch_errors: int = 0
    last_error: str | None = None
    last_look: float | None = None  # time.monotonic() of the last completed look
    watcher: asyncio.Task | None = None
    last_swap: float | None = None  # time.monotonic() of the last swap
    refusal_counts: dict[str, int] = field(default_factory=dict)  # bounded reason → refusals
    _reason_names: set[str] = field(default_factory=set)
    _refused_sha: dict[int, str] = field(default_factory=dict)
    _changed: asyncio.Event | None = None
    name: str | None = None  # the model's name in a store root of named models

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

    def _load(self, pointer: Pointer) -> Served:
        try:  # the manifest `latest` names, hash for hash: not merely "version n"
            version = self.store.open(pointer.version, manifest_sha256=pointer.manifest_sha256,
                                      trusted_key=self.trusted_key)
            model = _load_artifact(version.file_for(self.format), self.trusted_key)
            return Served.of(version, model, pointer.manifest_sha256)
        finally:
            _detach_jvm()  # this is a pool thread: see worker._detach_jvm

    def _read_latest(self) -> Pointer | None:
        try:
            pointer = self.store.read_latest()
        except StoreError as e:
            if self.latest_error != str(e):
                log.warning("%s", e)
            self.latest_error = str(e)
            return None
        self.latest_error = None
        number = None if pointer is None else pointer.version
        if number != self.latest:
            self.latest = number
            self._notify()
        return pointer

    async def refresh(self) -> None:
        """Load the store's latest version if it is new and not refused. Any failure of the
        candidate refuses it (listed with its reason); the served version stays."""
        pointer = self._read_latest()
        if pointer is None:
            return
        number, served = pointer.version, self.served
        if served and (served.version.number, served.manifest_sha256) == \
                (number, pointer.manifest_sha256):
            return
        if self._refused_sha.get(number) == pointer.manifest_sha256:
            return
        current = served.version.number if served else None
        try:
            loaded = await asyncio.wait_for(asyncio.to_thread(self._load, pointer),
                                            self.load_timeout)
        except TimeoutError:
            self._refuse(pointer, f"TimeoutError: loading took over {self.load_timeout:g} s", current)
            return
        except Exception as e:  # noqa: BLE001  any failure of a candidate refuses the candidate
            self._refuse(pointer, _describe(e), current)
            return
        self.refused.pop(number, None)
        self._refused_sha.pop(number, None)
        self.served = loaded  # the swap: requests in flight keep the object they hold
        self.swaps += 1
        self.last_swap = time.monotonic()
        self._notify()
        log.info("serving version %d (%s)", number, self.format,
                 extra={"event": "swap", "version": number, "previous": current,
                        "format": self.format, "manifest_sha256": pointer.manifest_sha256})

    def _refuse(self, pointer: Pointer, why: str, current: int | None) -> None:
        self.refused[pointer.version] = why
        self._refused_sha[pointer.version] = pointer.manifest_sha256
        kind = reason_label(why, self._reason_names)
        self.refusal_counts[kind] = self.refusal_counts.get(kind, 0) + 1
        log.error("refusing version %d, still serving %s: %s", pointer.version, current, why,
                  extra={"event": "refused", "version": pointer.version, "serving": current,
                         "reason": kind, "error": why})
        self._notify()

    async def look(self) -> None:
        """One guarded `refresh`: whatever it raises is logged and counted, never propagated."""
        try:
            await self.refresh()
        except Exception as e:  # noqa: BLE001  the watcher outlives any one bad look
            self.watch_errors += 1
            self.last_error = _describe(e)
            log.exception("the watcher's look at %s failed; it goes on", self.store.root)
        self.last_look = time.monotonic()

    async def watch(self) -> None:
        """Look at `latest` every `poll` seconds, forever (until cancelled)."""
        self.last_look = self.last_look or time.monotonic()
        while True:
            await self.look()
            await asyncio.sleep(self.poll)

    def watcher_status(self) -> dict[str, Any]:
        """running, stalled (no completed look for `stall_after` s) or dead (the task ended)."""
        task, since = self.watcher, None
        if self.last_look is not None:
            since = round(time.monotonic() - self.last_look, 3)
        if task is None:
            status = "not started"
        elif task.done():
            status = "dead"
            if not task.cancelled() and task.exception() is not None:
                self.last_error = _describe(task.exception())
        elif since is not None and since > self.stall_after:
            status = "stalled"
        else:
            status = "running"
        return {"status": status, "seconds_since_look": since, "errors": self.watch_errors,
                "last_error": self.last_error, "latest_error": self.latest_error}

    def version(self, number: int) -> Version:
        if number not in self.verified:
            self.verified[number] = self.store.open(number, trusted_key=self.trusted_key)
        return self.verified[number]


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _rows(body: Any, features: frozenset[str]) -> tuple[list, bool]:
    """(rows, single): {"x": row} | {"rows": [...]} | row | [row, ...]. "x" and "rows" are
    envelopes unless the model has a feature of that name."""
    if isinstance(body, list):
        return body, False
    if not isinstance(body, dict):
        raise InvalidInputError("<body>", f"got {_kind(body)}: send a JSON object (one row), a "
                                          'list of rows, {"x": row} or {"rows": [...]}')
    if "rows" in body and "rows" not in features:
        if not isinstance(body["rows"], list):
            raise InvalidInputError("rows", f"expected a list of rows, got {_kind(body['rows'])}")
        return body["rows"], False
    if "x" in body and "x" not in features:
        if not isinstance(body["x"], dict):
            raise InvalidInputError("x", "expected a row (an object of feature values), got "
                                         f"{_kind(body['x'])}")
        return [body["x"]], True
    return [body], True


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _json(request: Request) -> Any:
    """The request body as JSON within the server's limits (RequestTooLargeError: 413,
    InvalidInputError: 422)."""
    return await read_json(request, _state(request).limits)


def _sample_rows(manifest: Manifest, limit: int) -> list[dict]:
    """Rows from a manifest's parity reports (sample rows first), without duplicates; not a row
    an artifact's input contract refused (the server would answer it 422)."""
    seen, rows = set(), []
    worst = [w for e in manifest.formats.values() if e.report for w in e.report.worst_rows
             if not w.refused]
    for w in sorted(worst, key=lambda w: w.tag != "sample"):
        key = repr(sorted(w.row.items(), key=repr))
        if key not in seen:
            seen.add(key)
            rows.append({"x": dict(w.row)})
    return rows[:limit]


def _state(request: Request) -> ServerState:
    """The state of the model the request names (`/models/<name>/...`, `?model=<name>`), or
    of the root's own store; UnknownModelError (404) otherwise."""
    name = request.path_params.get("name") or request.query_params.get("model")
    return request.app.state.models.get(name)


class NonFiniteOutputError(InvalidInputError):
    """The model's output for some rows is NaN or infinite: refused (JSON has no such number)."""

    def __init__(self, rows: list[int], message: str):
        self.rows = rows
        super().__init__("<output>", message)


async def predict(request: Request) -> Response:
    """POST /predict: one row ({"prediction": ...}) or a batch ({"predictions": [...]})."""
    state = _state(request)
    served = state.served  # one read: the whole request uses this version
    if served is None:
        return _error(503, f"no verified version in {state.store.root} yet")
    try:
        body = await _json(request)
        rows, single = _rows(body, served.features)
        if len(rows) > MAX_BATCH:
            raise InvalidInputError("<body>", f"at most {MAX_BATCH} rows per request")
        out = _predictions(served, rows)
    except RequestTooLargeError as e:
        return _error(413, str(e))
    except NonFiniteOutputError as e:
        return _error(422, str(e), rows=e.rows)
    except InvalidInputError as e:
        return _error(422, str(e), field=e.field)
    state.requests += 1
    if single:
        out["prediction"] = out.pop("predictions")[0]
        for name in ("probabilities", "distances", "is_anomaly"):  # per-row extras
            if name in out:
                out[name] = out[name][0]
        if "outputs" in out:
            out["outputs"] = {k: v[0] for k, v in out["outputs"].items()}
    return JSONResponse(out)


def _encode(served: Served, rows: list) -> np.ndarray:
    try:
        return served.model.encoder.encode_many(rows)
    except InvalidInputError:
        raise
    except (TypeError, ValueError, OverflowError) as e:  # a value the encoder did not expect
        raise InvalidInputError("<row>", _describe(e)) from e


def _predictions(served: Served, rows: list) -> dict[str, Any]:
    model = served.model
    X = _encode(served, rows)
    out: dict[str, Any] = {"version": served.version.number}
    result = model.run(X)
    spec = model.task  # the task's outputs (`ir.tasks`): each is answered by name
    floats = [np.asarray(v, dtype=np.float64).reshape(len(rows), -1) for k, v in result.items()
              if v.dtype.kind == "f"] if rows else []  # no row: nothing to check (no 500)
    _check_finite(np.hstack(floats) if rows and floats else np.empty((0, 0)), X, served.columns)
    if spec.per_target:  # one output per target: `label.<t>`, `probabilities.<t>`, `value.<t>`
        out["targets"] = list(model.classes)
        out["outputs"] = {k: v.tolist() for k, v in result.items()}
        out["predictions"] = [dict(zip(out["outputs"], values))
                              for values in zip(*out["outputs"].values())]
    elif spec.index:  # classes or cluster ids, and the main output per class / centre
        out["classes"] = list(model.classes)
        out[spec.output] = result[spec.output].tolist()
        out["predictions"] = [model.classes[i] for i in result[spec.index_output]]
    else:  # value, score, forecast
        out["predictions"] = result[spec.output].tolist()
    for name in spec.optional:  # a filter's is_anomaly
        if name in result:
            out[name] = [bool(v) for v in result[name]]
    return out


def _check_finite(outputs: np.ndarray, X: np.ndarray, columns: tuple[str, ...]) -> None:
    """The NaN policy: a request whose output is not finite for some row is refused (422),
    naming the rows and the largest inputs of the first one."""
    bad = np.flatnonzero(~np.isfinite(outputs).all(axis=1)) if outputs.size else []
    if not len(bad):
        return
    first = X[bad[0]]
    order = np.argsort(-np.nan_to_num(np.abs(first), nan=-1.0))[:3]
    largest = ", ".join(f"{columns[j]}={first[j]:.3g}" for j in order if not np.isnan(first[j]))
    raise NonFiniteOutputError(
        [int(i) for i in bad[:100]],
        f"the model's output is not a finite number for {len(bad)} row(s), first row "
        f"{int(bad[0])} (largest inputs: {largest or 'none'}): values this far out overflow "
        "the model's arithmetic; send values within the range it was trained on")


async def latest(request: Request) -> Response:
    """GET /models/latest: the served version's manifest."""
    served = _state(request).served
    if served is None:
        return _error(503, "no verified version yet")
    return JSONResponse(served.version.manifest.to_dict(),
                        headers={"X-Estuary-Version": str(served.version.number)})


def _version_number(state: ServerState, ref: str) -> int | None:
    if ref == "latest" and state.served is not None:
        return state.served.version.number
    if ref.isascii() and ref.isdigit() and len(ref) < 19:  # '²'.isdigit() is True
        return int(ref)
    return None


async def artifact(request: Request) -> Response:
    """GET /models/<n|latest>/<file>: a file the version's manifest lists, or the manifest
    (also GET /models/<name>/<n|latest>/<file> for a named model)."""
    ref, name = request.path_params["version"], request.path_params["file"]
    named = request.app.state.models.named
    if ref in named and "model" not in request.query_params:  # /models/<name>/<n>/<file>
        state = named[ref]
        ref, _, name = name.partition("/")
    else:
        state = _state(request)
    number = _version_number(state, ref)
    if number is None:
        return _error(404, f"no version {ref!r}")
    try:
        version = await asyncio.to_thread(state.version, number)
    except ArtifactError as e:  # StoreError, or ManifestError: not a version to hand out
        return _error(404, str(e))
    entry = version.manifest.files.get(name)
    if entry is None and name not in (MANIFEST, MANIFEST_SIG):  # only what the manifest lists
        return _error(404, f"version {number} has no file {name!r}; it has "
                           f"{sorted(version.manifest.files)}")
    path = version.path / name
    if not path.is_file():  # removed since it was verified (retention keeps the newest few)
        state.verified.pop(number, None)
        return _error(404, f"version {number} is no longer in {state.store.root}")
    if entry is None:
        return FileResponse(path, media_type="application/json")
    return FileResponse(path, headers={"ETag": f'"{entry.sha256}"'})


async def healthz(request: Request) -> Response:
    """GET /healthz: 200 when a version is served and the watcher runs, else 503. On a root
    of named models without ?model=: 200 when every model is healthy, each one's body."""
    models = request.app.state.models
    if not models.single and "model" not in request.query_params:
        bodies = {name: _health(state) for name, state in sorted(models.named.items())}
        ok = all(body["ok"] for body in bodies.values())
        return JSONResponse({"ok": ok, "store": str(models.root), "models": bodies},
                            status_code=200 if ok else 503)
    body = _health(_state(request))
    return JSONResponse(body, status_code=200 if body["ok"] else 503)


def _health(state: ServerState) -> dict[str, Any]:
    served = state.served
    watcher = state.watcher_status()
    ok = served is not None and watcher["status"] == "running"
    body = {"ok": ok, "format": state.format, "store": str(state.store.root),
            "version": served.version.number if served else None, "swaps": state.swaps,
            "requests": state.requests, "refused": state.refused, "watcher": watcher,
            "learn": "on" if state.allow_learn else "off"}
    if state.learner is not None:
        body["learner"] = {"events": state.learner.n_events,
                           "snapshots": state.learner.n_snapshots}
    return body


def _authorized(state: ServerState, request: Request) -> JSONResponse | None:
    """None when POST /learn may proceed, else the response that says why not."""
    if not state.allow_learn:
        return _error(403, "POST /learn is off on this server: start it with "
                           "`estuary serve --allow-learn` (create_app(allow_learn=True)) and a "
                           f"token in ${TOKEN_ENV}")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = (state.learn_token or "").encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        return JSONResponse({"error": "POST /learn needs `Authorization: Bearer <token>` with "
                                      "the server's token"}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="estuary"'})
    return None


async def learn(request: Request) -> Response:
    """POST /learn (when enabled, with the bearer token): one event {"x": row, "y": label} or
    a list of them, for the server's Learner."""
    state = _state(request)
    refused = _authorized(state, request)
    if refused is not None:
        return refused
    learner = state.learner
    try:
        body = await _json(request)
        events = body if isinstance(body, list) else [body]
        if len(events) > MAX_BATCH:
            raise InvalidInputError("<body>", f"at most {MAX_BATCH} events per request")
        for event in events:  # all checked before any is learned
            if not isinstance(event, dict) or not isinstance(event.get("x"), dict):
                raise InvalidInputError("<body>", 'each event is {"x": {...}, "y": ...}')
        learned = _learn_all(learner, events)
    except RequestTooLargeError as e:
        return _error(413, str(e))
    except InvalidInputError as e:
        return _error(422, str(e), field=e.field)
    return JSONResponse({"learned": learned, "events": learner.n_events})


def _learn_all(learner: Any, events: list[dict]) -> int:
    """Learn `events` in order; a value the River model cannot learn from (a list where it
    wants a number, a label it cannot take) is a 422 saying how many were learned before it."""
    for i, event in enumerate(events):
        try:
            learner.learn_one(event["x"], event.get("y"))
        except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as e:
            raise InvalidInputError("<event>", f"event {i}: the model cannot learn from it "
                                               f"({_describe(e)[:300]}); the {i} before it were "
                                               "learned") from e
    return len(events)


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
    n = request.query_params.get("n", "") or "64"
    if not (n.isascii() and n.isdigit() and len(n) < 10):
        return _error(400, f"n: expected a whole number of rows (0 to {MAX_EXAMPLES}), got {n!r}")
    limit = min(int(n), MAX_EXAMPLES)
    if state.learner is not None:
        rows, source = [{"x": x} for x in state.learner.recent() if x is not None], "learner"
    elif state.examples is not None:
        rows, source = state.examples, "server"
    elif state.served is not None:
        rows, source = _sample_rows(state.served.version.manifest, limit), "parity report"
    else:
        rows, source = [], "none"
    rows = rows[len(rows) - limit:] if limit else []
    try:
        body = json.dumps({"source": source, "rows": rows}, default=str, allow_nan=False)
    except ValueError:  # a NaN or infinity in an event (JSON has none): null, as a missing value
        body = json.dumps({"source": source, "rows": _finite(rows)}, default=str)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


async def history(request: Request) -> Response:
    """GET /models/history: every version of the store from its manifest (events, trigger,
    parity per format, metrics, size, age; `estuary store list --json`), oldest first, and the
    one this server serves: what the page charts."""
    from .store_admin import list_versions

    state = _state(request)
    rows = await asyncio.to_thread(list_versions, state.store)
    body = {"served": state.served.version.number if state.served else None,
            "versions": [r.to_dict() for r in rows]}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def list_models(request: Request) -> Response:
    """GET /models: the named models of the root (each one's head), or, on a single-model
    store, the one model (name null)."""
    models = request.app.state.models
    rows = [{"name": name, **state.head()} for name, state in models.states()
            if (name is None) == models.single]
    return JSONResponse({"store": str(models.root), "models": rows},
                        headers={"Cache-Control": "no-store"})


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text format (see metrics.py)."""
    return Response(request.app.state.metrics.exposition(),
                    headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


API_ROUTES = [
    Route("/predict", predict, methods=["POST"]),
    Route("/models", list_models, methods=["GET"]),
    Route("/models/latest", latest, methods=["GET"]),
    Route("/models/{name}/predict", predict, methods=["POST"]),
    Route("/models/{name}/latest", latest, methods=["GET"]),
    Route("/models/history", history, methods=["GET"]),
    Route("/models/{version}/{file:path}", artifact, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/learn", learn, methods=["POST"]),
    Route("/models/head", head, methods=["GET"]),
    Route("/events", events, methods=["GET"]),
    Route("/examples", example_rows, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]


async def _unknown_model(request: Request, exc: Exception) -> Response:
    return _error(404, str(exc))


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug (bad input is a 4xx above): answered as JSON, and logged with its traceback."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error(500, f"internal error ({type(exc).__name__}); see the server's log")


def _learn_token(allow_learn: bool, learner: Any, token: str | None) -> str | None:
    if not allow_learn:
        return None
    if learner is None:
        raise ValueError("allow_learn=True needs a learner: create_app(..., learner=Learner(...))")
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    if not token or len(token) < 16:
        raise ValueError(f"allow_learn=True needs a bearer token of 16+ characters: set "
                         f"${TOKEN_ENV} or pass learn_token= (e.g. `openssl rand -hex 24`)")
    return token


def create_app(store: Store | str | Path, *, format: str = "onnx", poll: float = 0.25,
               learner: Any = None, examples: list[dict] | None = None,
               allow_learn: bool = False, learn_token: str | None = None,
               limits: BodyLimits | None = None, load_timeout: float = 60.0,
               stall_after: float = 90.0, trusted_key: Any = None) -> Starlette:
    """The ASGI app; run it with uvicorn (`estuary serve` does). `examples` (rows, or
    `{"x": row, "y": label}` events) are what the web demo streams; by default the Learner's
    recent events, or the sample rows in the served version's parity reports.

    POST /learn is off unless `allow_learn` (it needs `learner`), and then takes only requests
    with `Authorization: Bearer <learn_token>` (default: $ESTUARY_LEARN_TOKEN). `limits` bound
    request bodies (default 10 MB, 32 levels of nesting). A candidate version loading for
    longer than `load_timeout` seconds is refused; /healthz says 503 once the watcher has not
    completed a look for `stall_after` seconds. With `trusted_key` (a public key or its file;
    default $ESTUARY_TRUSTED_KEY) a version whose manifest or artifact is not signed by it is
    refused like any version that fails to load, and the page verifies what it fetches.

    >>> app = create_app("models", learner=learner, allow_learn=True, learn_token=token)
    """
    key = trusted_key_of(trusted_key)  # SigningKeyError now, not at the first version
    state = ServerState(store if isinstance(store, Store) else Store(store), format, poll, learner,
                        limits=limits or BodyLimits(), allow_learn=allow_learn,
                        learn_token=_learn_token(allow_learn, learner, learn_token),
                        load_timeout=load_timeout, stall_after=stall_after, trusted_key=key)
    if examples is not None:
        state.examples = [e if isinstance(e.get("x"), dict) else {"x": e} for e in examples]

    models = ModelSet(state.store.root, state, lambda store, name: ServerState(
        store, format, poll, limits=state.limits, load_timeout=load_timeout,
        stall_after=stall_after, name=name, trusted_key=key))
    models.scan()
    counters = ServerMetrics(state, model=state.store.root.resolve().name or "store")
    counters.registry.register(NamedCollector(models, _StateCollector))
    counters.model_of = models.named_in
    app = Starlette(routes=[*API_ROUTES, *web_routes(state, models.for_page, models.names)],
                    lifespan=_lifespan(models, poll),
                    exception_handlers={UnknownModelError: _unknown_model,
                                        Exception: _internal_error},
                    middleware=[Middleware(MetricsMiddleware, metrics=counters)])
    app.state.estuary = state
    app.state.models = models
    app.state.metrics = counters
    return app


def _lifespan(models: ModelSet, poll: float) -> Any:
    """Watch every model's `latest` (one watcher each), and look for new named models every
    few polls (a Kafka partition's first publish)."""

    async def watch_all() -> None:
        while True:
            await asyncio.sleep(max(4 * poll, 1.0))
            models.scan()
            for _, state in models.states():
                if state.watcher is None:
                    state.watcher = asyncio.create_task(state.watch())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for _, state in models.states():
            await state.look()  # a hostile `latest` is logged and shown on /healthz, not fatal
            state.watcher = asyncio.create_task(state.watch())
        scanner = asyncio.create_task(watch_all())
        try:
            yield
        finally:
            tasks = [scanner, *(state.watcher for _, state in models.states() if state.watcher)]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan


def serve(store: Store | str | Path, host: str = "127.0.0.1", port: int = 8000, *,
          format: str = "onnx", poll: float = 0.25, learner: Any = None,
          allow_learn: bool = False, max_body_bytes: int | None = None,
          log_format: str = "text", trusted_key: Any = None) -> None:
    """Run the server until interrupted (the bearer token of /learn: $ESTUARY_LEARN_TOKEN).
    `log_format="json"`: estuary's logs (swaps, refusals, failed requests) as JSON lines on
    stderr (see jsonlog.py)."""
    import uvicorn

    if log_format == "json":
        from .jsonlog import use_json_logs

        use_json_logs()
    elif log_format != "text":
        raise ValueError(f"log_format must be 'text' or 'json', got {log_format!r}")
    limits = BodyLimits(max_bytes=max_body_bytes) if max_body_bytes else None
    app = create_app(store, format=format, poll=poll, learner=learner, allow_learn=allow_learn,
                     limits=limits, trusted_key=trusted_key)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)


__all__ = ["TOKEN_ENV", "BodyLimits", "ServerState", "create_app", "serve"]
