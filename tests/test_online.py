"""estuary.online: Learner, policies, coalescing worker, versioned store, asyncio, SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from river import drift

from estuary.converters.registry import Format, default_formats
from estuary.online import EveryN, EveryT, Learner, Manual, OnDrift, Store, StoreError
from estuary.online.testing import broken_format, logreg, phishing

ROOT = Path(__file__).resolve().parents[1]


def assert_store_sound(root: Path) -> None:
    """What a reader can see is complete and verified; nothing in the store is a pickle."""
    store = Store(root)
    latest = store.latest_number()
    if latest is not None:
        version = store.open()
        assert version.number == latest and version.manifest.status == "published"
        assert all(e.passed for e in version.manifest.formats.values())
    for n in store.version_numbers():
        store.open(n)  # every file matches its SHA-256
    for path in root.rglob("*"):
        if path.is_file() and ".staging" not in path.parts:
            assert path.suffix != ".pkl" and not path.read_bytes()[:1] == b"\x80", path


def test_sync_loop_publishes_every_format(tmp_path):
    rows = phishing()
    model = logreg()
    with Learner(model, store=Store(tmp_path, keep=3), policy=EveryN(400)) as learner:
        for x, y in rows:
            learner.learn_one(x, y)
        last = learner.snapshot().result()
    assert last.published and last.n_events == 1250
    # every registered format but those published only when named (ort)
    assert set(last.reports) == set(default_formats()) and "ort" not in last.reports
    store = Store(tmp_path)
    assert store.latest_number() == last.version
    assert len(store.version_numbers()) <= 3  # retention
    manifest = store.open().manifest
    assert manifest.n_events == 1250 and manifest.reason == "manual"
    assert len(manifest.ir_hash) == 64 and manifest.created_at.endswith("Z")
    for fmt, entry in manifest.formats.items():
        assert entry.passed and entry.report.passed, fmt
        file = entry.file  # a file, or a directory of files (tfjs: model.json + weights)
        assert any(k == file or k.startswith(file + "/") for k in manifest.files), file
    assert manifest.metrics["events"] == 1250 and manifest.metrics["stall_ms"] > 0
    loaded = store.load(format="onnx")
    for x, _ in rows[:50]:
        assert loaded.predict_proba_one(x)[True] == pytest.approx(
            model.predict_proba_one(x)[True], abs=1e-9)
    assert_store_sound(tmp_path)


def test_policies_trigger(tmp_path):
    clock = [0.0]
    policy = EveryN(100) | EveryT(10.0, clock=lambda: clock[0]) | Manual()
    learner = Learner(logreg(), store=tmp_path, policy=policy, formats=["onnx"])
    for i, (x, y) in enumerate(phishing(350)):
        if i == 150:
            clock[0] = 11.0  # ten seconds pass
        learner.learn_one(x, y)
    learner.snapshot("deploy now")
    learner.close()
    store = Store(tmp_path)
    reasons = [store.open(n).manifest.reason for n in store.version_numbers()]
    n_events = [store.open(n).manifest.n_events for n in store.version_numbers()]
    # coalescing may drop a snapshot that waited, never the newest
    assert "deploy now" == reasons[-1] and n_events[-1] == 350
    # every policy is reset by any snapshot: 100 events, then 10 s at event 151, then 100 more
    assert [(n, r) for n, r, _ in learner.history] == [
        (100, "every 100 events"), (151, "every 10 s"), (251, "every 100 events"),
        (350, "deploy now")]
    assert max(learner.stalls_ms) < 1000


def test_drift_policy_fires_on_concept_drift(tmp_path):
    policy = OnDrift(drift.ADWIN())
    learner = Learner(logreg(), store=tmp_path, policy=policy, formats=["onnx"])
    for x, y in phishing(600):
        learner.learn_one(x, y)
    assert policy.n_drifts == 0 or learner.n_snapshots == policy.n_drifts
    before = policy.n_drifts
    for x, y in phishing(600):  # the concept flips: every label inverted
        learner.learn_one(x, not y)
    learner.close()
    assert policy.n_drifts > before
    manifest = Store(tmp_path).open().manifest
    assert manifest.reason == "drift (ADWIN)" and manifest.metrics["drifts"] >= 1


def test_parity_failure_is_not_published(tmp_path):
    rows = phishing()
    learner = Learner(logreg(), store=tmp_path, formats=["onnx"])
    for x, y in rows[:600]:
        learner.learn_one(x, y)
    good = learner.snapshot().result()
    assert good.published
    with broken_format("broken") as name:
        learner.formats = ["onnx", name]
        learner.close()  # a new worker picks up the formats
        for x, y in rows[600:]:
            learner.learn_one(x, y)
        bad = learner.snapshot().result()
    assert not bad.published and bad.reports["onnx"].passed and not bad.reports["broken"].passed
    store = Store(tmp_path)
    assert store.latest_number() == good.version  # the previous one stays
    rejected = store.open(bad.version, rejected=True).manifest
    assert rejected.status == "rejected" and rejected.formats["broken"].passed is False
    assert rejected.formats["broken"].report.max_abs_diff > 1e-3
    with broken_format("garbage", corrupt_file=True) as name:
        learner.formats = [name]
        learner.close()
        worse = learner.snapshot().result()
    assert not worse.published and "garbage" in worse.errors
    assert Store(tmp_path).latest_number() == good.version
    learner.close()
    assert_store_sound(tmp_path)


def test_busy_worker_coalesces(tmp_path):
    learner = Learner(logreg(), store=tmp_path, formats=["onnx"])
    futures = []
    for i, (x, y) in enumerate(phishing(400)):
        learner.learn_one(x, y)
        if i % 10 == 9:
            futures.append(learner.snapshot())  # 40 snapshots, far faster than exports
    results = [f.result(timeout=60) for f in futures]
    publisher = learner.publisher
    learner.close()
    assert publisher.coalesced > 0 and publisher.submitted == 40
    assert len(Store(tmp_path).version_numbers()) < 40
    assert results[-1].n_events == 400 and results[-1].published
    assert all(r.n_events >= 10 * (i + 1) for i, r in enumerate(results))  # same or newer


def test_asyncio_loop_is_not_blocked(tmp_path, monkeypatch):
    """Exports run in the worker, never on the event loop's thread (checked by thread, not by
    timing: the machine is shared); the loop keeps beating while they run."""
    writers: list[threading.Thread] = []
    write = Format.write

    def recording_write(self, *args, **kwargs):
        writers.append(threading.current_thread())
        return write(self, *args, **kwargs)

    monkeypatch.setattr(Format, "write", recording_write)

    async def main():
        gaps = []

        async def heartbeat():
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        learner = Learner(logreg(), store=tmp_path, policy=EveryN(200), formats=["onnx", "pmml"])
        n = await learner.alearn_many(phishing())
        result = await learner.asnapshot()
        await learner.aflush()
        beat.cancel()
        learner.close()
        return n, result, gaps

    n, result, gaps = asyncio.run(main())
    assert n == 1250 and result.published and result.n_events == 1250
    assert writers and threading.main_thread() not in writers  # asyncio.run's loop thread
    assert len(gaps) > 10 and max(gaps) < 2.0, max(gaps)  # beating all along, never held long
    assert_store_sound(tmp_path)


def test_process_worker(tmp_path):
    with Learner(logreg(), store=tmp_path, formats=["onnx"], executor="process") as learner:
        for x, y in phishing(300):
            learner.learn_one(x, y)
        result = learner.snapshot().result(timeout=120)
    assert result.published and Store(tmp_path).open().manifest.n_events == 300


def test_store_refuses_tampered_files(tmp_path):
    learner = Learner(logreg(), store=Store(tmp_path, keep=2), formats=["onnx"])
    for x, y in phishing(100):
        learner.learn_one(x, y)
        if learner.n_events % 25 == 0:
            learner.snapshot().result()
    learner.close()
    store = Store(tmp_path)
    assert store.version_numbers() == [3, 4] and store.latest_number() == 4
    (tmp_path / "versions" / "4" / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(StoreError, match="SHA-256"):
        store.load()
    store.open(3)
    manifest = tmp_path / "versions" / "3" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["n_events"] = 1
    manifest.write_text(json.dumps(data))
    (tmp_path / "latest").write_text(json.dumps({"version": 3, "manifest_sha256": "0" * 64}))
    with pytest.raises(StoreError, match="does not match"):
        store.open()
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no published version"):
        Store(tmp_path / "empty").open()
    with pytest.raises(StoreError, match="missing does not exist"):
        Store(tmp_path / "missing").open()


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from estuary.online.testing import logreg, phishing
    from estuary.converters import registry
    from estuary.converters.onnx import write_onnx
    from estuary.online import EveryN, Learner, Store

    marker = Path(sys.argv[2])
    def slow_write(snap, path):  # a format that writes half a file and then takes its time
        path.write_bytes(b"half")
        marker.write_text("exporting")
        time.sleep(float(sys.argv[3]))
        return write_onnx(snap, path)

    registry.register_format(registry.Format("slow", ".onnx", slow_write))
    learner = Learner(logreg(), store=Store(sys.argv[1], keep=50), policy=EveryN(20),
                      formats=["onnx", "slow"])
    while True:  # learns until the test kills it: the loop no longer waits on exports
        for x, y in phishing():
            learner.learn_one(x, y)
""")


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.2])
def test_sigkill_mid_export_leaves_no_torn_version(tmp_path, delay):
    script = tmp_path / "learn.py"
    script.write_text(KILL_SCRIPT)
    store_dir, marker = tmp_path / "store", tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_ in range(3):
        marker.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, str(script), str(store_dir), str(marker),
                                 str(delay)], env=env)
        deadline = time.monotonic() + 60
        # let a few versions land first, then kill inside an export (or at a random point)
        while time.monotonic() < deadline and (
                not marker.exists() or len(Store(store_dir).version_numbers()) < round_ + 2):
            time.sleep(0.005)
        time.sleep(delay / 2)
        assert proc.poll() is None, "the learner ended before it was killed: nothing was tested"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert_store_sound(store_dir)
    store = Store(store_dir)
    assert store.latest_number() is not None
    staged = list((store_dir / ".staging").iterdir())
    store.clean_staging()  # what killed writers left is removed by the next writer
    assert not list((store_dir / ".staging").iterdir()) or not staged


def test_reference_comparison_matches_the_harness(tmp_path):
    from estuary.api import export
    from estuary.online import compare_reference, freeze
    from estuary.parity import compare
    from estuary.runtimes import load

    model = logreg()
    for x, y in phishing(500):
        model.learn_one(x, y)
    frozen = freeze(model, [x for x, _ in phishing(20)], budget=48)
    export(model, tmp_path / "m.onnx")
    loaded = load(tmp_path / "m.onnx")
    ours = compare_reference(loaded, frozen.probes, frozen.reference)
    theirs = compare(model, loaded, list(frozen.probes))
    assert ours.passed and theirs.passed and ours.n_rows == theirs.n_rows == len(frozen.probes)
    assert ours.max_abs_diff == theirs.max_abs_diff and ours.rows_by_tag == theirs.rows_by_tag
    assert len(frozen.probes) == 20 + 48 and {"threshold", "missing"} & set(ours.rows_by_tag)


def test_format_that_cannot_express_the_model_is_skipped_not_fatal(tmp_path):
    """Default formats: TF.js refuses polynomial features (float32 products), the others still
    publish. Asked for explicitly, the refusal rejects the version."""
    import itertools

    from river import datasets, feature_extraction, linear_model, preprocessing

    from estuary.online import Learner, Store

    model = (preprocessing.StandardScaler() | feature_extraction.PolynomialExtender()
             | linear_model.LogisticRegression())
    store = Store(tmp_path / "models")
    with Learner(model, store=store) as learner:
        for x, y in itertools.islice(datasets.Phishing(), 400):
            learner.learn_one(x, y)
        result = learner.snapshot().result()
    assert result.published, result.summary()
    manifest = store.open().manifest
    assert "Polynomial" in manifest.formats["tfjs"].not_applicable
    assert manifest.formats["onnx"].passed is True

    with Learner(model, store=Store(tmp_path / "strict"), formats=["onnx", "tfjs"]) as learner:
        strict = learner.snapshot().result()
    assert not strict.published and "tfjs" in strict.errors


def test_a_tree_publishes_in_every_format_tfjs_included(tmp_path):
    from river import datasets, tree

    from estuary.online import Learner, Store

    model = tree.HoeffdingTreeClassifier(grace_period=50)
    store = Store(tmp_path / "models")
    with Learner(model, store=store) as learner:
        for x, y in datasets.Phishing():
            learner.learn_one(x, y)
        result = learner.snapshot().result()
    assert result.published, result.summary()
    formats = store.open().manifest.formats
    assert formats["tfjs"].passed is True and formats["tfjs"].report.label_agreement == 1.0
    assert all(formats[f].passed for f in ("onnx", "pmml", "coreml"))


def test_a_float32_format_that_misses_river_is_dropped_not_fatal(tmp_path):
    """Bagged naive-Bayes trees on a few rows: members' probabilities tie to 1e-11, which float32
    cannot order. With the default formats TF.js and Core ML (float32) are dropped with the
    reason and the float64 formats publish; asked for by name, TF.js rejects the version."""
    import itertools
    import random

    from river import datasets, ensemble, tree

    from estuary.online import Learner, Store

    rows = list(itertools.islice(datasets.ImageSegments(), 1000))
    random.Random(0).shuffle(rows)

    def model():
        return ensemble.BaggingClassifier(
            tree.HoeffdingTreeClassifier(grace_period=10, leaf_prediction="nb"), n_models=4, seed=2)

    store = Store(tmp_path / "models")
    with Learner(model(), store=store) as learner:
        for x, y in rows[:28]:
            learner.learn_one(x, y)
        result = learner.snapshot().result()
    assert result.published and set(result.dropped) == {"tfjs", "coreml"}, result.summary()
    version = store.open()
    entry = version.manifest.formats["tfjs"]
    assert entry.file is None and entry.passed is False
    assert "float32" in entry.not_applicable and entry.report.label_agreement < 1
    assert not list(version.path.glob("*.tfjs")) and not list(version.path.glob("*.mlmodel"))
    assert version.manifest.formats["onnx"].passed is True

    with Learner(model(), store=Store(tmp_path / "strict"), formats=["onnx", "tfjs"]) as learner:
        for x, y in rows[:28]:
            learner.learn_one(x, y)
        strict = learner.snapshot().result()
    assert not strict.published and strict.reports["tfjs"].passed is False


def test_a_learner_refuses_at_creation_what_it_could_never_learn_or_publish(tmp_path):
    """Not a model: refused with or without a store (before, the first learn_one failed). A
    model every format refuses: refused when the Learner publishes (before, only at the first
    snapshot, after learning), accepted without a store (learn and checkpoint only). A model
    some formats refuse is still accepted (test above)."""
    import itertools

    from river import compose, datasets, neighbors, preprocessing, reco, stats

    from estuary.errors import NotAModelError, UnsupportedModelError

    for store in (None, tmp_path / "a"):
        with pytest.raises(NotAModelError) as e:
            Learner("notamodel", store=store)
        assert str(e.value) == (
            "Learner(model='notamodel'): not a model that learns (it has no learn_one); pass a "
            "River estimator, e.g. preprocessing.StandardScaler() | linear_model.LogisticRegression()")
    with pytest.raises(NotAModelError, match=r"^Learner\(model=river\.stats\.Mean\): not a model"):
        Learner(stats.Mean())

    model = preprocessing.StandardScaler() | reco.RandomNormal()
    with pytest.raises(UnsupportedModelError) as e:
        Learner(model, store=tmp_path / "b")
    message = str(e.value)
    assert message.startswith("cannot convert river.reco.normal.RandomNormal (RandomNormal's")
    assert ("every format refuses it, so this Learner could never publish a snapshot: pass a "
            "supported model, or create the Learner without store= to learn and checkpoint it "
            "only). Supported: river.anomaly.GaussianScorer") in message
    assert not (tmp_path / "b").exists()
    with Learner(reco.RandomNormal(), store=None) as learner:  # learns; nothing is published
        learner.learn_one({"user": "u", "item": "i"}, 1.0)
    assert learner.n_events == 1

    class NotRiver:  # learns, but no extractor knows it
        def learn_one(self, x, y):
            pass

    with pytest.raises(UnsupportedModelError) as e:
        Learner(NotRiver(), store=tmp_path / "c")
    assert str(e.value).startswith(f"cannot convert {__name__}.test_a_learner_refuses_at_creation_"
                                   "what_it_could_never_learn_or_publish.<locals>.NotRiver (no "
                                   "format exports it, so this Learner could never publish")
    Learner(NotRiver()).learn_one({"a": 1.0}, True)

    events = list(itertools.islice(datasets.Phishing(), 50))
    knn = compose.Select(*events[0][0]) | neighbors.KNNClassifier()  # not Core ML nor TF.js
    with Learner(knn, store=Store(tmp_path / "knn"), formats=["onnx"]) as learner:
        for x, y in events:
            learner.learn_one(x, y)
        assert learner.snapshot().result().published


def test_a_learner_refuses_at_creation_an_ensemble_member_no_format_exports(tmp_path):
    """A member nested in an ensemble (a bagged pipeline's step, SRP's base model, a bagged
    TargetTransformRegressor) that no format exports is refused when the Learner is created,
    naming the member (before, only at the first snapshot, after learning). An ensemble of
    exportable members, and a model selector whose first candidate no format exports (another
    candidate may win), alone or nested in an ensemble, are admitted; the first publishes."""
    import math

    from river import (
        compose,
        ensemble,
        facto,
        linear_model,
        metrics,
        model_selection,
        preprocessing,
    )

    from estuary.errors import UnsupportedModelError

    bagged = ensemble.BaggingClassifier(preprocessing.StandardScaler() | facto.FMClassifier(),
                                        n_models=3, seed=1)
    with pytest.raises(UnsupportedModelError) as e:
        Learner(preprocessing.StandardScaler() | bagged, store=tmp_path / "fm")
    assert e.value.model_type == "river.facto.fm.FMClassifier"
    assert str(e.value).startswith(
        "cannot convert river.facto.fm.FMClassifier (a member of river.ensemble.BaggingClassifier "
        "that no format exports, so this Learner could never publish a snapshot; give it a "
        "supported member, or create the Learner without store= to learn and checkpoint it only)")
    assert not (tmp_path / "fm").exists()
    Learner(bagged).learn_one({"a": 1.0}, True)  # without a store it learns

    # SRP clones its member as it learns; a member every format refuses says why
    srp = ensemble.SRPClassifier(facto.FMClassifier(), n_models=3, seed=1)
    with pytest.raises(UnsupportedModelError, match=r"^cannot convert river\.facto\.fm\.FMClassifier "
                       r"\(a member of river\.ensemble\.SRPClassifier that no format exports"):
        Learner(srp, store=tmp_path / "srp")
    transformed = compose.TargetTransformRegressor(
        preprocessing.StandardScaler() | linear_model.LinearRegression(), func=math.log1p,
        inverse_func=math.expm1)
    with pytest.raises(UnsupportedModelError) as e:
        Learner(ensemble.BaggingRegressor(transformed, n_models=3, seed=1), store=tmp_path / "ttr")
    assert str(e.value).startswith(
        "cannot convert river.compose.target_transform.TargetTransformRegressor (a member of "
        "river.ensemble.BaggingRegressor that no format exports (River applies inverse_func, an "
        "arbitrary Python function, to the prediction; use preprocessing.TargetStandardScaler")

    selector = model_selection.GreedyRegressor(
        [facto.FMRegressor(), preprocessing.StandardScaler() | linear_model.LinearRegression()],
        metric=metrics.MAE())
    Learner(selector, store=Store(tmp_path / "greedy")).close()
    nested = ensemble.BaggingRegressor(model_selection.GreedyRegressor(
        [facto.FMRegressor(), preprocessing.StandardScaler() | linear_model.LinearRegression()],
        metric=metrics.MAE()), n_models=2, seed=1)
    Learner(nested, store=Store(tmp_path / "bagged-greedy")).close()  # nested selector: admitted

    good = ensemble.BaggingClassifier(logreg(), n_models=3, seed=1)
    with Learner(good, store=Store(tmp_path / "bag"), formats=["onnx"]) as learner:
        for x, y in phishing(100):
            learner.learn_one(x, y)
        assert learner.snapshot().result().published
