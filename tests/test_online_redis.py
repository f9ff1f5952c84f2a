"""The Redis Stream source against a real redis-server (started here, on a free port)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis

from estuary.online import EveryN, Learner, Store
from estuary.online.sources import RedisStream, add_events
from estuary.online.testing import logreg, phishing, redis_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def redis_url():
    try:
        with redis_server() as url:
            yield url
    except RuntimeError as e:
        pytest.fail(str(e))  # never skipped: CI must install redis-server


def pending(url: str, stream: str, group: str) -> list[str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return [p["message_id"] for p in client.xpending_range(stream, group, "-", "+", 10_000)]
    finally:
        client.close()


def test_stream_learns_every_event_once_and_acks(redis_url, tmp_path):
    rows = phishing()
    reference = logreg()
    for x, y in rows:
        reference.learn_one(x, y)

    async def main():
        assert await add_events(redis_url, "phish", rows) == 1250
        learner = Learner(logreg(), store=tmp_path, policy=EveryN(500), formats=["onnx"])
        async with RedisStream(redis_url, "phish", target="y", count=200, block_ms=200,
                               idle_exit=True) as source:
            n = await learner.alearn_many(source)
        result = await learner.asnapshot()
        learner.close()
        return n, source, learner, result

    n, source, learner, result = asyncio.run(main())
    assert n == 1250 and source.n_acked == 1250 and source.n_recovered == 0
    assert pending(redis_url, "phish", "estuary") == []
    for x, _ in rows[:100]:  # same events, same order, same model
        assert learner.predict_proba_one(x) == reference.predict_proba_one(x)
    assert result.published and Store(tmp_path).open().manifest.n_events == 1250


CONSUMER = textwrap.dedent("""
    import asyncio, os, signal, sys
    from estuary.online import Learner
    from estuary.online.sources import RedisStream
    from estuary.online.testing import logreg

    async def main():
        learner = Learner(logreg())
        with open(sys.argv[2], "a") as log:
            async for event in RedisStream(sys.argv[1], "crash", consumer="worker-1", count=128):
                learner.learn_one(event.x, event.y)
                log.write(event.id + "\\n")
                log.flush()
                if learner.n_events == 300:  # mid-batch: 257..300 learned, not acknowledged
                    os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
""")


@pytest.mark.parametrize("restart_as", ["worker-1", "worker-2"])
def test_consumer_crash_redelivers_pending_once(redis_url, tmp_path, restart_as):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.delete("crash")
    client.close()
    rows = phishing(1000)
    asyncio.run(add_events(redis_url, "crash", rows))
    learned_before = tmp_path / "learned.txt"
    proc = subprocess.run([sys.executable, "-c", CONSUMER, redis_url, str(learned_before)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == -9
    first = learned_before.read_text().split()
    assert len(first) == 300
    left_pending = pending(redis_url, "crash", "estuary")
    assert len(left_pending) == 384 - 256  # the batch being learned when it died

    async def restart():
        learner = Learner(logreg())
        ids = []
        # a restart under the same name re-reads its own pending entries; another consumer
        # claims them once they have been idle for claim_idle_ms
        async with RedisStream(redis_url, "crash", consumer=restart_as, claim_idle_ms=0,
                               count=128, block_ms=200, idle_exit=True) as source:
            async for event in source:
                learner.learn_one(event.x, event.y)
                ids.append(event.id)
        return ids, source

    second, source = asyncio.run(restart())
    assert len(second) == len(set(second))  # learned once by the survivor
    assert set(left_pending) <= set(second) and source.n_recovered == len(left_pending)
    acked_by_first = set(first[:256])
    assert not acked_by_first & set(second)  # acknowledged: never delivered again
    assert len(acked_by_first) + len(second) == 1000
    assert pending(redis_url, "crash", "estuary") == []
