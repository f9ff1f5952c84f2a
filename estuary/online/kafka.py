"""Learning from Kafka: one `Learner` per partition a consumer group assigns to this process.

Each partition `p` of `topic` has its own model, its own store (`store_root/<topic>-<p>/`,
verified versions as everywhere in estuary) and its own training checkpoints
(`checkpoint_root/<topic>-<p>/`, signed: `estuary.online.checkpoint`). The checkpoint, not the
group's committed offset, says where a partition's model stands: it holds the offset of the next
event to learn, and a partition assigned to this process resumes from its newest valid checkpoint
and seeks there (no checkpoint: from the beginning). Before a partition is revoked (a rebalance:
a process joined or left) its learner checkpoints and the offset is committed; offsets are
committed only once a checkpoint holding them is durable. A process that dies without a word
(SIGKILL) loses what it learned after its last checkpoint: the next owner learns those events
again from the checkpoint, so every model still sees every event once. The window re-read is at
most `checkpoint_every` events (plus one fetch) per partition.

Per-key models (`key_field="tenant"`): a partition keeps one learner per value of that field,
each publishing as `<topic>-<key>`, all checkpointed together (kafka_keys.py).

A message is a JSON object, `{"x": {...}, "y": label}` or flat with the `target` field; one that
is not (bad JSON, no label; with `key_field`, no usable key) is counted in `bad`, copied to the dead-letter topic (default
`<topic>.dead`; headers `reason`, `partition`, `offset`) and skipped, never stopping the
partition.

>>> group = PartitionedLearner("127.0.0.1:9092", "events", "trainers", MODELS["logreg"],
...                            "models", "ckpt", checkpoint_every=500)
>>> asyncio.run(group.run(idle_ms=5000))
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .catalog import named_store
from .checkpoint import CheckpointDir, CheckpointError, checkpoint_key
from .kafka_keys import KeyedPartition, key_of
from .learner import Learner
from .loop import Snapshots

log = logging.getLogger(__name__)


def decode_message(value: bytes | None, target: str = "y") -> tuple[dict, Any]:
    """A message's value → (x, y); ValueError when it is not an event."""
    obj = json.loads(value or b"")
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if isinstance(obj.get("x"), dict):
        x, y = obj["x"], obj.get("y")
    else:
        y = obj.pop(target, None)
        x = obj
    if y is None:
        raise ValueError(f"no {target!r} label")
    return x, y


class PartitionedLearner:
    """See the module docstring. `stats` counts events learned, bad messages, and, per
    partition, where each learner resumed from."""

    def __init__(self, bootstrap: str, topic: str, group: str, make_model: Callable[[], Any],
                 store_root: str | Path, checkpoint_root: str | Path, *,
                 key: str | bytes | None = None, target: str = "y",
                 snapshots: Snapshots | None = None, checkpoint_every: int = 1000,
                 consumer_options: dict[str, Any] | None = None,
                 dead_letter: str | None = "{topic}.dead", key_field: str | None = None,
                 name_template: str = "{topic}-{key}"):
        self.bootstrap, self.topic, self.group = bootstrap, topic, group
        self.key_field, self.name_template = key_field, name_template
        self.make_model, self.target = make_model, target
        self.store_root, self.checkpoint_root = Path(store_root), Path(checkpoint_root)
        self.key = checkpoint_key(key)  # a missing key fails here, not inside a rebalance
        if self.checkpoint_root.resolve().is_relative_to(self.store_root.resolve()):
            raise CheckpointError(f"checkpoints in {checkpoint_root} would be inside the store "
                                  f"{store_root}: keep them apart")
        self.snapshots = snapshots or Snapshots()
        self.checkpoint_every = checkpoint_every
        self.consumer_options = consumer_options or {}
        self.learners: dict[int, Learner | KeyedPartition] = {}
        self.next_offset: dict[int, int] = {}
        self.committed: dict[int, int] = {}
        self.stats: dict[str, Any] = {"events": 0, "bad": 0, "resumed": {}, "revoked": []}
        self.consumer: Any = None
        self.dead_letter = dead_letter.format(topic=topic) if dead_letter else None
        self._dead: list[tuple[bytes, list[tuple[str, bytes]]]] = []
        self._producer: Any = None

    def name(self, partition: int) -> str:
        return f"{self.topic}-{partition}"

    # ------------------------------------------------------------------------ assignment

    def _learner(self, name: str, **checkpointing: Any) -> Learner:
        """A fresh model publishing as the named model `name` of the store root."""
        return Learner(self.make_model(),
                       store=named_store(self.store_root, name, keep=self.snapshots.keep),
                       policy=self.snapshots.policy(), formats=self.snapshots.formats,
                       **checkpointing)

    def _open(self, partition: int) -> Learner | KeyedPartition:
        name = self.name(partition)
        ckpts = CheckpointDir(self.checkpoint_root / name, self.key, keep=3, background=True)
        learner: Learner | KeyedPartition
        if self.key_field is not None:
            learner = KeyedPartition(
                self.key_field, lambda key: self.name_template.format(
                    topic=self.topic, partition=partition, key=key),
                self._learner, ckpts, self.checkpoint_every)
        else:
            learner = self._learner(name, checkpoints=ckpts,
                                    checkpoint_every=self.checkpoint_every)
        learner.position = lambda: {"topic": self.topic, "partition": partition,
                                    "offset": self.next_offset.get(partition, 0)}
        return learner

    async def assigned(self, partitions: Any) -> None:
        from aiokafka import TopicPartition

        for tp in partitions:
            if tp.topic != self.topic or tp.partition in self.learners:
                continue
            learner = self._open(tp.partition)
            ckpt = learner.resume()
            if ckpt is not None and ckpt.extra.get("keyed") and self.key_field is None:
                raise CheckpointError(f"{ckpt.path} holds per-key models: resume them with "
                                      f"key_field={ckpt.extra['keyed']!r}")
            offset = int(ckpt.offsets.get("offset", 0)) if ckpt else 0
            self.learners[tp.partition] = learner
            self.next_offset[tp.partition] = offset
            self.stats["resumed"][tp.partition] = ckpt.n_events if ckpt else 0
            self.consumer.seek(TopicPartition(self.topic, tp.partition), offset)
            log.info("partition %d assigned: resumed at offset %d (%d events learned)",
                     tp.partition, offset, ckpt.n_events if ckpt else 0)

    async def revoked(self, partitions: Any) -> None:
        for tp in partitions:
            learner = self.learners.pop(tp.partition, None)
            if learner is None:
                continue
            learner.checkpoint()
            learner.checkpoints.flush()  # durable before the offset is committed
            await self._commit({tp.partition: learner})
            await asyncio.get_running_loop().run_in_executor(None, learner.close)
            learner.checkpoints.close()
            self.stats["revoked"].append(tp.partition)

    async def _commit(self, learners: dict[int, Learner]) -> None:
        from aiokafka import TopicPartition

        offsets = {}
        for p, learner in learners.items():
            durable = learner.checkpoints.durable
            if durable is not None and durable[1].get("offset", 0) > self.committed.get(p, -1):
                offsets[TopicPartition(self.topic, p)] = durable[1]["offset"]
        if offsets:
            await self.consumer.commit(offsets)
            self.committed.update({tp.partition: o for tp, o in offsets.items()})

    # ------------------------------------------------------------------------ the loop

    def _learn(self, partition: int, messages: list) -> None:
        learner = self.learners.get(partition)
        if learner is None:  # revoked while the batch was on its way
            return
        for msg in messages:
            if msg.offset < self.next_offset.get(partition, 0):
                continue  # fetched before a seek to a checkpoint: already in the model
            self.next_offset[partition] = msg.offset + 1  # before learn_one: a checkpoint in it
            try:
                x, y = decode_message(msg.value, self.target)
                if isinstance(learner, KeyedPartition):
                    learner.name(key_of(x, learner.field))  # a usable key, or a dead letter
            except ValueError as e:
                self.stats["bad"] += 1
                log.warning("partition %d offset %d: %s; skipped", partition, msg.offset, e)
                self._dead.append((msg.value or b"", [
                    ("reason", str(e).encode()), ("partition", str(partition).encode()),
                    ("offset", str(msg.offset).encode())]))
                continue
            learner.learn_one(x, y)
            self.stats["events"] += 1

    async def run(self, idle_ms: int | None = None,
                  on_batch: Callable[[PartitionedLearner], Awaitable[None]] | None = None,
                  until: Callable[[PartitionedLearner], bool] | None = None) -> dict:
        """Consume until no message arrived for `idle_ms` (None: forever) or `until(self)` is
        true; on the way out every learner checkpoints, publishes a last snapshot and
        commits. `on_batch(self)` is awaited after each batch."""
        from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener

        outer = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked):
                await outer.revoked(revoked)

            async def on_partitions_assigned(self, assigned):
                await outer.assigned(assigned)

        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group,
                                         enable_auto_commit=False, auto_offset_reset="earliest",
                                         **self.consumer_options)
        self.consumer.subscribe([self.topic], listener=Listener())
        if self.dead_letter:
            from aiokafka import AIOKafkaProducer

            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
            await self._producer.start()
        await self.consumer.start()
        try:
            await self._consume(idle_ms, on_batch, until)
            for learner in self.learners.values():
                if learner.n_events:
                    learner.snapshot("end of stream")  # checkpoints too
            await self._commit(self.learners)
        finally:
            for learner in self.learners.values():
                learner.close()
                learner.checkpoints.close()
            await self._commit(self.learners)
            self.learners.clear()  # leaving the group revokes nothing more here
            await self.consumer.stop()
            if self._producer is not None:
                await self._producer.stop()
        return self.stats

    async def _send_dead(self) -> None:
        """Copy this batch's bad messages to the dead-letter topic (before their offsets are
        committed)."""
        if self._dead and self._producer is not None:
            for value, headers in self._dead:
                await self._producer.send(self.dead_letter, value, headers=headers)
            await self._producer.flush()
        self._dead.clear()

    async def _consume(self, idle_ms: int | None, on_batch: Any, until: Any) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while until is None or not until(self):
            batch = await self.consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                self._learn(tp.partition, messages)
            if batch:
                last = loop.time()
                await self._send_dead()
                await self._commit(self.learners)
                if on_batch is not None:
                    await on_batch(self)
            elif idle_ms is not None and (loop.time() - last) * 1000 >= idle_ms:
                return


def learn_kafka(url: str, topic: str, group: str, make_model: Callable[[], Any],
                store_root: str | Path, checkpointing: Any, snapshots: Snapshots | None = None,
                idle_ms: int | None = None, key_field: str | None = None) -> dict:
    """`estuary learn --source kafka://HOST:PORT --topic T --group G --checkpoint-dir DIR`:
    `PartitionedLearner` until idle for `idle_ms` (None: forever); returns its stats."""
    from ..errors import EstuaryError

    if checkpointing is None:
        raise EstuaryError("learning from Kafka needs --checkpoint-dir: a partition's checkpoint "
                           "says where its model stands when the partition moves")
    group_learner = PartitionedLearner(
        url.removeprefix("kafka://"), topic, group, make_model, store_root,
        checkpointing.directory, key=checkpointing.key, snapshots=snapshots,
        checkpoint_every=checkpointing.every or 1000, key_field=key_field)
    return asyncio.run(group_learner.run(idle_ms=idle_ms))


__all__ = ["PartitionedLearner", "decode_message", "learn_kafka"]
