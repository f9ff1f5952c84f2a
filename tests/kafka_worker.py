"""A consumer process for tests/test_kafka.py: learns its partitions of `events` until every
partition of the topic is learned to its end (or 60 s idle), then prints its stats as JSON.

    python tests/kafka_worker.py BOOTSTRAP STORE CKPT PROGRESS_FILE PER_PARTITION PAUSE_S [KEY_FIELD]

With KEY_FIELD, a model per key inside each partition (`PartitionedLearner(key_field=...)`).
"""

from __future__ import annotations

import asyncio
import json
import sys

from estuary.online.kafka import PartitionedLearner
from estuary.online.loop import Snapshots
from estuary.online.models import MODELS


def main() -> None:
    bootstrap, store, ckpt, progress, per_partition, pause = sys.argv[1:7]
    key_field = sys.argv[7] if len(sys.argv) > 7 else None
    end, pause_s = int(per_partition), float(pause)

    async def on_batch(group: PartitionedLearner) -> None:
        with open(progress, "a") as f:  # flushed at close: survives a SIGKILL of this process
            f.write(f"{group.stats['events']} {sorted(group.learners)}\n")
        await asyncio.sleep(pause_s)  # slow enough to be killed mid-stream

    def done(group: PartitionedLearner) -> bool:
        return len(group.learners) == 4 and all(group.next_offset.get(p, 0) >= end
                                                for p in group.learners)

    group = PartitionedLearner(
        bootstrap, "events", "trainers", MODELS["logreg"], store, ckpt,
        snapshots=Snapshots(every=1500, formats=("onnx",)), checkpoint_every=250,
        consumer_options={"max_poll_records": 100, "session_timeout_ms": 6000,
                          "heartbeat_interval_ms": 500}, key_field=key_field)
    stats = asyncio.run(group.run(idle_ms=60_000, on_batch=on_batch, until=done))
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
