"""Hand frozen snapshots to one worker, coalescing when it is busy (never an unbounded queue).

At most one snapshot is being published and at most one waits: a newer snapshot replaces the
waiting one, whose callers get the newer one's result (what they asked for, or something newer).
The lock here is taken once per snapshot, never per event.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

from .freeze import Captured, Frozen, complete
from .publish import PublishResult, publish
from .store import Store

log = logging.getLogger(__name__)

def _warm_up() -> None:  # in a worker process: register the formats before the first job
    from ..converters import formats  # noqa: F401


def _publish(job: Captured | Frozen, *args):
    """The worker's half: finish the freeze of a captured state, then publish it."""
    return publish(complete(job) if isinstance(job, Captured) else job, *args)


def _publish_in_thread(*args):
    try:
        return _publish(*args)
    finally:
        _detach_jvm()


def _detach_jvm() -> None:
    """A thread that started (or attached to) the JVM must detach, or the process hangs at exit
    waiting for it (measured with JPype 1.7)."""
    jpype = sys.modules.get("jpype")
    if jpype is not None and jpype.isJVMStarted():
        jpype.java.lang.Thread.detach()


def make_executor(kind: str) -> Executor:
    """"thread" (default: shares the process, and its JVM) or "process" (a long-lived spawned
    worker: exports no longer compete with the loop for the GIL; formats must be importable)."""
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="estuary-publish")
    if kind == "process":
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_warm_up)
    raise ValueError(f"executor must be 'thread' or 'process', not {kind!r}")


class Publisher:
    """Runs `publish` for frozen snapshots on one worker; see the module docstring."""

    def __init__(self, store: Store, formats: Sequence[str] | None = None,
                 executor: str | Executor = "thread",
                 on_result: Callable[[PublishResult], None] | None = None):
        self.store = store
        self.formats = list(formats) if formats else None
        self._own = isinstance(executor, str)
        self.executor = make_executor(executor) if isinstance(executor, str) else executor
        self._lock = threading.RLock()  # a job may finish inside submit
        self._running = False
        self._pending: tuple[Captured | Frozen, list[Future]] | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self.submitted = self.coalesced = self.published = self.rejected = self.failed = 0
        self.last: PublishResult | None = None
        self.on_result = on_result  # called in the worker's callback thread

    def submit(self, frozen: Captured | Frozen) -> Future:
        """Publish `frozen` (or a captured state, frozen first in the worker) now, or after the running one (replacing any that waits)."""
        fut: Future = Future()
        with self._lock:
            self.submitted += 1
            if not self._running:
                self._running = True
                self._idle.clear()
                self._start(frozen, [fut])
            elif self._pending is None:
                self._pending = (frozen, [fut])
            else:
                self.coalesced += 1
                self._pending = (frozen, self._pending[1] + [fut])
        return fut

    def _start(self, frozen: Captured | Frozen, waiters: list[Future]) -> None:
        try:
            job = self._submit(frozen)
        except RuntimeError:
            if self._closed:
                raise
            # The interpreter is exiting: the executor takes no new job, but the snapshot the
            # user took last must still be published. Run it here, in the thread that
            # finished the previous one, which the interpreter joins before it exits.
            job = self._run_here(frozen)
        job.add_done_callback(lambda done: self._finished(done, waiters))

    def _submit(self, frozen: Captured | Frozen) -> Future:
        if isinstance(self.executor, ThreadPoolExecutor):
            return self.executor.submit(_publish_in_thread, frozen, self.store, self.formats,
                                        self.store.keep)
        return self.executor.submit(_publish, frozen, self.store.root, self.formats,
                                    self.store.keep)

    def _run_here(self, frozen: Captured | Frozen) -> Future:
        job: Future = Future()
        try:
            job.set_result(_publish_in_thread(frozen, self.store, self.formats, self.store.keep))
        except BaseException as error:  # reported through the future, as the executor would
            job.set_exception(error)
        return job

    def _finished(self, done: Future, waiters: list[Future]) -> None:
        error = done.exception()
        if error is None:
            result = done.result()
            self.last = result
            if result.published:
                self.published += 1
            else:
                self.rejected += 1
            log.info("%s", result.summary())
            if self.on_result is not None:
                try:
                    self.on_result(result)
                except Exception:  # a reporting hook must not stop publishing
                    log.exception("on_result hook failed")
        else:
            self.failed += 1
            log.error("publishing a snapshot failed: %r", error)
        for w in waiters:
            if error is None:
                w.set_result(result)
            else:
                w.set_exception(error)
        with self._lock:
            if self._pending is not None and self._closed:
                for w in self._pending[1]:
                    w.cancel()
                self._pending = None
            if self._pending is not None:
                frozen, next_waiters = self._pending
                self._pending = None
                self._start(frozen, next_waiters)
            else:
                self._running = False
                self._idle.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is running or waiting; False on timeout."""
        return self._idle.wait(timeout)

    def close(self, wait: bool = True) -> None:
        """Stop the worker: after every snapshot taken so far is published (`wait`), or at
        once, cancelling the one that waits."""
        if wait:
            self.wait()
        self._closed = True
        if self._own:
            self.executor.shutdown(wait=wait, cancel_futures=not wait)


__all__ = ["Publisher", "make_executor"]


