"""`Learner`: a River model that snapshots itself into a versioned store as it learns.

`learn_one` is River's `learn_one` plus a counter, a ring-buffer append and a policy check: no
locks and no I/O (for a bare Hoeffding tree classifier, also the read of the leaf the event
reached, ~15 µs, so that a capture reads only what learned: `river_to_ir.capture`). When the policy says so, the loop captures the model's state (`capture`:
only what changed since the last snapshot is copied) and hands it to a worker that freezes it
(IR + River's own outputs on the probe rows, from the captured copy), exports, verifies and
publishes.

>>> learner = Learner(model, store=Store("models"), policy=EveryN(1000))
>>> for x, y in stream:
...     learner.learn_one(x, y)
>>> learner.close()  # waits for the last export
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

from ..converters.river_to_ir.capture import Capturer
from ..converters.river_to_ir.learning import final_step, learn, learning_mode, scored_row
from .admit import admit
from .checkpoint import Checkpoint, CheckpointDir
from .freeze import Captured, Frozen, capture, complete
from .policy import EveryN, EveryT, Manual, Policy
from .publish import PublishResult
from .store import Store
from .worker import Publisher

_NO_WEIGHT = object()


class Learner:
    """Wraps a River model; see the module docstring.

    The last `recent` events (rounded up to a power of two) are kept, by reference (do not
    mutate rows after learning them), as probe rows next to the fixed `probe` rows and at most `generated` adversarial rows.
    `metric` (a River metric) is updated prequentially and lands in each manifest; like
    `OnDrift`, it costs one `predict_one` per event. `on_result(PublishResult)` is called from
    the worker's thread after each snapshot is published or rejected.

    Training checkpoints (`estuary.online.checkpoint`): with `checkpoints=CheckpointDir(...)`
    the model is checkpointed every `checkpoint_every` events, every `checkpoint_seconds`, and
    (`checkpoint_on_snapshot`) at each snapshot; `position()` (set by the loop) gives the
    source offsets stored beside it. `resume()` loads the newest checkpoint that verifies.

    `gc_freeze=True`: after each capture (each snapshot), `gc.freeze()` moves every live
    object (the model's included) out of CPython's collector generations, so later full
    collections, which walk a big tree's ~200k objects (100+ ms, in bare River's learn_one as much as in a snapshot),
    skip them (`benchmarks/stall.py`). Process-wide and never undone: for a process that keeps
    one long-lived model; objects frozen this way are still freed by reference counting, but
    never by the cycle collector.
    """

    def __init__(self, model: Any, *, store: Store | str | Path | None = None,
                 policy: Policy | None = None, formats: Sequence[str] | None = None,
                 probe: Sequence[Mapping] = (), recent: int = 32, generated: int = 48,
                 metric: Any = None, executor: str | Executor = "thread", keep: int = 10,
                 on_result: Callable[[PublishResult], None] | None = None,
                 checkpoints: CheckpointDir | None = None, checkpoint_every: int | None = None,
                 checkpoint_seconds: float | None = None, checkpoint_on_snapshot: bool = True,
                 gc_freeze: bool = False):
        admit(model, publishes=store is not None)  # NotAModelError, UnsupportedModelError
        self.model = model
        self.policy = policy or Manual()
        self.store = store if isinstance(store, Store) or store is None else Store(store, keep)
        self.formats = list(formats) if formats else None
        self.probe = [dict(r) for r in probe]
        self.generated = generated
        self.gc_freeze = gc_freeze
        self.metric = metric
        self.n_events = 0
        self.n_snapshots = 0
        self.history: deque[tuple[int, str, float]] = deque(maxlen=1000)  # (events, reason, stall ms)
        size = 1 << max(0, recent - 1).bit_length()  # recent rounded up to a power of two
        self._ring: list = [None] * size
        self._mask = size - 1
        self.checkpoints = checkpoints
        self.checkpoint_on_snapshot = checkpoint_on_snapshot and checkpoints is not None
        self._ckpt_policy = _checkpoint_policy(checkpoints, checkpoint_every, checkpoint_seconds)
        self.position: Callable[[], dict[str, Any]] | None = None  # source offsets, for checkpoints
        self._check_at = self._next_check(0)
        # River's learn_one differs by task (anomaly detectors and clusterers take x alone,
        # forecasters y then x): `learning.learn` calls it right, off the classifiers' path
        self.mode = learning_mode(model)
        if self.mode != "supervised":
            self.learn_one = self._learn_as_task  # type: ignore[method-assign]
        if self.policy.needs_prediction or metric is not None:
            self.learn_one = self._learn_predicting  # type: ignore[method-assign]
        self._started = time.monotonic()
        self._capturer = Capturer()
        self._track()
        self._executor = executor
        self._publisher: Publisher | None = None
        self.on_result = on_result

    # ---------------------------------------------------------------------------- hot path

    def learn_one(self, x: dict, y: Any = None, *, w: Any = _NO_WEIGHT) -> None:
        if w is _NO_WEIGHT:  # no **kwargs: packing them would cost more than the rest
            self.model.learn_one(x, y)
        else:
            self.model.learn_one(x, y, w=w)
        n = self.n_events = self.n_events + 1
        self._ring[n & self._mask] = x  # the recent events: a power-of-two ring buffer
        if n >= self._check_at:  # EveryN / Manual: the policy is not even called before
            self._check(n, y, None)

    def _track(self) -> None:
        """A bare Hoeffding tree: each event's path is recorded, so that a capture reads only
        the nodes those events went through (`river_to_ir.capture`)."""
        tracker = self._capturer.track(self.model) if self.mode == "supervised" else None
        self._learned = None if tracker is None else tracker.learned
        plain = self.__dict__.get("learn_one") in (None, self._learn_tracked)
        if plain:  # not `_learn_as_task` nor `_learn_predicting`, which call `_learned` too
            self.__dict__.pop("learn_one", None)
            if tracker is not None:
                self.learn_one = self._learn_tracked  # type: ignore[method-assign]

    def _learn_tracked(self, x: dict, y: Any = None, *, w: Any = _NO_WEIGHT) -> None:
        """`learn_one` for a bare Hoeffding tree: also records the nodes x went through."""
        if w is _NO_WEIGHT:
            self.model.learn_one(x, y)
            self._learned(x, y)
        else:
            self.model.learn_one(x, y, w=w)
            self._learned(x, y, w)
        n = self.n_events = self.n_events + 1
        self._ring[n & self._mask] = x
        if n >= self._check_at:
            self._check(n, y, None)

    def _learn_as_task(self, x: dict, y: Any = None, *, w: Any = _NO_WEIGHT) -> None:
        """`learn_one` for anomaly detectors, clusterers and forecasters (`self.mode`); the
        ring keeps the row their artifact reads (`{"y": y}`, `{"step": 1}` or x)."""
        learn(self.model, x, y, self.mode)
        n = self.n_events = self.n_events + 1
        self._ring[n & self._mask] = scored_row(self.mode, x, y)
        if n >= self._check_at:
            self._check(n, y, None)

    def _answer(self, x: dict, y: Any) -> Any:
        """River's answer before learning the event, per task: a prediction, an anomaly
        score, a cluster id, or the one-step-ahead forecast."""
        if self.mode == "supervised":
            return self.model.predict_one(x)
        if self.mode == "target":
            return self.model.score_one(None, y)
        if self.mode == "forecast":
            try:
                return self.model.forecast(horizon=1)[0]
            except Exception:  # River cannot forecast before it has seen enough
                return None
        last = final_step(self.model)
        return self.model.score_one(x) if hasattr(last, "score_one") else self.model.predict_one(x)

    def _learn_predicting(self, x: dict, y: Any = None, *, w: Any = _NO_WEIGHT) -> None:
        y_pred = self._answer(x, y)  # prequential: predict, then learn
        if self.metric is not None and y_pred is not None:
            self.metric.update(y, y_pred)
        if self.mode != "supervised":
            learn(self.model, x, y, self.mode)
        elif w is _NO_WEIGHT:
            self.model.learn_one(x, y)
        else:
            self.model.learn_one(x, y, w=w)
        if self._learned is not None:
            self._learned(x, y, 1.0 if w is _NO_WEIGHT else w)
        n = self.n_events = self.n_events + 1
        self._ring[n & self._mask] = x if self.mode == "supervised" else scored_row(
            self.mode, x, y)
        self._check(n, y, y_pred)

    def recent(self) -> list[dict]:
        """The last events learned (at most `recent`, oldest first)."""
        n, size = self.n_events, len(self._ring)
        rows = [self._ring[i & self._mask] for i in range(max(1, n - size + 1), n + 1)]
        return [r for r in rows if r is not None]  # after `resume`, only those learned since

    def _check(self, n: int, y: Any, y_pred: Any) -> None:
        reason = self.policy.due(n, y, y_pred)
        if reason is not None:
            self._snapshot(reason)  # resets the policy (and checkpoints, on snapshot)
        ckpt = self._ckpt_policy
        if ckpt is not None and ckpt.due(n, y, y_pred) is not None:
            self.checkpoint()
        self._check_at = self._next_check(n)

    def _next_check(self, n: int) -> float:
        if self._ckpt_policy is None:
            return self.policy.next_check(n)
        return min(self.policy.next_check(n), self._ckpt_policy.next_check(n))

    def predict_one(self, x: dict, **kwargs: Any) -> Any:
        return self.model.predict_one(x, **kwargs)

    def predict_proba_one(self, x: dict, **kwargs: Any) -> dict:
        return self.model.predict_proba_one(x, **kwargs)

    # ---------------------------------------------------------------------------- snapshots

    def snapshot(self, reason: str = "manual") -> Future:
        """Freeze now (on this thread) and publish in the worker. The future gives the
        `PublishResult` of this snapshot, or of a newer one that replaced it while waiting."""
        return self._snapshot(reason)

    def freeze(self, reason: str = "manual") -> Frozen:
        """`capture` then, on this thread too, what the worker does with it: the IR and River's
        outputs on the probe rows (`Frozen.stall_ms` is the capture's part)."""
        return complete(self.capture(reason))

    def capture(self, reason: str = "manual") -> Captured:
        """The on-loop part of a snapshot: the model's state now, copying only what changed
        since the last capture (`river_to_ir.capture`); `snapshot` hands it to the worker."""
        captured = capture(self._capturer, self.model, self.probe + self.recent(),
                           budget=self.generated, n_events=self.n_events, reason=reason,
                           rotation=self.n_snapshots, metrics=self._metrics())
        if self.gc_freeze:  # the class docstring: out of every later full collection
            gc.freeze()
        self.n_snapshots += 1
        self.history.append((self.n_events, reason, captured.stall_ms))
        self.policy.reset(self.n_events)
        if self.checkpoint_on_snapshot:  # the model as the capture pickled it, if it did
            self._checkpoint(captured.state.pickled())
        self._check_at = self._next_check(self.n_events)
        return captured

    def _snapshot(self, reason: str) -> Future:
        if self.store is None:
            raise ValueError("this Learner has no store: pass store=Store(path) to publish")
        return self._worker().submit(self.capture(reason))

    # ---------------------------------------------------------------------------- checkpoints

    def checkpoint(self) -> Future:
        """Checkpoint the model, the metric and the position now (pickled on this thread,
        written by the checkpoint writer); the future gives the file's path."""
        return self._checkpoint(None)

    def _checkpoint(self, pickled: Any | None) -> Future:
        """`checkpoint`, with the model as the pickle a capture just made of it
        (`Capture.pickled`), if it did: stored as it is, it loads as the model."""
        if self.checkpoints is None:
            raise ValueError("this Learner has no checkpoints: pass checkpoints=CheckpointDir(path)")
        offsets = self.position() if self.position is not None else {}
        model = self.model if pickled is None else pickled
        fut = self.checkpoints.save((model, self.metric), self.n_events, offsets,
                                    {"n_snapshots": self.n_snapshots})
        if self._ckpt_policy is not None:
            self._ckpt_policy.reset(self.n_events)
        return fut

    def resume(self) -> Checkpoint | None:
        """Replace the model (and metric) by the newest checkpoint that verifies and continue
        counting from its position; returns it (its `offsets` say where the source resumes), or
        None when there is none. A refused file raises nothing here: it is skipped, and listed
        in `checkpoints.refused`."""
        if self.checkpoints is None:
            raise ValueError("this Learner has no checkpoints: pass checkpoints=CheckpointDir(path)")
        ckpt = self.checkpoints.latest()
        if ckpt is None:
            return None
        self.model, metric = ckpt.model
        self._track()
        if self.metric is not None and metric is not None:
            self.metric = metric
        self.n_events = ckpt.n_events
        self.n_snapshots = int(ckpt.extra.get("n_snapshots", 0))
        self.policy.reset(self.n_events)
        if self._ckpt_policy is not None:
            self._ckpt_policy.reset(self.n_events)
        self._check_at = self._next_check(self.n_events)
        return ckpt

    def _metrics(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._started
        out: dict[str, Any] = {"events": self.n_events,
                               "events_per_second": round(self.n_events / elapsed, 1) if elapsed else None}
        if self.metric is not None:
            value = self.metric.get()
            out[type(self.metric).__name__] = float(value) if value == value else None
        drifts = [p for p in getattr(self.policy, "policies", (self.policy,))
                  if hasattr(p, "n_drifts")]
        if drifts:
            out["drifts"] = sum(p.n_drifts for p in drifts)
        if self._publisher is not None:
            p = self._publisher
            out.update(snapshots=p.submitted, coalesced=p.coalesced, rejected=p.rejected)
        return out

    def _worker(self) -> Publisher:
        if self._publisher is None:
            self._publisher = Publisher(self.store, self.formats, self._executor, self.on_result)
        return self._publisher

    @property
    def stalls_ms(self) -> list[float]:
        """How long each recent snapshot held the caller's loop."""
        return [stall for _, _, stall in self.history]

    @property
    def publisher(self) -> Publisher | None:
        return self._publisher

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every snapshot taken so far is published or rejected."""
        return True if self._publisher is None else self._publisher.wait(timeout)

    def close(self) -> None:
        """Wait for the exports in flight and stop the worker."""
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
        if self.checkpoints is not None:
            self.checkpoints.flush()

    def __enter__(self) -> Learner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------------------- asyncio

    async def alearn_one(self, x: dict, y: Any = None, *, w: Any = _NO_WEIGHT) -> None:
        """`learn_one` for coroutines: learning and freezing run inline (they are bounded);
        exports run in the worker, never on the event loop."""
        self.learn_one(x, y, w=w)

    async def asnapshot(self, reason: str = "manual"):
        """Snapshot and await its `PublishResult`."""
        return await asyncio.wrap_future(self.snapshot(reason))

    async def aflush(self) -> None:
        if self._publisher is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._publisher.wait)

    async def alearn_many(self, events: AsyncIterable | Iterable, yield_every: int = 256) -> int:
        """Learn from an async (or plain) iterable of `(x, y)` pairs or objects with `.x`/`.y`,
        giving the event loop a turn every `yield_every` events. Returns the count learned."""
        n = 0
        if not hasattr(events, "__aiter__"):
            events = _aiter(events)
        async for event in events:
            x, y = (event.x, event.y) if hasattr(event, "x") else event
            self.learn_one(x, y)
            n += 1
            if n % yield_every == 0:
                await asyncio.sleep(0)
        return n


def _checkpoint_policy(checkpoints: CheckpointDir | None, every: int | None,
                       seconds: float | None) -> Policy | None:
    if checkpoints is None:
        if every or seconds:
            raise ValueError("checkpoint_every / checkpoint_seconds need checkpoints=CheckpointDir(path)")
        return None
    members: list[Policy] = ([EveryN(every)] if every else []) + ([EveryT(seconds)] if seconds else [])
    if not members:
        return None
    return members[0] if len(members) == 1 else members[0] | members[1]


async def _aiter(items: Iterable):
    for item in items:
        yield item


__all__ = ["Learner"]
