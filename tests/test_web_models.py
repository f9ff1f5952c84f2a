"""The page's model switch in headless Chromium (Debian's, driven by pip's Playwright), against
one server over a store root of two named models: the page lists both, runs the one it shows
in onnxruntime-web with that model's own predictions, and switching loads the other model's
artifact."""

from __future__ import annotations

import httpx
import numpy as np
from test_web_demo import browser, open_page, state, wait_for  # noqa: F401  (the fixture)

import estuary
from estuary.online import Learner
from estuary.online.catalog import named_store
from estuary.online.server import create_app
from estuary.online.testing import logreg, phishing, running_server

ROWS = [x for x, _ in phishing()[900:940]]


def _publish(root, name, events):
    with Learner(logreg(), store=named_store(root, name), formats=["onnx"]) as learner:
        for x, y in events:
            learner.learn_one(x, y)
        assert learner.snapshot().result().published
        return learner.store


def _page_predictions(page) -> np.ndarray:
    got = page.evaluate("rows => window.estuary.predict(rows)", ROWS)
    assert got["runtime"] == "onnx"
    return np.array([p["probabilities"] for p in got["predictions"]])


def test_the_page_switches_between_named_models(browser, tmp_path):  # noqa: F811
    root = tmp_path / "models"
    stores = {"alpha": _publish(root, "alpha", phishing()[:150]),
              "beta": _publish(root, "beta", phishing()[400:800])}
    expected = {}
    for name, store in stores.items():
        model = estuary.load(store.open().file_for("onnx"))
        expected[name] = (store.open().manifest.ir_hash, model.predict_proba_many(ROWS))
    assert not np.allclose(expected["alpha"][1], expected["beta"][1])
    with running_server(create_app(root, poll=0.05)) as url:
        assert httpx.get(f"{url}/?model=nope").status_code == 404
        page, errors = open_page(browser, url, "?progressive=0")
        s = wait_for(page, lambda s: s["runtime"] == "onnx" and s["version"] == 1, "alpha")
        assert (s["model"], s["models"], s["irHash"]) == ("alpha", ["alpha", "beta"],
                                                           expected["alpha"][0])
        assert page.locator("#model-pick").is_visible()
        options = page.locator("#model-switch option").all_inner_texts()
        assert options == ["alpha", "beta"]
        np.testing.assert_allclose(_page_predictions(page), expected["alpha"][1], rtol=0,
                                   atol=1e-12)
        with page.expect_navigation():
            page.select_option("#model-switch", "beta")
        page.evaluate("window.estuary.ready")
        s = wait_for(page, lambda s: s["runtime"] == "onnx" and s["version"] == 1, "beta")
        assert (s["model"], s["irHash"]) == ("beta", expected["beta"][0])
        assert "model=beta" in page.url and "progressive=0" in page.url
        assert page.locator("#model-switch").input_value() == "beta"
        np.testing.assert_allclose(_page_predictions(page), expected["beta"][1], rtol=0,
                                   atol=1e-12)
        assert errors == []
        page.close()
