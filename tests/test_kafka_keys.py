"""Per-key models inside Kafka partitions (`PartitionedLearner(key_field=...)`) against a real
Kafka-protocol broker (Tansu, as tests/test_kafka.py): every key of a partition publishes its
own named model (`<topic>-<key>`), all checkpointed together; a consumer SIGKILLed mid-stream
is replaced by another that resumes every key from the partition's checkpoint, and each key's
model ends equal to one learned straight on that key's events. A message without a key goes to
the dead letters."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from river.datasets import synth
from test_kafka import KEY, ROOT, _progress, tansu

from estuary.online import Store
from estuary.online.catalog import model_names
from estuary.online.checkpoint import KEY_ENV, CheckpointDir
from estuary.online.models import MODELS

PER_PARTITION = 1000
KEYS = {p: [f"p{p}-a", f"p{p}-b"] for p in range(4)}  # two tenants in each partition


def _events() -> dict[int, list[tuple[dict, bool, str]]]:
    stream = synth.Hyperplane(seed=5, n_features=3).take(4 * PER_PARTITION)
    events: dict[int, list] = {p: [] for p in range(4)}
    for i, (x, y) in enumerate(stream):
        p = i % 4
        key = KEYS[p][(i // 4) % 3 == 0]  # uneven: a third of each partition's events to "b"
        events[p].append(({str(k): v for k, v in x.items()}, bool(y), key))
    return events


async def _produce(bootstrap: str, events: dict[int, list]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic("events", num_partitions=4, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for p, items in events.items():
            for x, y, key in items:
                body = {"x": {**x, "tenant": key}, "y": y}
                await producer.send("events", json.dumps(body).encode(), partition=p)
            await producer.send("events", json.dumps({"x": x, "y": y}).encode(), partition=p)
        await producer.flush()
    finally:
        await producer.stop()


async def _dead_letters(bootstrap: str) -> list[tuple[bytes, dict]]:
    """The dead letters, read until every partition's is in (at least once: some twice)."""
    consumer = AIOKafkaConsumer("events.dead", bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    out: list = []
    try:
        deadline = time.monotonic() + 20
        while len({h["partition"] for _, h in out}) < 4 and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                out += [(m.value, {k: v.decode() for k, v in m.headers}) for m in messages]
    finally:
        await consumer.stop()
    return out


def test_per_key_models_resume_together_after_a_kill(tmp_path):
    events = _events()
    env = {**os.environ, "PYTHONPATH": str(ROOT), KEY_ENV: KEY}
    end = PER_PARTITION + 1  # the last message of each partition has no key: a dead letter
    with tansu() as bootstrap:
        asyncio.run(_produce(bootstrap, events))

        def worker(name: str, pause: float) -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "kafka_worker.py"), bootstrap,
                 str(tmp_path / "store"), str(tmp_path / "ckpt"), str(tmp_path / name),
                 str(end), str(pause), "tenant"], env=env, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)

        a = worker("a", 0.05)
        try:
            deadline = time.monotonic() + 60
            while _progress(tmp_path / "a")[0] < 1700:  # mid-stream, between two checkpoints
                assert a.poll() is None and time.monotonic() < deadline, a.stderr.read()
                time.sleep(0.01)
            a.send_signal(signal.SIGKILL)
            a.wait(10)
            learned_a, _ = _progress(tmp_path / "a")
            b = worker("b", 0.0)
            out, err = b.communicate(timeout=120)
        finally:
            for proc in (a, *([b] if "b" in locals() else [])):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        dead = asyncio.run(_dead_letters(bootstrap))
    assert b.returncode == 0, err[-3000:]
    stats = json.loads(out)
    relearned = learned_a + stats["events"] - 4 * PER_PARTITION
    print(f"killed consumer at {learned_a} events; the next learned {stats['events']}; "
          f"re-learned after the kill: {relearned} events")
    # a's progress line trails its learning by at most one batch (100), hence the lower bound;
    # the upper: per partition, one checkpoint interval (250) and one fetch (100)
    assert stats["bad"] == 4 and -100 <= relearned <= 4 * (250 + 100)
    resumed = stats["resumed"]  # events each partition's keys had learned at their checkpoint
    assert sum(resumed.values()) >= learned_a - 4 * (250 + 100), stats  # from a's checkpoints
    # at least once: a dead letter sent by the killed consumer may be sent again
    assert {int(h["partition"]) for _, h in dead} == {0, 1, 2, 3}
    assert all("'tenant'" in h["reason"] for _, h in dead)

    root = tmp_path / "store"
    assert model_names(root) == sorted(f"events-{k}" for keys in KEYS.values() for k in keys)
    rows = [{str(k): v for k, v in x.items()}
            for x, _ in synth.Hyperplane(seed=9, n_features=3).take(50)]
    for p in range(4):
        final = CheckpointDir(tmp_path / "ckpt" / f"events-{p}", key=KEY).latest()
        assert final.offsets["offset"] == end and final.n_events == PER_PARTITION
        assert final.extra["keyed"] == "tenant" and sorted(final.model) == KEYS[p]
        for key in KEYS[p]:
            mine = [(x, y) for x, y, k in events[p] if k == key]
            straight = MODELS["logreg"]()
            for x, y in mine:
                straight.learn_one(x, y)
            model, _, n_events, _ = final.model[key]
            assert n_events == len(mine)
            assert [model.predict_proba_one(r) for r in rows] == \
                [straight.predict_proba_one(r) for r in rows], key
            store = Store(root / f"events-{key}")
            for n in store.version_numbers():  # every version verifies: none torn
                store.open(n)
            assert store.open().manifest.n_events == len(mine)


def test_learn_cli_keyed(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from estuary.cli import app

    events = {p: items[:120] for p, items in _events().items()}
    monkeypatch.setenv(KEY_ENV, KEY)
    with tansu() as bootstrap:
        asyncio.run(_produce(bootstrap, events))
        result = CliRunner().invoke(app, [
            "learn", "--source", f"kafka://{bootstrap}", "--topic", "events", "--group", "g",
            "--key-field", "tenant", "--store", str(tmp_path / "store"), "--formats", "onnx",
            "--until-idle", "--idle-ms", "1500", "--json", "--checkpoint-dir",
            str(tmp_path / "ckpt")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 4 * 120
    for p, keys in KEYS.items():
        for key in keys:
            n = sum(k == key for _, _, k in events[p])
            assert Store(tmp_path / "store" / f"events-{key}").open().manifest.n_events == n
    wrong = CliRunner().invoke(app, ["learn", "--source", "rows.csv", "--store", "s",
                                     "--key-field", "tenant"])
    assert wrong.exit_code == 2 and "--key-field needs --source kafka" in wrong.stderr
