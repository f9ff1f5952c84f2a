"""Training checkpoints: signed, atomic, private to the learner; a killed `estuary learn` resumes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from river.datasets import synth

from estuary.online import Learner, Store
from estuary.online.checkpoint import (
    KEY_ENV,
    CheckpointDir,
    CheckpointError,
    CheckpointIntegrityError,
    CheckpointKeyError,
)
from estuary.online.models import MODELS
from estuary.online.sources import add_events
from estuary.online.testing import redis_server
from estuary.readers import read_events

ROOT = Path(__file__).resolve().parents[1]
KEY = "test-key-0123456789abcdef"


def _events(n: int, seed: int = 7) -> list[tuple[dict, bool]]:
    return [(x, bool(y)) for x, y in synth.Hyperplane(seed=seed, n_features=4).take(n)]


def test_no_key_is_a_typed_error_saying_how_to_set_it(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(CheckpointKeyError, match=KEY_ENV):
        CheckpointDir(tmp_path / "c")
    with pytest.raises(CheckpointKeyError, match="16 bytes"):
        CheckpointDir(tmp_path / "c", key="short")
    monkeypatch.setenv(KEY_ENV, KEY)
    assert CheckpointDir(tmp_path / "c").key == KEY.encode()


def test_round_trip_keep_and_refusals(tmp_path):
    ckpts = CheckpointDir(tmp_path / "c", key=KEY, keep=2)
    model = MODELS["logreg"]()
    for i, (x, y) in enumerate(_events(300), 1):
        model.learn_one(x, y)
        if i % 100 == 0:
            ckpts.save(model, i, {"records": i}).result()
    assert [p.name for p in ckpts.paths()] == ["ckpt-000000000002.estuary-ckpt",
                                              "ckpt-000000000003.estuary-ckpt"]
    ckpt = ckpts.latest()
    assert (ckpt.n_events, ckpt.offsets, ckpt.seq) == (300, {"records": 300}, 3)
    row = _events(1, seed=99)[0][0]
    assert ckpt.model.predict_proba_one(row) == model.predict_proba_one(row)

    newest, previous = ckpts.paths()[-1], ckpts.paths()[-2]
    data = newest.read_bytes()
    newest.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of the pickle
    with pytest.raises(CheckpointIntegrityError, match="HMAC"):
        ckpts.load(newest)
    assert ckpts.latest().n_events == 200 and ckpts.refused[-1][0] == newest
    newest.write_bytes(data[:40])  # truncated
    with pytest.raises(CheckpointIntegrityError):
        ckpts.load(newest)
    with pytest.raises(CheckpointIntegrityError, match="another key"):
        CheckpointDir(tmp_path / "c", key=KEY + "x").load(previous)
    # a refused file is never overwritten: the next checkpoint takes a new number
    again = CheckpointDir(tmp_path / "c", key=KEY, keep=5)
    assert again.save(model, 300).result().name == "ckpt-000000000004.estuary-ckpt"
    assert newest.read_bytes() == data[:40]


def test_checkpoints_live_apart_from_the_store(tmp_path):
    import estuary
    from estuary.errors import UnknownFormatError

    path = CheckpointDir(tmp_path / "c", key=KEY).save(MODELS["logreg"](), 0).result()
    with pytest.raises(UnknownFormatError):  # estuary.load (and so the server) never reads one
        estuary.load(path)
    (tmp_path / "store" / "versions").mkdir(parents=True)  # what a Store writes
    with pytest.raises(CheckpointError, match="own directory"):
        CheckpointDir(tmp_path / "store", key=KEY)
    from estuary.online.loop import Checkpointing

    with pytest.raises(ValueError, match="inside the store"):
        Checkpointing(tmp_path / "store" / "ckpt", key=KEY).open(tmp_path / "store")


def test_learner_policies_and_resume(tmp_path):
    events = _events(1000)
    for background in (True, False):  # the writer thread coalesces: the newest one wins
        ckpts = CheckpointDir(tmp_path / f"c{background}", key=KEY, keep=10, background=background)
        learner = Learner(MODELS["logreg"](), checkpoints=ckpts, checkpoint_every=150)
        read = 0
        learner.position = lambda: {"records": read}  # noqa: B023  (read at checkpoint time)
        for x, y in events[:700]:
            read += 1
            learner.learn_one(x, y)
        learner.close()
        assert ckpts.written + ckpts.coalesced == 4 and ckpts.latest().n_events == 600
    assert [ckpts.load(p).n_events for p in ckpts.paths()] == [150, 300, 450, 600]

    resumed = Learner(MODELS["logreg"](), checkpoints=CheckpointDir(tmp_path / "cFalse", key=KEY))
    ckpt = resumed.resume()
    assert ckpt.n_events == resumed.n_events == 600 and ckpt.offsets == {"records": 600}
    assert resumed.recent() == []  # the ring holds only what is learned after resuming
    for x, y in events[600:]:
        resumed.learn_one(x, y)
    straight = MODELS["logreg"]()
    for x, y in events:
        straight.learn_one(x, y)
    rows = [x for x, _ in _events(50, seed=3)]
    assert [resumed.predict_proba_one(r) for r in rows] == [straight.predict_proba_one(r) for r in rows]
    with pytest.raises(ValueError, match="checkpoints=CheckpointDir"):
        Learner(MODELS["logreg"](), checkpoint_every=10)


@pytest.mark.parametrize("name", ["logreg", "hoeffding"])
def test_a_snapshot_pickles_the_model_once_and_its_checkpoint_restores_it(tmp_path, monkeypatch,
                                                                          name):
    """With `checkpoint_on_snapshot`, the checkpoint reuses the capture's pickle of the model
    (scaler|logreg; a tree is captured without pickling and pickled by the checkpoint alone):
    one pickling of the model per snapshot, and the checkpoint restores a learner that predicts
    exactly like the live model at the snapshot, with its metric."""
    from river import metrics

    model = MODELS[name]()
    ckpts = CheckpointDir(tmp_path / "c", key=KEY, keep=10)
    learner = Learner(model, checkpoints=ckpts, metric=metrics.Accuracy())
    pickled = []
    reduce_ex = type(model).__reduce_ex__

    def counting(obj, protocol):
        if obj is model:
            pickled.append(protocol)
        return reduce_ex(obj, protocol)

    monkeypatch.setattr(type(model), "__reduce_ex__", counting)
    events = _events(900)
    for k in range(3):
        for x, y in events[300 * k:300 * (k + 1)]:
            learner.learn_one(x, y)
        learner.capture()
        assert len(pickled) == k + 1 and len(ckpts.paths()) == k + 1
    monkeypatch.undo()

    resumed = Learner(MODELS[name](), checkpoints=CheckpointDir(tmp_path / "c", key=KEY),
                      metric=metrics.Accuracy())
    assert resumed.resume().n_events == 900 and resumed.n_snapshots == 3
    assert resumed.metric.get() == learner.metric.get()
    rows = [x for x, _ in _events(200, seed=3)]
    assert [resumed.predict_proba_one(r) for r in rows] == [model.predict_proba_one(r) for r in rows]


def _learn_cli(source: Path, tmp_path: Path) -> list[str]:
    return [sys.executable, "-m", "estuary", "learn", "--source", str(source),
            "--store", str(tmp_path / "store"), "--model", "hoeffding", "--every", "1000000",
            "--formats", "onnx", "--checkpoint-dir", str(tmp_path / "ckpt"),
            "--checkpoint-every", "500", "--checkpoint-keep", "5", "--json"]


def test_killed_learner_resumes_from_its_last_valid_checkpoint(tmp_path):
    n = 40_000  # a Hoeffding tree (~30 µs an event): the kill lands mid-stream
    events = _events(n)
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps({"x": x, "y": y}) + "\n" for x, y in events))
    env = {**os.environ, "PYTHONPATH": str(ROOT), KEY_ENV: KEY}
    ckpts = CheckpointDir(tmp_path / "ckpt", key=KEY)

    at_kill = _kill_after_checkpoints(_learn_cli(source, tmp_path), env, ckpts, n)
    paths = ckpts.paths()
    paths[-1].write_bytes(paths[-1].read_bytes()[:-7])  # the newest one is torn: use the previous

    done = subprocess.run(_learn_cli(source, tmp_path), env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resumed_from"] == at_kill[-2]  # position from the previous checkpoint
    assert summary["resumed_from"] + summary["events"] == n  # nothing twice, nothing skipped
    assert Store(tmp_path / "store").open().manifest.n_events == n

    final = CheckpointDir(tmp_path / "ckpt", key=KEY).latest()
    assert final.n_events == n and final.offsets["records"] == n
    straight = MODELS["hoeffding"]()
    for x, y in read_events(source, "y"):
        straight.learn_one(x, y)
    model, _metric = final.model
    rows = [x for x, _ in _events(200, seed=11)]
    assert [model.predict_proba_one(r) for r in rows] == [straight.predict_proba_one(r) for r in rows]

    again = subprocess.run(_learn_cli(source, tmp_path), env=env, capture_output=True, text=True,
                           timeout=120)  # a finished source is not learned again
    assert json.loads(again.stdout)["events"] == 0


def _kill_after_checkpoints(cmd: list[str], env: dict, ckpts: CheckpointDir, n: int) -> list[int]:
    """Run `cmd`, SIGKILL it once it wrote 3 checkpoints; their event counts. The learner runs
    at a lower priority so that, on a busy machine, this process still sees it mid-stream."""
    log = ckpts.root.parent / "learner.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=lambda: os.nice(10))
    deadline = time.monotonic() + 60
    while True:
        finished = proc.poll() is not None
        if len(ckpts.paths()) >= 3:
            break
        assert not finished and time.monotonic() < deadline, \
            f"finished before the kill ({proc.returncode}): {log.read_text()[-2000:]}"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, "finished before the kill"
    at_kill = [ckpts.load(p).n_events for p in ckpts.paths()]
    assert at_kill[-1] < n, "the learner was not killed mid-stream"
    return at_kill


def test_killed_redis_learner_acknowledges_only_what_a_checkpoint_holds(tmp_path):
    n = 20_000
    events = [({str(k): v for k, v in x.items()}, y) for x, y in _events(n)]  # as Redis has them
    env = {**os.environ, "PYTHONPATH": str(ROOT), KEY_ENV: KEY}
    ckpts = CheckpointDir(tmp_path / "ckpt", key=KEY)
    with redis_server() as url:
        asyncio.run(add_events(url, "events", events))
        cmd = [sys.executable, "-m", "estuary", "learn", "--source", url, "--stream", "events",
               "--store", str(tmp_path / "store"), "--every", "1000000", "--formats", "onnx",
               "--checkpoint-dir", str(tmp_path / "ckpt"), "--checkpoint-every", "500",
               "--until-idle", "--idle-ms", "300", "--json"]
        at_kill = _kill_after_checkpoints(cmd, env, ckpts, n)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resumed_from"] == at_kill[-1]
    assert summary["resumed_from"] + summary["events"] == n  # nothing twice, nothing skipped
    model, _ = CheckpointDir(tmp_path / "ckpt", key=KEY).latest().model
    straight = MODELS["logreg"]()
    for x, y in events:
        straight.learn_one(x, y)
    rows = [{str(k): v for k, v in x.items()} for x, _ in _events(100, seed=11)]
    assert [model.predict_proba_one(r) for r in rows] == [straight.predict_proba_one(r) for r in rows]
