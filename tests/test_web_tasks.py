"""Each new task through Learner → store → server → page, in headless Chromium (Debian's, driven
by Playwright) with the real runtimes: an anomaly filter (score gauge and verdict), a clusterer
(cluster id) and a forecaster (forecast chart), each answered by the page and by POST /predict
exactly as River answers. Saves test-artifacts/web_<task>.png."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from river import anomaly, cluster, datasets, time_series
from test_web_demo import ARTIFACTS, browser, open_page, state  # noqa: F401  (fixture)

from estuary.demo import anomaly_stream
from estuary.online import Learner, Store
from estuary.online.server import create_app
from estuary.online.testing import running_server


def publish(model, events, tmp_path) -> Learner:
    store = Store(tmp_path)
    learner = Learner(model, store=store)  # every format that takes the model
    for x, y in events:
        learner.learn_one(x, y)
    result = learner.snapshot().result()
    assert result.published, result.summary()
    return learner


def page_predictions(page, rows: list[dict]) -> list[dict]:
    got = page.evaluate("rows => window.estuary.predict(rows)", rows)
    assert got["runtime"] == "onnx"  # float64 in the browser: onnxruntime-web
    return got["predictions"]


def fill_form(page, row: dict, done: Callable[[dict], bool], timeout: float = 20.0) -> dict:
    """Type `row` into the form (every other field left empty: missing) and return the output
    the page shows once `done(output)` holds (each keystroke predicts; the last one wins)."""
    for field in page.locator("#fields input").all():
        field.fill("")
    for name, value in row.items():
        page.fill(f"#fields [name='{name}']", str(value))
    page.click("#form button[type=submit]")
    deadline = time.monotonic() + timeout
    while True:
        text = page.get_attribute("#form-result", "data-output")
        shown = json.loads(text) if text else {}
        if done(shown):
            return shown
        assert time.monotonic() < deadline, f"the form shows {shown}"
        time.sleep(0.05)


def test_anomaly_filter_end_to_end(browser, tmp_path):  # noqa: F811
    stream = anomaly_stream(900, seed=3)
    model = anomaly.QuantileFilter(anomaly.HalfSpaceTrees(n_trees=5, height=5, window_size=100,
                                                          seed=7), q=0.9)
    learner = publish(model, stream[:600], tmp_path)
    manifest = Store(tmp_path).open(1).manifest
    assert manifest.task == "anomaly"
    assert manifest.formats["onnx"].passed and manifest.formats["pmml"].passed
    assert manifest.formats["tfjs"].not_applicable  # a float32 score cannot flag exactly
    rows = [x for x, _ in stream[600:660]] + [{"a": 0.99, "b": 0.01}, {"a": 0.5}]
    scores = [model.score_one(dict(x)) for x in rows]
    flags = [bool(model.classify(s)) for s in scores]
    assert any(flags) and not all(flags)
    with running_server(create_app(tmp_path, poll=0.05, learner=learner)) as url:
        body = httpx.post(f"{url}/predict", json=rows).json()
        assert body["predictions"] == scores and body["is_anomaly"] == flags
        one = httpx.post(f"{url}/predict", json=rows[-2]).json()
        assert (one["prediction"], one["is_anomaly"]) == (scores[-2], flags[-2])

        page, errors = open_page(browser, url)
        assert state(page)["version"] == 1
        got = page_predictions(page, rows)
        assert [p["score"] for p in got] == scores  # ONNX in float64: River's bits
        assert [p["is_anomaly"] for p in got] == flags
        shown = fill_form(page, {"a": 0.99, "b": 0.01}, lambda o: o.get("score") == scores[-2])
        assert shown == {"score": scores[-2], "is_anomaly": flags[-2]}
        page.wait_for_selector("#score-gauge")
        assert float(page.get_attribute("#score-gauge", "data-score")) == scores[-2]
        assert page.inner_text("#anomaly-flag") == ("anomaly" if flags[-2] else "normal")
        page.screenshot(path=str(ARTIFACTS / "web_anomaly.png"), full_page=True)
        assert errors == []


def test_clusterer_end_to_end(browser, tmp_path):  # noqa: F811
    stream = list(datasets.Bananas())
    model = cluster.KMeans(n_clusters=4, halflife=0.4, sigma=3, seed=0)
    learner = publish(model, stream[:800], tmp_path)
    assert Store(tmp_path).open(1).manifest.task == "cluster"
    rows = [x for x, _ in stream[800:860]]
    ids = [model.predict_one(dict(x)) for x in rows]
    with running_server(create_app(tmp_path, poll=0.05, learner=learner)) as url:
        body = httpx.post(f"{url}/predict", json=rows).json()
        assert body["predictions"] == ids and len(body["distances"][0]) == len(body["classes"])
        page, errors = open_page(browser, url)
        assert [p["cluster"] for p in page_predictions(page, rows)] == ids
        shown = fill_form(page, rows[0], lambda o: o.get("distances") == body["distances"][0])
        assert shown["cluster"] == ids[0]
        assert json.loads(page.get_attribute("#cluster-id", "data-cluster")) == ids[0]
        assert page.locator(".bars.distances .bar").count() == len(body["classes"])
        page.screenshot(path=str(ARTIFACTS / "web_cluster.png"), full_page=True)
        assert errors == []


def test_forecaster_end_to_end(browser, tmp_path):  # noqa: F811
    model = time_series.HoltWinters(alpha=0.3, beta=0.1, gamma=0.6, seasonality=12,
                                    multiplicative=True)
    learner = publish(model, list(datasets.AirlinePassengers()), tmp_path)
    assert Store(tmp_path).open(1).manifest.task == "forecast"
    expected = model.forecast(horizon=24)
    rows = [{"step": s} for s in range(1, 25)]
    with running_server(create_app(tmp_path, poll=0.05, learner=learner)) as url:
        body = httpx.post(f"{url}/predict", json=rows).json()
        assert body["predictions"] == pytest.approx(expected, rel=1e-12, abs=0)
        page, errors = open_page(browser, url)
        got = [p["forecast"] for p in page_predictions(page, rows)]
        assert got == pytest.approx(expected, rel=1e-12, abs=0)
        fill_form(page, {"step": 1}, lambda o: o.get("forecast") == got[0])
        page.wait_for_selector("#forecast-chart")
        drawn = json.loads(page.get_attribute("#forecast-chart", "data-points"))
        assert drawn == pytest.approx(expected, rel=1e-12, abs=0)
        assert page.locator("#forecast-chart circle").count() == 24
        page.screenshot(path=str(ARTIFACTS / "web_forecast.png"), full_page=True)
        assert errors == []
