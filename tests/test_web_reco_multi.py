"""A recommender and a multi-label chain through Learner → store → server → page, in headless
Chromium with the real runtimes: POST /predict and the page's onnxruntime-web answer as River
does (River's `predict_one(user, item)`; River's per-target labels and probabilities)."""

from __future__ import annotations

import httpx
import pytest
from river import linear_model, multioutput, optim, preprocessing, reco
from test_web_demo import browser, open_page  # noqa: F401  (fixture)
from test_web_tasks import page_predictions, publish

from estuary import streams
from estuary.online import Store
from estuary.online.server import create_app
from estuary.online.testing import running_server


def test_recommender_end_to_end(browser, tmp_path):  # noqa: F811
    model = reco.BiasedMF(n_factors=4, bias_optimizer=optim.SGD(0.05),
                          latent_optimizer=optim.SGD(0.05), seed=3)
    events = list(streams.Ratings(n=600, n_users=12, n_items=9))
    learner = publish(model, events, tmp_path)
    assert Store(tmp_path).open(1).manifest.task == "reco"
    rows = [{"user": f"u{u}", "item": f"i{i}"} for u in range(12) for i in range(9)]
    expected = [model.predict_one(r["user"], r["item"]) for r in rows]
    with running_server(create_app(tmp_path, poll=0.05, learner=learner)) as url:
        body = httpx.post(f"{url}/predict", json=rows).json()
        assert body["predictions"] == pytest.approx(expected, rel=1e-12, abs=1e-12)
        page, errors = open_page(browser, url)
        got = [p["score"] for p in page_predictions(page, rows)]
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert errors == []


def test_multilabel_chain_end_to_end(browser, tmp_path):  # noqa: F811
    model = multioutput.ClassifierChain(
        preprocessing.StandardScaler() | linear_model.LogisticRegression(),
        order=["phishing", "popup", "ip"])
    events = list(streams.MultiLabelPhishing())[:600]
    learner = publish(model, events, tmp_path)
    assert Store(tmp_path).open(1).manifest.task == "multilabel"
    rows = [dict(x) for x, _ in events[:100]]
    labels = [model.predict_one(x) for x in rows]
    probas = [model.predict_proba_one(x) for x in rows]
    with running_server(create_app(tmp_path, poll=0.05, learner=learner)) as url:
        body = httpx.post(f"{url}/predict", json=rows).json()  # each row's outputs by name
        assert [{t: bool(p[f"label.{t}"]) for t in labels[0]} for p in body["predictions"]] \
            == labels
        assert max(abs(p[f"probabilities.{t}"][k] - q[t][v]) for p, q in zip(
            body["predictions"], probas) for t in q for k, v in enumerate((False, True))) <= 1e-12
        page, errors = open_page(browser, url)
        got = page_predictions(page, rows)
        assert [{t: p[t]["label"] for t in p} for p in got] == labels
        worst = max(abs(p[t]["probabilities"][k] - q[t][v]) for p, q in zip(got, probas)
                    for t in q for k, v in enumerate((False, True)))
        assert worst <= 1e-12
        assert errors == []
