"""Event sources for a Learner: a Redis Stream read through a consumer group (async).

At-least-once, acknowledged after learning: an event is XACK'd once the loop asks for the next
one (the body that learned it has finished), in batches. After a crash, the events this
consumer had read but not acknowledged are read again first (XREADGROUP from id 0), then events
other consumers left pending for longer than `claim_idle_ms` are claimed (XAUTOCLAIM), then new
ones are read (XREADGROUP `>`). Acknowledged events are never delivered again.

Fields are decoded as JSON where they parse (`"0.5"` → 0.5, `"true"` → True) and kept as text
otherwise; the `target` field is the label.

>>> async with RedisStream("redis://localhost:6379", "events", target="y") as source:
...     async for event in source:
...         learner.learn_one(event.x, event.y)
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    id: str
    x: dict
    y: Any


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def decode_fields(fields: Mapping[str, str], target: str | None) -> tuple[dict, Any]:
    """Stream entry fields → (x, y)."""
    x = {k: _value(v) for k, v in fields.items()}
    y = x.pop(target, None) if target else None
    return x, y


def encode_event(x: Mapping, y: Any = None, target: str = "y") -> dict[str, str]:
    """(x, y) → stream entry fields (JSON values), the inverse of `decode_fields`."""
    fields = {str(k): json.dumps(v) for k, v in x.items()}
    if y is not None:
        fields[target] = json.dumps(y)
    return fields


def _client(url_or_client: Any):
    if not isinstance(url_or_client, str):
        return url_or_client, False
    try:
        import redis.asyncio as aioredis
    except ModuleNotFoundError as e:  # pragma: no cover
        raise ModuleNotFoundError("the Redis source needs `pip install estuary-ml[online]`") from e
    return aioredis.from_url(url_or_client, decode_responses=True), True


async def add_events(url_or_client: Any, stream: str, events: Iterable[tuple[Mapping, Any]],
                     target: str = "y", batch: int = 500) -> int:
    """XADD `(x, y)` pairs to `stream` (pipelined); returns how many were added.

    >>> await add_events("redis://localhost:6379", "events", datasets.Phishing())
    """
    client, own = _client(url_or_client)
    n = 0
    try:
        pipe = client.pipeline(transaction=False)
        for x, y in events:
            pipe.xadd(stream, encode_event(x, y, target))
            n += 1
            if n % batch == 0:
                await pipe.execute()
        await pipe.execute()
    finally:
        if own:
            await client.aclose()
    return n


class RedisStream:
    """An async iterator of `Event`s from `stream` for consumer `consumer` of `group`.

    `idle_exit`: stop when no event arrives for `block_ms` (tests, batch jobs, the CLI's
    `--until-idle`); otherwise wait forever. `decode(fields)` may replace `decode_fields`.

    With training checkpoints (`hold_acks=True`) nothing is acknowledged by itself: the learn
    loop calls `ack_through(id)` once a checkpoint that holds the event `id` is durable, so a
    killed learner's unacknowledged events come back to it; those its checkpoint already holds
    (ids up to `skip_through`, in its own pending list) are acknowledged and not handed out.
    """

    def __init__(self, url_or_client: Any, stream: str, group: str = "estuary",
                 consumer: str | None = None, *, target: str | None = "y", count: int = 500,
                 block_ms: int = 1000, claim_idle_ms: int = 30_000, idle_exit: bool = False,
                 decode: Callable[[Mapping[str, str]], tuple[dict, Any]] | None = None,
                 hold_acks: bool = False, skip_through: str | None = None):
        self._client, self._own = _client(url_or_client)
        self.stream, self.group = stream, group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.target, self.count, self.block_ms = target, count, block_ms
        self.claim_idle_ms, self.idle_exit = claim_idle_ms, idle_exit
        self.decode = decode or (lambda fields: decode_fields(fields, target))
        self._buffer: deque = deque()
        self._unacked: list[str] = []  # handed out; acknowledged when the next one is asked for
        self._phase = "own"  # own pending → claim others' idle pending → new events
        self._claim_cursor = "0-0"
        self._own_cursor = "0"
        self._ready = False
        self.hold_acks = hold_acks
        self._skip_through = _stream_id(skip_through) if skip_through else None
        self.n_delivered = self.n_acked = self.n_recovered = self.n_skipped = 0

    async def _setup(self) -> None:
        import redis

        try:
            await self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._ready = True

    async def ack_through(self, entry_id: str) -> None:
        """Acknowledge the events handed out whose id is at most `entry_id`."""
        last = _stream_id(entry_id)
        done = [e for e in self._unacked if _stream_id(e) <= last]
        if done:
            self.n_acked += await self._client.xack(self.stream, self.group, *done)
            self._unacked = [e for e in self._unacked if _stream_id(e) > last]

    async def ack(self) -> None:
        """Acknowledge every event handed out so far (called for you between batches, unless
        `hold_acks`)."""
        if self._unacked:
            self.n_acked += await self._client.xack(self.stream, self.group, *self._unacked)
            self._unacked.clear()

    def __aiter__(self) -> RedisStream:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if not self.hold_acks:
                await self.ack()  # the loop body of every event handed out has finished
            if not self._ready:
                await self._setup()
            if not await self._fill():
                raise StopAsyncIteration
        entry_id, fields = self._buffer.popleft()
        self._unacked.append(entry_id)
        self.n_delivered += 1
        x, y = self.decode(fields)
        return Event(entry_id, x, y)

    async def _fill(self) -> bool:
        """Fetch the next batch into the buffer; False when the source is finished."""
        if self._phase == "own":
            reply = await self._client.xreadgroup(self.group, self.consumer,
                                                  {self.stream: self._own_cursor},
                                                  count=self.count)
            raw = reply[0][1] if reply else []
            if raw:  # pending entries after the cursor (held acks keep the earlier ones pending)
                self._own_cursor = raw[-1][0]
            entries = [e for e in raw if e[1]]  # deleted: no fields
            if entries and self._skip_through is not None:
                entries = await self._skip_learned(entries)
            if entries:
                self.n_recovered += len(entries)
                self._buffer.extend(entries)
                return True
            if raw:
                return True  # only deleted or already-learned ones: read the next pending ones
            self._phase = "claim"
        if self._phase == "claim":
            cursor, entries, *_ = await self._client.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms,
                start_id=self._claim_cursor, count=self.count)
            self._claim_cursor = cursor
            if cursor in ("0-0", b"0-0"):
                self._phase = "new"
            entries = [e for e in entries if e and e[1]]
            if entries:
                self.n_recovered += len(entries)
                self._buffer.extend(entries)
                return True
            if self._phase == "claim":
                return True  # more to scan
        reply = await self._client.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                              count=self.count, block=self.block_ms)
        entries = reply[0][1] if reply else []
        self._buffer.extend(entries)
        return bool(entries) or not self.idle_exit

    async def _skip_learned(self, entries: list) -> list:
        """Own pending entries the resumed checkpoint already holds: acknowledged, not handed
        out again (they come back when the learner died before acknowledging them)."""
        held = [e[0] for e in entries if _stream_id(e[0]) <= self._skip_through]
        if held:
            self.n_skipped += len(held)
            self.n_acked += await self._client.xack(self.stream, self.group, *held)
            return [e for e in entries if _stream_id(e[0]) > self._skip_through]
        self._skip_through = None  # past the checkpoint: nothing older is pending any more
        return entries

    async def aclose(self, learned_last: bool = True) -> None:
        """Acknowledge what was learned (all handed-out events, or all but the last one when
        the loop body failed on it) and close the connection if this source opened it."""
        if self._unacked and not learned_last:
            self._unacked.pop()
        try:
            if not self.hold_acks:
                await self.ack()
        finally:
            if self._own:
                await self._client.aclose()

    async def __aenter__(self) -> RedisStream:
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.aclose(learned_last=exc_type is None)


def _stream_id(entry_id: str | bytes) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


__all__ = ["Event", "RedisStream", "add_events", "decode_fields", "encode_event"]
