"""The page's history charts in headless Chromium (uPlot, served locally): one point per
published version in the parity, label and metric charts, one per version (rejected too) in the
events chart with its trigger, redrawn after a pin and a publish; the browser's latency
histogram counts its predictions. Screenshots go to the test's temp dir."""

from __future__ import annotations

import time

from test_web_demo import browser, open_page  # noqa: F401  (the fixture)

from estuary.online import Store, store_admin
from estuary.online.publish import publish
from estuary.online.server import create_app
from estuary.online.testing import broken_format, logreg, phishing, running_server

ROWS = phishing(500)


def _publish(store: Store, model, upto: int, reason: str, formats=("onnx",)):
    from estuary.online.freeze import freeze

    start = getattr(model, "_seen", 0)
    for x, y in ROWS[start:upto]:
        model.learn_one(x, y)
    model._seen = upto
    frozen = freeze(model, [x for x, _ in ROWS[:16]], budget=8, n_events=upto, reason=reason,
                    metrics={"Accuracy": upto / 1000, "events": upto})
    return publish(frozen, store, formats=list(formats))


def charts(page, name: str, points: int, timeout: float = 20.0) -> dict:
    """The page's charts once `name` has `points` points."""
    deadline = time.monotonic() + timeout
    while True:
        got = page.evaluate("window.estuary.charts.describe()")
        if got.get(name, {}).get("points") == points:
            return got
        assert time.monotonic() < deadline, f"chart {name}: {got.get(name)}, wanted {points} points"
        time.sleep(0.05)


def test_history_charts(browser, tmp_path):  # noqa: F811
    store, model = Store(tmp_path / "m"), logreg()
    for upto, reason in ((100, "every 100 events"), (200, "drift (ADWIN)"), (300, "every 30 s")):
        assert _publish(store, model, upto, reason).published
    with broken_format() as name:
        assert not _publish(store, model, 300, "manual", formats=[name]).published

    with running_server(create_app(store.root, poll=0.05)) as url:
        page, errors = open_page(browser, url)
        got = charts(page, "events", 4)
        assert got["parity"]["points"] == 3 and got["parity"]["series"] == ["onnx"]
        assert got["labels"]["points"] == 3 and got["labels"]["series"] == ["onnx"]
        assert got["metric"] == {"points": 3, "series": ["Accuracy"],
                                 "values": [[0.1, 0.2, 0.3]]}
        assert all(0 < d <= 1e-6 or d == 1e-17 for d in got["parity"]["values"][0])
        assert got["labels"]["values"] == [[100.0, 100.0, 100.0]]
        events = got["events"]
        assert events["series"] == ["events", "N", "T", "drift ▲", "manual"]
        assert events["values"][0] == [100, 200, 300, 300]
        assert events["values"][3] == [None, 200, None, None]  # the drift-triggered snapshot
        hist = charts(page, "latency", 14)
        assert sum(hist["latency"]["values"][0]) >= 1
        page.screenshot(path=str(tmp_path / "charts-3-versions.png"), full_page=True)
        assert (tmp_path / "charts-3-versions.png").stat().st_size > 10_000

        store_admin.pin(store, 2, reason="test")
        store_admin.unpin(store, reason="test")
        assert _publish(store, model, 400, "every 100 events").version == 5
        got = charts(page, "parity", 4)
        assert got["metric"]["values"] == [[0.1, 0.2, 0.3, 0.4]]
        assert got["events"]["points"] == 5
        page.screenshot(path=str(tmp_path / "charts-4-versions.png"), full_page=True)
        assert page.evaluate("document.getElementById('charts-note').hidden")
        page.close()
    assert errors == []
