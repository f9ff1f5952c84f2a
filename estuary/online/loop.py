"""The learn loop behind `estuary learn`: events from a source → `Learner` → verified versions.

One loop for every source: a Redis Stream read by a consumer group (async; an event is
acknowledged once it is learned, see `sources.RedisStream`) or a CSV / JSON Lines file read
lazily (`estuary.readers`). Events without a label are counted and skipped. When the source
ends, the model is snapshotted once more ("end of stream") and the worker drained, so the last
`PublishResult` says whether the final model was published.

>>> run = learn(model, Source("events.jsonl", target="y"), "models", Snapshots(every=500))
>>> run.ok, run.events, run.latest
(True, 1250, 3)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..converters.registry import format_for
from ..readers import DataFileError, is_data_file, read_events
from .learner import Learner, _aiter
from .policy import EveryN, EveryT, OnDrift, Policy
from .publish import PublishResult
from .store import Store

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
PROGRESS_EVERY = 1000  # events between two progress messages


@dataclass(frozen=True)
class Source:
    """Where events come from: `location` is `redis://host:port/db` (or `rediss://`,
    `unix://`) for the Redis Stream `stream` read as `consumer` (default host-pid) of `group`,
    or a `.csv` / `.jsonl` file. `target` names the label field. A Redis source waits for new
    events forever, or, with `until_idle`, stops once none arrived for `idle_ms`; a file ends at
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

    def open(self) -> AsyncIterable | Iterable:
        """The events: an async `RedisStream` of `Event`s, or an iterator of `(x, y)` pairs."""
        if self.is_redis:
            from .sources import RedisStream

            return RedisStream(self.location, self.stream, self.group, self.consumer,
                               target=self.target, block_ms=self.idle_ms,
                               idle_exit=self.until_idle)
        path = Path(self.location)
        if not (is_data_file(path) and path.is_file()):
            raise DataFileError(f"source {self.location}: expected redis://..., or a .csv/.jsonl "
                                "file that exists")
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


@dataclass
class LearnRun:
    """What `learn` did: events learned and skipped (no label), and every snapshot's result."""

    store: Path
    events: int = 0
    skipped: int = 0
    results: list[PublishResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The last snapshot was published."""
        return bool(self.results and self.results[-1].published)

    @property
    def latest(self) -> int | None:
        """The version `latest` names in the store (None before the first publish)."""
        return Store(self.store).latest_number() if self.store.exists() else None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "skipped": self.skipped,
                "store": str(self.store), "latest": self.latest,
                "versions": [{"version": r.version, "published": r.published,
                              "n_events": r.n_events, "reason": r.reason,
                              "stall_ms": r.stall_ms, "errors": r.errors,
                              "reports": {f: rep.to_dict() for f, rep in r.reports.items()}}
                             for r in self.results]}


async def learn_events(learner: Learner, events: AsyncIterable | Iterable, run: LearnRun,
                       max_events: int | None = None,
                       progress: Callable[[str], None] | None = None) -> None:
    """Learn every labelled event of `events` (`(x, y)` pairs or objects with `.x` / `.y`,
    sync or async) until it ends or `max_events` were learned; counts go to `run`. A source
    that is an async context manager (`RedisStream`) is closed on the way out, acknowledging
    what was learned."""
    async with events if hasattr(events, "__aexit__") else nullcontext():
        stream = events if hasattr(events, "__aiter__") else _aiter(events)
        async for event in stream:
            x, y = (event.x, event.y) if hasattr(event, "x") else event
            if y is None:
                run.skipped += 1
                continue
            learner.learn_one(x, y)
            run.events += 1
            if progress is not None and run.events % PROGRESS_EVERY == 0:
                progress(f"{run.events} events")
            if max_events and run.events >= max_events:
                break


def learn(model: Any, source: Source, store: str | Path, snapshots: Snapshots | None = None, *,
          max_events: int | None = None,
          on_result: Callable[[PublishResult], None] | None = None,
          progress: Callable[[str], None] | None = None) -> LearnRun:
    """Learn `model` (a River model) from `source`, publishing verified snapshots to the store
    at `store` as `snapshots` says; returns when the source ends (or after `max_events`) and
    the last snapshot is published or rejected. `on_result` sees each `PublishResult` (from the
    worker's thread); `progress` gets a line every 1000 events.

    >>> learn(logreg(), Source("redis://localhost:6379/0", until_idle=True), "models").ok
    True
    """
    run = LearnRun(Path(store))

    def collect(result: PublishResult) -> None:
        run.results.append(result)
        if on_result is not None:
            on_result(result)

    async def main() -> None:  # the Redis client is made on the loop that uses it
        await learn_events(learner, source.open(), run, max_events, progress)

    snapshots = snapshots or Snapshots()
    learner = Learner(model, store=Store(store, keep=snapshots.keep), policy=snapshots.policy(),
                      formats=snapshots.formats, on_result=collect)
    try:
        asyncio.run(main())
        if run.events:
            learner.snapshot("end of stream")
    finally:
        learner.close()
    return run


__all__ = ["LearnRun", "Snapshots", "Source", "learn", "learn_events"]
