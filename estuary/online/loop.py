"""The learn loop behind `estuary learn`: events from a source → `Learner` → verified versions.

One loop for every source: a Redis Stream read by a consumer group (async; an event is
acknowledged once it is learned, see `sources.RedisStream`) or a CSV / JSON Lines file read
lazily (`estuary.readers`). Events without a label are counted and skipped. When the source
ends, the model is snapshotted once more ("end of stream") and the worker drained, so the last
`PublishResult` says whether the final model was published.

With `Checkpointing(dir)`, the learner's model and position are checkpointed (signed, see
`estuary.online.checkpoint`) and a restarted `learn` resumes from the newest valid checkpoint:
a file source skips the records the checkpoint had already consumed, so after a kill no event
is learned twice or skipped. A Redis source then acknowledges an event only once a checkpoint
holding it is durable: a killed learner's unacknowledged events come back to it, and those its
checkpoint already holds are acknowledged without being learned again.

>>> run = learn(model, Source("events.jsonl", target="y"), "models", Snapshots(every=500))
>>> run.ok, run.events, run.latest
(True, 1250, 3)
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import socket
from collections.abc import AsyncIterable, Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..converters.registry import format_for
from ..readers import READERS, DataFileError, is_data_file, read_events
from .checkpoint import CheckpointDir
from .learner import Learner, _aiter
from .policy import EveryN, EveryT, OnDrift, Policy
from .publish import PublishResult
from .store import Store

log = logging.getLogger(__name__)
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
ACCEPTED_SOURCES = ("redis://HOST:PORT/DB (or rediss://, unix://) for a Redis Stream, "
                    "kafka://HOST:PORT for a Kafka topic (`estuary learn`), or a "
                    f"{', '.join(READERS)} file that exists")
PROGRESS_EVERY = 1000  # events between two progress messages
COUNT_EVERY = 100  # events between two counts for a progress bar


@dataclass(frozen=True)
class Source:
    """Where events come from: `location` is `redis://host:port/db` (or `rediss://`,
    `unix://`) for the Redis Stream `stream` read as `consumer` (default host-pid) of `group`,
    or a `.csv` / `.jsonl` / `.ndjson` file (Kafka: `estuary.online.kafka`). `target` names
    the label field. A Redis source waits for new events forever, or, with `until_idle`,
    stops once none arrived for `idle_ms`; a file ends at
    its last line.

    >>> Source("redis://localhost:6379/0", stream="events", until_idle=True)
    """

    location: str
    target: str = "y"
    stream: str = "events"
    group: str = "estuary"
    consumer: str | None = None
    idle_ms: int = 1000
    until_idle: bool = False

    @property
    def is_redis(self) -> bool:
        return self.location.startswith(REDIS_SCHEMES)

    def open(self, hold_acks: bool = False, skip_through: str | None = None
             ) -> AsyncIterable | Iterable:
        """The events: an async `RedisStream` of `Event`s, or an iterator of `(x, y)` pairs.
        `hold_acks` / `skip_through`: see `RedisStream` (training checkpoints)."""
        if self.is_redis:
            from .sources import RedisStream

            return RedisStream(self.location, self.stream, self.group, self.consumer,
                               target=self.target, block_ms=self.idle_ms,
                               idle_exit=self.until_idle, hold_acks=hold_acks,
                               skip_through=skip_through)
        path = Path(self.location)
        if not (is_data_file(path) and path.is_file()):
            why = "no such file" if is_data_file(path) else "not a source estuary reads"
            raise DataFileError(f"source {self.location}: {why}; expected {ACCEPTED_SOURCES}")
        return read_events(path, self.target)


@dataclass(frozen=True)
class Snapshots:
    """When to snapshot and what to publish: every `every` events, also every `every_seconds`
    and on drift (ADWIN on the prequential error) when asked; artifacts in `formats` (default:
    every registered format); the newest `keep` versions stay in the store. An unknown format
    raises `UnknownFormatError` here, before any event is read.

    >>> Snapshots(every=500, drift=True, formats=("onnx", "pmml"))
    """

    every: int = 1000
    every_seconds: float | None = None
    drift: bool = False
    formats: tuple[str, ...] | None = None
    keep: int = 10

    def __post_init__(self) -> None:
        for name in self.formats or ():
            format_for(name)

    def policy(self) -> Policy:
        policy: Policy = EveryN(self.every)
        if self.every_seconds:
            policy = policy | EveryT(self.every_seconds)
        if self.drift:
            policy = policy | OnDrift()
        return policy


@dataclass(frozen=True)
class Checkpointing:
    """Training checkpoints for `learn`: in `directory` (never inside the store), every `every`
    events, every `every_seconds`, and at each snapshot (`on_snapshot`); the newest `keep`
    stay. `key` signs them (default: the `ESTUARY_CHECKPOINT_KEY` environment variable); a
    missing key raises `CheckpointKeyError` before any event is read.

    >>> Checkpointing("ckpt", every=500, keep=3)
    """

    directory: str | Path
    every: int | None = None
    every_seconds: float | None = None
    on_snapshot: bool = True
    keep: int = 3
    key: str | bytes | None = field(default=None, repr=False)

    def open(self, store: Path) -> CheckpointDir:
        root = Path(self.directory).resolve()
        if root == store.resolve() or store.resolve() in root.parents:
            raise ValueError(f"checkpoint directory {self.directory} is inside the store {store}: "
                             "checkpoints are private to the learner, keep them elsewhere")
        return CheckpointDir(root, self.key, self.keep, background=True)


@dataclass
class LearnRun:
    """What `learn` did: events learned and skipped (no label), and every snapshot's result."""

    store: Path
    events: int = 0
    skipped: int = 0
    results: list[PublishResult] = field(default_factory=list)
    read: int = 0  # records taken from the source by this run (labelled or not)
    last_id: str | None = None  # the id of the last Redis event read
    resumed_from: int | None = None  # events of the checkpoint this run resumed from

    @property
    def ok(self) -> bool:
        """The last snapshot was published; or the run took none because nothing was left to
        learn (a restart after the end of its file), not because every event lacked a label."""
        if not self.results:
            return self.skipped == 0
        return self.results[-1].published

    @property
    def latest(self) -> int | None:
        """The version `latest` names in the store (None before the first publish)."""
        return Store(self.store).latest_number() if self.store.exists() else None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "skipped": self.skipped,
                "store": str(self.store), "latest": self.latest,
                "resumed_from": self.resumed_from,
                "versions": [{"version": r.version, "published": r.published,
                              "n_events": r.n_events, "reason": r.reason,
                              "stall_ms": r.stall_ms, "errors": r.errors,
                              "reports": {f: rep.to_dict() for f, rep in r.reports.items()}}
                             for r in self.results]}


async def learn_events(learner: Learner, events: AsyncIterable | Iterable, run: LearnRun,
                       max_events: int | None = None,
                       progress: Callable[[str], None] | None = None,
                       checkpoints: CheckpointDir | None = None,
                       counted: Callable[[int], None] | None = None) -> None:
    """Learn every labelled event of `events` (`(x, y)` pairs or objects with `.x` / `.y`,
    sync or async) until it ends or `max_events` were learned; counts go to `run`. A source
    that is an async context manager (`RedisStream`) is closed on the way out, acknowledging
    what was learned; with `checkpoints` (and a source holding its acks), only what a durable
    checkpoint holds is acknowledged."""
    acks = checkpoints if getattr(events, "hold_acks", False) else None
    seen = None
    async with events if hasattr(events, "__aexit__") else nullcontext():
        stream = events if hasattr(events, "__aiter__") else _aiter(events)
        async for event in stream:
            if acks is not None and acks.durable is not seen:  # a checkpoint reached the disk
                seen = acks.durable
                if seen[1].get("last_id"):
                    await events.ack_through(seen[1]["last_id"])
            x, y = (event.x, event.y) if hasattr(event, "x") else event
            run.read += 1  # before learning: a checkpoint taken inside learn_one counts it
            run.last_id = getattr(event, "id", None)
            if y is None:
                run.skipped += 1
                continue
            learner.learn_one(x, y)
            run.events += 1
            if progress is not None and run.events % PROGRESS_EVERY == 0:
                progress(f"{run.events} events")
            if counted is not None and run.events % COUNT_EVERY == 0:
                counted(run.events)
            if max_events and run.events >= max_events:
                break
        if acks is not None and run.read:  # the end: checkpoint, then acknowledge it all
            learner.checkpoint()
            acks.flush()
            if acks.durable and acks.durable[1].get("last_id"):
                await events.ack_through(acks.durable[1]["last_id"])


def learn(model: Any, source: Source, store: str | Path, snapshots: Snapshots | None = None, *,
          max_events: int | None = None,
          on_result: Callable[[PublishResult], None] | None = None,
          progress: Callable[[str], None] | None = None,
          checkpointing: Checkpointing | None = None,
          counted: Callable[[int], None] | None = None) -> LearnRun:
    """Learn `model` (a River model) from `source`, publishing verified snapshots to the store
    at `store` as `snapshots` says; returns when the source ends (or after `max_events`) and
    the last snapshot is published or rejected. `on_result` sees each `PublishResult` (from the
    worker's thread); `progress` gets a line every 1000 events, `counted` the count every 100
    (a progress bar). With `checkpointing`, the run
    resumes from the newest valid checkpoint and checkpoints as it learns (module docstring).

    >>> learn(logreg(), Source("redis://localhost:6379/0", until_idle=True), "models").ok
    True
    """
    run = LearnRun(Path(store))

    def collect(result: PublishResult) -> None:
        run.results.append(result)
        if on_result is not None:
            on_result(result)

    snapshots = snapshots or Snapshots()
    ckpts = checkpointing.open(Path(store)) if checkpointing else None
    learner = Learner(model, store=Store(store, keep=snapshots.keep), policy=snapshots.policy(),
                      formats=snapshots.formats, on_result=collect, checkpoints=ckpts,
                      checkpoint_every=checkpointing and checkpointing.every,
                      checkpoint_seconds=checkpointing and checkpointing.every_seconds,
                      checkpoint_on_snapshot=bool(checkpointing and checkpointing.on_snapshot))
    skip, resumed = _resume(learner, source, run) if ckpts is not None else (0, {})
    resumed_id = resumed.get("last_id")
    if source.is_redis and ckpts is not None and source.consumer is None:
        # the same consumer name across restarts: its pending events come back to it
        source = dataclasses.replace(source, consumer=resumed.get("consumer")
                                     or f"{socket.gethostname()}-{os.getpid()}")
    learner.position = lambda: {"source": source.location, "records": skip + run.read,
                                "last_id": run.last_id or resumed_id,
                                "consumer": source.consumer}

    async def main() -> None:  # the Redis client is made on the loop that uses it
        if source.is_redis:
            events = source.open(hold_acks=ckpts is not None, skip_through=resumed_id)
        else:
            events = source.open()
        if skip:
            events = itertools.islice(events, skip, None)
        await learn_events(learner, events, run, max_events, progress, ckpts, counted)

    try:
        asyncio.run(main())
        if run.events:
            learner.snapshot("end of stream")
        if ckpts is not None and run.read and not (run.events and learner.checkpoint_on_snapshot):
            learner.checkpoint()  # the end of the source: a restart must not read it again
    finally:
        learner.close()
        if ckpts is not None:
            ckpts.close()
    return run


def _resume(learner: Learner, source: Source, run: LearnRun) -> tuple[int, dict[str, Any]]:
    """Resume from the newest valid checkpoint: the number of file records to skip, and its
    offsets (for Redis: the id of the last event it holds and the consumer name)."""
    ckpt = learner.resume()
    if ckpt is None:
        return 0, {}
    run.resumed_from = ckpt.n_events
    if source.is_redis:  # the consumer group knows the rest
        return 0, ckpt.offsets
    if ckpt.offsets.get("source") != source.location:
        log.warning("checkpoint %s was taken on %s; resuming on %s at the same record",
                    ckpt.path, ckpt.offsets.get("source"), source.location)
    return int(ckpt.offsets.get("records", 0)), ckpt.offsets


__all__ = ["Checkpointing", "LearnRun", "Snapshots", "Source", "learn", "learn_events"]
