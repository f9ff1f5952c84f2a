"""Snapshot policies: when a Learner freezes its model. Composable with `|`.

A policy is asked after every `learn_one`, so `due` must be a few attribute reads: no locks, no
I/O. `EveryN(1000) | EveryT(60) | OnDrift()` snapshots when any of them says so.

>>> learner = Learner(model, store=store, policy=EveryN(500) | OnDrift())
"""

from __future__ import annotations

import time
from typing import Any


class Policy:
    """Base class. `needs_prediction` asks the Learner to predict before learning (drift)."""

    needs_prediction = False

    def due(self, n_events: int, y: Any, y_pred: Any) -> str | None:
        """The reason to snapshot now ("every 1000 events"), or None."""
        return None

    def reset(self, n_events: int) -> None:
        """Called after every snapshot, whatever triggered it."""

    def next_check(self, n_events: int) -> float:
        """The event count at which `due` must be asked next (the Learner skips the call
        before it: the hot path is then one integer comparison)."""
        return n_events + 1

    def __or__(self, other: Policy) -> AnyOf:
        return AnyOf(self, other)


class Manual(Policy):
    """Only `learner.snapshot()`: the default."""

    def next_check(self, n_events: int) -> float:
        return float("inf")


class EveryN(Policy):
    """Every `n` events learned since the last snapshot."""

    def __init__(self, n: int):
        if n < 1:
            raise ValueError(f"EveryN needs n >= 1, got {n}")
        self.n = n
        self._next = n

    def due(self, n_events: int, y: Any, y_pred: Any) -> str | None:
        return f"every {self.n} events" if n_events >= self._next else None

    def reset(self, n_events: int) -> None:
        self._next = n_events + self.n

    def next_check(self, n_events: int) -> float:
        return self._next


class EveryT(Policy):
    """Every `seconds` of wall time (checked when an event is learned, monotonic clock)."""

    def __init__(self, seconds: float, clock=time.monotonic):
        if seconds <= 0:
            raise ValueError(f"EveryT needs seconds > 0, got {seconds}")
        self.seconds = seconds
        self._clock = clock
        self._next = clock() + seconds

    def due(self, n_events: int, y: Any, y_pred: Any) -> str | None:
        return f"every {self.seconds:g} s" if self._clock() >= self._next else None

    def reset(self, n_events: int) -> None:
        self._next = self._clock() + self.seconds


class OnDrift(Policy):
    """When a River drift detector fires on the prequential error (predict, then learn).

    The error is 0/1 for classifiers and |y - ŷ| for regressors. Costs one `predict_one` per event.

    >>> OnDrift(drift.ADWIN(delta=0.002))
    """

    needs_prediction = True

    def __init__(self, detector: Any = None):
        if detector is None:
            from river import drift

            detector = drift.ADWIN()
        self.detector = detector
        self.n_drifts = 0

    def due(self, n_events: int, y: Any, y_pred: Any) -> str | None:
        if y_pred is None:
            return None  # the model could not predict yet: nothing to measure
        if isinstance(y, (bool, str)) or isinstance(y_pred, (bool, str)):
            error = float(y != y_pred)
        else:
            error = abs(float(y) - float(y_pred))
        self.detector.update(error)
        if self.detector.drift_detected:
            self.n_drifts += 1
            return f"drift ({type(self.detector).__name__})"
        return None


class AnyOf(Policy):
    """Due when any member is due; all members are reset after a snapshot."""

    def __init__(self, *policies: Policy):
        flat: list[Policy] = []
        for p in policies:
            flat += p.policies if isinstance(p, AnyOf) else [p]
        self.policies = tuple(flat)
        self.needs_prediction = any(p.needs_prediction for p in flat)

    def due(self, n_events: int, y: Any, y_pred: Any) -> str | None:
        reason = None
        for p in self.policies:  # every member sees every event (a drift detector must)
            reason = p.due(n_events, y, y_pred) or reason
        return reason

    def reset(self, n_events: int) -> None:
        for p in self.policies:
            p.reset(n_events)

    def next_check(self, n_events: int) -> float:
        return min(p.next_check(n_events) for p in self.policies)


__all__ = ["AnyOf", "EveryN", "EveryT", "Manual", "OnDrift", "Policy"]
