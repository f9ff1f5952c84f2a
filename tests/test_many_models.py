"""Many named models in one store root, served by one `estuary serve` over real HTTP: each model
answers with its own predictions, is hot-reloaded on its own, and one model's corrupt version
never touches another."""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial

import httpx
import pytest
from river import naive_bayes

import estuary
from estuary.online import Learner
from estuary.online.catalog import ModelNameError, check_name, model_names, named_store
from estuary.online.manifest import FormatEntry
from estuary.online.server import create_app
from estuary.online.testing import logreg, phishing, running_server

ROWS = [x for x, _ in phishing()[:40]]


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _learner(root, name, model, events):
    learner = Learner(model, store=named_store(root, name), formats=["onnx"])
    for x, y in events:
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    return learner


def _expected(store, version=None) -> dict:
    """What estuary.load says for ROWS with `store`'s version (default latest)."""
    model = estuary.load(store.open(version).file_for("onnx"))
    out = model.run(model.encoder.encode_many(ROWS))
    return {"predictions": [model.classes[i] for i in out["label"]],
            "probabilities": out["probabilities"].tolist()}


@pytest.fixture
def two_models(tmp_path):
    root = tmp_path / "models"
    fraud = _learner(root, "fraud", logreg(), phishing()[:300])
    churn = _learner(root, "churn", naive_bayes.GaussianNB(), phishing()[300:700])
    yield root, fraud, churn
    fraud.close()
    churn.close()


def test_names_and_layout(tmp_path):
    assert check_name("events-0") == "events-0"
    for bad in ("", "../x", "7", "latest", "a/b", ".hidden", "x" * 101):
        with pytest.raises(ModelNameError):
            check_name(bad)
    single = tmp_path / "single"
    learner = _learner(single, "a", logreg(), phishing()[:100])
    learner.close()
    assert (single / "a" / "versions" / "1" / "manifest.json").is_file()
    assert model_names(single) == ["a"]
    with pytest.raises(ModelNameError, match="single-model store"):
        named_store(single / "a", "b")
    assert model_names(single / "a") == []  # a store itself: one unnamed model


def test_one_server_answers_each_model_with_its_own_predictions(two_models):
    root, fraud, churn = two_models
    stores = {"fraud": fraud.store, "churn": churn.store}
    with running_server(create_app(root, poll=0.05)) as url, \
            httpx.Client(base_url=url, timeout=30) as http:
        listed = http.get("/models").json()
        assert [(m["name"], m["latest"], m["served"]) for m in listed["models"]] == \
            [("churn", 1, 1), ("fraud", 1, 1)]
        for name, store in stores.items():
            want = {"version": 1, **_expected(store)}
            by_path = http.post(f"/models/{name}/predict", json={"rows": ROWS}).json()
            by_query = http.post(f"/predict?model={name}", json={"rows": ROWS}).json()
            assert {k: by_path[k] for k in want} == want  # exactly: floats survive JSON
            assert by_query == by_path
            manifest = http.get(f"/models/{name}/latest").json()
            assert manifest == store.open().manifest.to_dict()
            blob = store.open().file_for("onnx").read_bytes()
            assert http.get(f"/models/{name}/1/model.onnx").content == blob
            assert http.get(f"/models/1/model.onnx?model={name}").content == blob
            assert http.get(f"/models/head?model={name}").json()["served"] == 1
            assert http.get(f"/healthz?model={name}").json()["store"] == str(store.root)
        assert _expected(fraud.store) != _expected(churn.store)  # two different models
        unnamed = http.post("/predict", json=ROWS[0])
        assert unnamed.status_code == 404 and "churn, fraud" in unnamed.json()["error"]
        unknown = http.post("/models/nope/predict", json=ROWS[0])
        assert unknown.status_code == 404 and "no model 'nope'" in unknown.json()["error"]
        assert http.get("/models/head?model=nope").status_code == 404
        health = http.get("/healthz").json()
        assert health["ok"] and sorted(health["models"]) == ["churn", "fraud"]
        metrics = http.get("/metrics").text
        assert 'estuary_version_served{model="fraud"} 1.0' in metrics
        assert 'estuary_version_served{model="churn"} 1.0' in metrics
        # requests are counted by the model they named (by path or query), never by a name
        # a client made up
        for name in ("fraud", "churn"):
            assert (f'estuary_http_requests_total{{method="POST",model="{name}",'
                    f'route="/models/{{name}}/predict",status="200"}} 1.0') in metrics
            assert (f'estuary_http_requests_total{{method="POST",model="{name}",'
                    f'route="/predict",status="200"}} 1.0') in metrics
            assert f'estuary_prediction_latency_seconds_count{{model="{name}"}} 2.0' in metrics
        assert 'model="nope"' not in metrics


def test_each_model_reloads_on_its_own_and_a_corrupt_one_leaves_the_other(two_models):
    root, fraud, churn = two_models
    with running_server(create_app(root, poll=0.02)) as url, \
            httpx.Client(base_url=url, timeout=30) as http:
        def served(name):
            return http.get(f"/healthz?model={name}").json()

        wait_for(lambda: served("fraud")["version"] == 1 and served("churn")["version"] == 1)
        for x, y in phishing()[300:500]:
            fraud.learn_one(x, y)
        assert fraud.snapshot().result().version == 2
        wait_for(lambda: served("fraud")["version"] == 2)
        assert served("fraud")["swaps"] == 2 and served("churn")["swaps"] == 1
        got = http.post("/models/fraud/predict", json={"rows": ROWS}).json()
        assert got == {"version": 2, "classes": [False, True], **_expected(fraud.store, 2)}
        # churn gets a published version whose artifact is garbage (with a valid hash)
        store = churn.store
        staging = store.new_staging()
        (staging / "model.onnx").write_bytes(b"\x08\x07not a model")
        claims = {"onnx": FormatEntry("model.onnx", True, None)}
        bad = store.commit(staging, partial(replace, store.open(1).manifest, formats=claims),
                           published=True)
        wait_for(lambda: str(bad.number) in served("churn")["refused"])
        assert served("churn")["version"] == 1 and served("fraud")["refused"] == {}
        assert http.post("/models/churn/predict", json={"rows": ROWS}).json()["version"] == 1
        for name, store, version in (("fraud", fraud.store, 2), ("churn", churn.store, 1)):
            got = http.post(f"/models/{name}/predict", json={"rows": ROWS}).json()
            assert {k: got[k] for k in ("predictions", "probabilities")} == \
                _expected(store, version)
        health = http.get("/healthz").json()
        assert health["ok"] and health["models"]["churn"]["refused"]
        # a third model published while the server runs is found and served
        third = _learner(root, "third", logreg(), phishing()[700:900])
        wait_for(lambda: http.get("/healthz?model=third").status_code == 200)
        assert http.post("/models/third/predict", json={"rows": ROWS}).json()["predictions"] \
            == _expected(third.store)["predictions"]
        third.close()


def test_single_model_store_keeps_its_routes(tmp_path):
    learner = Learner(logreg(), store=tmp_path / "one", formats=["onnx"])
    for x, y in phishing()[:200]:
        learner.learn_one(x, y)
    assert learner.snapshot().result().published
    with running_server(create_app(tmp_path / "one", poll=0.05)) as url, \
            httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/predict", json={"rows": ROWS}).json()["predictions"] == \
            _expected(learner.store)["predictions"]
        assert http.get("/models").json()["models"] == [
            {"name": None, "latest": 1, "served": 1, "refused": {}}]
        assert http.get("/healthz").json()["version"] == 1
        assert http.get("/models/latest").json()["version"] == 1
    learner.close()


def test_learn_cli_publishes_under_a_name(tmp_path):
    import json

    from typer.testing import CliRunner

    from estuary.cli import app

    runner = CliRunner()
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"x": x, "y": y}) + "\n" for x, y in phishing(200)))
    root = tmp_path / "models"
    for name, model in (("fraud", "logreg"), ("churn", "gaussiannb")):
        result = runner.invoke(app, ["learn", "--source", str(rows), "--store", str(root),
                                     "--name", name, "--model", model, "--every", "100",
                                     "--formats", "onnx"])
        assert result.exit_code == 0, result.output
    assert model_names(root) == ["churn", "fraud"]
    assert named_store(root, "churn").open().manifest.n_events == 200
    bad = runner.invoke(app, ["learn", "--source", str(rows), "--store", str(root),
                              "--name", "../out", "--formats", "onnx"])
    assert bad.exit_code != 0 and "model name '../out'" in bad.stderr
    assert not (tmp_path / "out").exists()


def test_score_cli_takes_a_named_model(two_models, tmp_path):
    import numpy as np
    import pandas as pd
    from typer.testing import CliRunner

    from estuary.cli import app

    root, fraud, _ = two_models
    pd.DataFrame(ROWS).to_parquet(tmp_path / "rows.parquet", index=False)
    result = CliRunner().invoke(app, ["score", str(tmp_path / "rows.parquet"),
                                      str(tmp_path / "out.parquet"), "--model",
                                      str(root / "fraud")])
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(tmp_path / "out.parquet")
    want = _expected(fraud.store)
    assert np.array_equal(np.vstack(scored["probabilities"].to_numpy()),
                          np.array(want["probabilities"]))
    assert scored["prediction"].tolist() == want["predictions"]
