"""GET /metrics parsed with prometheus_client's parser: exact counter values after known
requests, a refused version by reason, a swap after a pin; JSON-lines logs of the same events."""

from __future__ import annotations

import io
import json
import logging
import math
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from estuary.cli import app
from estuary.online import Learner, Store, store_admin
from estuary.online.jsonlog import JsonFormatter, use_json_logs
from estuary.online.metrics import MAX_REASONS, reason_label
from estuary.online.server import create_app
from estuary.online.testing import logreg, phishing, running_server


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def scrape(http: httpx.Client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics as {(sample name, labels): value}, through the real parser."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
def two_versions(tmp_path):
    """Versions 1 and 2 of store `m`; version 2's ONNX file changed after publishing."""
    store = Store(tmp_path / "m")
    learner = Learner(logreg(), store=store, formats=["onnx"])
    for i, (x, y) in enumerate(phishing(300)):
        learner.learn_one(x, y)
        if i in (149, 299):
            assert learner.snapshot().result().published
    learner.close()
    (store.versions / "2" / "model.onnx").write_bytes(b"changed on disk")
    return store


def test_metrics_count_requests_refusals_and_swaps(two_versions, tmp_path):
    store = two_versions
    rows = [x for x, _ in phishing(3)]
    side = Learner(logreg(), store=tmp_path / "side")
    for x, y in phishing(20):
        side.learn_one(x, y)
    lines = io.StringIO()
    handler = use_json_logs(lines)
    try:
        with running_server(create_app(store.root, poll=0.02, learner=side)) as url, \
                httpx.Client(base_url=url) as http:
            wait_for(lambda: http.get("/healthz").json()["refused"])
            first = scrape(http)
            assert value(first, "estuary_refused_versions_total", model="m",
                         reason="StoreError") == 1
            assert value(first, "estuary_version_served", model="m") == 0
            assert value(first, "estuary_latest_version", model="m") == 2
            assert value(first, "estuary_swaps_total", model="m") == 0
            assert not any(k[0] == "estuary_seconds_since_last_swap" for k in first)
            assert value(first, "estuary_watcher_state", model="m",
                         estuary_watcher_state="running") == 1
            assert value(first, "estuary_watcher_state", model="m",
                         estuary_watcher_state="dead") == 0
            assert value(first, "estuary_learner_events_total", model="m") == 20
            assert value(first, "estuary_learner_snapshots_total", model="m") == 0

            store_admin.pin(store, 1, reason="v2 changed on disk", by="test")
            wait_for(lambda: http.get("/healthz").json()["version"] == 1)
            for row in rows:
                assert http.post("/predict", json=row).status_code == 200
            assert http.post("/predict", json={"rows": 3}).status_code == 422
            assert http.get("/models/latest").json()["version"] == 1
            assert http.get("/no/such/page").status_code == 404
            assert http.get("/models/9/model.onnx").status_code == 404
            samples = scrape(http)
            again = scrape(http)
    finally:
        logging.getLogger("estuary").removeHandler(handler)
        logging.getLogger("estuary").propagate = True
        side.close()

    requests = "estuary_http_requests_total"
    assert value(samples, requests, route="/predict", model="m", method="POST",
                 status="200") == 3
    assert value(samples, requests, route="/predict", model="m", method="POST",
                 status="422") == 1
    assert value(samples, requests, route="/models/latest", model="m", method="GET",
                 status="200") == 1
    assert value(samples, requests, route="<unmatched>", model="m", method="GET",
                 status="404") == 1
    assert value(samples, requests, route="/models/{version}/{file:path}", model="m",
                 method="GET", status="404") == 1
    assert value(samples, requests, route="/metrics", model="m", method="GET",
                 status="200") == 1  # the first scrape; the second counts itself after
    assert value(again, requests, route="/metrics", model="m", method="GET", status="200") == 2
    errors = "estuary_http_errors_total"
    assert value(samples, errors, route="/predict", model="m", status="422") == 1
    assert value(samples, errors, route="<unmatched>", model="m", status="404") == 1
    assert value(samples, errors, route="/predict", model="m", status="200") is None
    assert value(samples, "estuary_prediction_latency_seconds_count", model="m") == 4
    assert value(samples, "estuary_prediction_latency_seconds_bucket", model="m",
                 le="+Inf") == 4
    assert 0 < value(samples, "estuary_prediction_latency_seconds_sum", model="m") < 10
    assert value(samples, "estuary_version_served", model="m") == 1
    assert value(samples, "estuary_swaps_total", model="m") == 1
    assert value(samples, "estuary_refused_versions_total", model="m",
                 reason="StoreError") == 1
    assert value(samples, "estuary_refused_versions_listed", model="m") == 1
    assert 0 <= value(samples, "estuary_seconds_since_last_swap", model="m") < 60
    assert 0 < value(samples, "estuary_served_version_age_seconds", model="m") < 600
    assert value(first, "estuary_served_version_age_seconds", model="m") is None

    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    by_event = {}
    for r in records:
        by_event.setdefault(r.get("event"), []).append(r)
    refused = by_event["refused"][0]
    assert (refused["version"], refused["reason"], refused["level"]) == (2, "StoreError", "ERROR")
    assert "does not match its SHA-256" in refused["error"]
    swap = by_event["swap"][0]
    assert (swap["version"], swap["previous"], swap["format"]) == (1, None, "onnx")
    failed = {(r["route"], r["status"]) for r in by_event["request_error"]}
    assert failed == {("/predict", 422), ("<unmatched>", 404),
                      ("/models/{version}/{file:path}", 404), ("/healthz", 503)}
    bad = next(r for r in by_event["request_error"] if r["status"] == 422)
    assert bad["error"].startswith("feature 'rows'") and bad["level"] == "WARNING"
    assert all(r["time"].endswith("Z") and r["logger"].startswith("estuary") for r in records)


def test_refusal_reasons_are_bounded():
    seen: set[str] = set()
    labels = [reason_label(f"Error{i}: boom", seen) for i in range(MAX_REASONS + 5)]
    assert labels[:MAX_REASONS] == [f"Error{i}" for i in range(MAX_REASONS)]
    assert labels[MAX_REASONS:] == ["other"] * 5
    assert reason_label("Error3: again", seen) == "Error3"
    assert reason_label("no type here, just words: x", set()) == "other"


def test_json_formatter_keeps_lines_json():
    record = logging.LogRecord("estuary.x", logging.INFO, __file__, 1, "v%d", (3,), None)
    record.event, record.diff = "swap", math.nan
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["event"], line["diff"], line["level"]) == ("v3", "swap", "nan",
                                                                            "INFO")


def test_serve_refuses_an_unknown_log_format(tmp_path):
    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--log-format", "xml"])
    assert result.exit_code == 2 and "log_format must be 'text' or 'json'" in result.output
