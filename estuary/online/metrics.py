"""GET /metrics of `estuary serve`: Prometheus text format, through `prometheus_client`.

Counted as they happen (an ASGI middleware around every route): requests by route, model,
method and status, errors (4xx, 5xx) by route, model and status, and /predict latency as a
histogram. Read from the server's state at each scrape: the version served and the one `latest`
names, swaps, refusals by reason, the time since the last swap, the served version's age and
the watcher's state; with a `Learner` in the server, its events, snapshots, publish results and
last stall.

Labels stay bounded: `route` is the route's template (`/models/{version}/{file:path}`, or
`<unmatched>`), `model` the store's name, and a refusal's `reason` the exception's type name
(`StoreError`, `GoldenCheckError`, `TimeoutError`, ...), at most `MAX_REASONS` distinct names
then `other`. A failed request is also logged (logger `estuary.online.requests`) with the
error the client got, as a structured record (`event="request_error"`: see jsonlog.py).

>>> httpx.get("http://127.0.0.1:8000/metrics").text  # estuary_http_requests_total{...} 3.0
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector

log = logging.getLogger("estuary.online.requests")

MAX_REASONS = 20
PREDICT_ROUTES = frozenset({"/predict", "/models/{name}/predict"})
# /predict on one row is ~0.1-1 ms in ONNX Runtime; batches of 10k rows take ~10-100 ms
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)
WATCHER_STATES = ("running", "stalled", "dead", "not started")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,99}")


def reason_label(why: str, seen: set[str]) -> str:
    """The bounded label of a refusal: the exception's type name that `why` starts with
    ("GoldenCheckError: ..." → "GoldenCheckError"), `other` past MAX_REASONS distinct names."""
    kind = why.split(":", 1)[0].strip()
    if not _NAME.fullmatch(kind):
        return "other"
    if kind not in seen and len(seen) >= MAX_REASONS:
        return "other"
    seen.add(kind)
    return kind


class _StateCollector(Collector):
    """What the server's state says at scrape time (no locks: plain attribute reads)."""

    def __init__(self, state: Any, model: str):
        self.state, self.model = state, model

    def collect(self) -> Iterator[Metric]:
        s, model = self.state, self.model
        served = s.served.version.number if s.served is not None else 0
        yield _gauge("estuary_version_served", "The version /predict answers with (0: none yet).",
                     model, served)
        yield _gauge("estuary_latest_version", "The version `latest` named at the last look "
                     "(0: none).", model, s.latest or 0)
        yield _counter("estuary_swaps", "Versions swapped in since the server started.", model,
                       s.swaps)
        refused = CounterMetricFamily("estuary_refused_versions", "Candidate versions refused "
                                      "(the previous one kept serving), by reason.",
                                      labels=["model", "reason"])
        for reason, n in sorted(s.refusal_counts.items()):
            refused.add_metric([model, reason], n)
        yield refused
        yield _gauge("estuary_refused_versions_listed", "Versions refused and not served since "
                     "(as /healthz lists them).", model, len(s.refused))
        if s.last_swap is not None:
            yield _gauge("estuary_seconds_since_last_swap", "Seconds since the served version "
                         "was swapped in.", model, time.monotonic() - s.last_swap)
        age = _age(s.served.version.manifest.created_at) if s.served is not None else None
        if age is not None:
            yield _gauge("estuary_served_version_age_seconds", "Seconds since the served version "
                         "was snapshot (its manifest's created_at).", model, age)
        watcher = s.watcher_status()
        state = StateSetMetricFamily("estuary_watcher_state", "The watcher of `latest`: running, "
                                     "stalled, dead or not started.", labels=["model"])
        state.add_metric([model], {w: watcher["status"] == w for w in WATCHER_STATES})
        yield state
        yield _counter("estuary_watcher_errors", "Looks at `latest` that failed.", model,
                       watcher["errors"])
        if s.learner is not None:
            yield from _learner(s.learner, model)


def _age(created_at: str) -> float | None:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(created_at)).total_seconds()
    except (TypeError, ValueError):  # not ISO 8601 with a zone: no age rather than a wrong one
        return None


def _gauge(name: str, doc: str, model: str, value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=["model"])
    g.add_metric([model], value)
    return g


def _counter(name: str, doc: str, model: str, value: float) -> CounterMetricFamily:
    c = CounterMetricFamily(name, doc, labels=["model"])
    c.add_metric([model], value)
    return c


def _learner(learner: Any, model: str) -> Iterator[Metric]:
    yield _counter("estuary_learner_events", "Events the server's Learner learned.", model,
                   learner.n_events)
    yield _counter("estuary_learner_snapshots", "Snapshots the Learner took.", model,
                   learner.n_snapshots)
    publisher = getattr(learner, "publisher", None)
    if publisher is not None:
        results = CounterMetricFamily("estuary_learner_publishes", "Snapshots the worker "
                                      "finished, by result.", labels=["model", "result"])
        rejected = getattr(publisher, "rejected", 0)
        done = getattr(publisher, "submitted", 0) - getattr(publisher, "coalesced", 0)
        results.add_metric([model, "published"], max(done - rejected, 0))
        results.add_metric([model, "rejected"], rejected)
        yield results
    stalls = learner.stalls_ms
    if stalls:
        yield _gauge("estuary_learner_last_stall_seconds", "How long the last snapshot held "
                     "the learning loop.", model, stalls[-1] / 1000)


class ServerMetrics:
    """The registry of one server (its own: two apps in one process never share counters)."""

    def __init__(self, state: Any, model: str):
        self.model = model
        # a server of named models: the model a request named (by path or ?model=), if it is
        # one of them, else `model`; bounded by the models on disk, never by what clients send
        self.model_of: Callable[[dict], str | None] = lambda scope: None
        self.registry = CollectorRegistry()
        self.requests = Counter("estuary_http_requests", "HTTP requests by route, method and "
                                "status code.", ["route", "model", "method", "status"],
                                registry=self.registry)
        self.errors = Counter("estuary_http_errors", "HTTP requests answered with a 4xx or 5xx, "
                              "by route and status code.", ["route", "model", "status"],
                              registry=self.registry)
        self.latency = Histogram("estuary_prediction_latency_seconds", "POST /predict, from "
                                 "the request to the last byte of the answer.", ["model"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_StateCollector(state, model))

    def observe(self, route: str, method: str, status: int, seconds: float,
                model: str | None = None) -> None:
        model = model or self.model
        self.requests.labels(route, model, method, str(status)).inc()
        if status >= 400:
            self.errors.labels(route, model, str(status)).inc()
        if route in PREDICT_ROUTES:
            self.latency.labels(model).observe(seconds)

    def exposition(self) -> bytes:
        return _generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware: times every HTTP request, counts it by route template and status,
    and logs the error answered to a failed one (its first 2000 bytes)."""

    def __init__(self, app: Any, metrics: ServerMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, seen = time.perf_counter(), {"status": 500, "body": b""}

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body" and seen["status"] >= 400 \
                    and len(seen["body"]) < 2000:
                seen["body"] += message.get("body", b"")[:2000]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:  # an exception here becomes the 500 the error handler answers
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            status = seen["status"]
            model = self.metrics.model_of(scope) or self.metrics.model
            self.metrics.observe(route, scope["method"], status, time.perf_counter() - start,
                                 model)
            if status >= 400:
                _log_error(route, scope, status, seen["body"], model)


def _log_error(route: str, scope: dict, status: int, body: bytes, model: str) -> None:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = body[:200].decode("utf-8", "replace")
    log.log(logging.ERROR if status >= 500 else logging.WARNING,
            "%s %s answered %d: %s", scope["method"], scope["path"], status, error,
            extra={"event": "request_error", "route": route, "method": scope["method"],
                   "path": scope["path"], "status": status, "error": error, "model": model})


__all__ = ["CONTENT_TYPE_LATEST", "LATENCY_BUCKETS", "MAX_REASONS", "MetricsMiddleware",
           "ServerMetrics", "reason_label"]
