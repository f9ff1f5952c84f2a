"""One model per key inside a Kafka partition (per-tenant, per-device models).

`PartitionedLearner(..., key_field="tenant")` gives each partition a `KeyedPartition`: a
`Learner` per value of the event's `tenant` field (taken out of the features), each publishing
its own verified versions as the named model `name_template.format(topic=, partition=, key=)`
(default `<topic>-<key>`: catalog.py's layout, so one `estuary serve STORE` serves every
tenant). The partition's learners are checkpointed together, in one signed file holding every
key's model at one offset: a partition that moves resumes all its keys from the same point, so
each key's model still sees each of its events once, as with one learner per partition.

Keep a key in one partition (produce with the key as the Kafka message key, which is what
Kafka's default partitioner hashes): two partitions learning the same key would publish two
models under one name. With `name_template="{topic}-{partition}-{key}"` they stay apart.

>>> group = PartitionedLearner(..., key_field="tenant")  # STORE/events-acme, STORE/events-zeta
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from .catalog import check_name
from .checkpoint import Checkpoint, CheckpointDir, CheckpointError
from .learner import Learner


def key_of(x: dict, field: str) -> str:
    """The key of an event's features `x` (a string or an integer in `field`), as text;
    ValueError (the event goes to the dead letters) when it has none."""
    key = x.get(field)
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise ValueError(f"no {field!r} key: each event names its model by a string or an "
                         f"integer in {field!r} (got {type(key).__name__})")
    return str(key)


class _Share:
    """One key's share of the partition's checkpoint, handed to `Learner.resume` as if it were
    the key's own (already verified: it was read from the partition's signed file)."""

    def __init__(self, ckpt: Checkpoint):
        self.ckpt = ckpt

    def latest(self) -> Checkpoint:
        return self.ckpt


class KeyedPartition:
    """The learners of one partition, one per key; the interface `PartitionedLearner` drives
    (learn_one, checkpoint, resume, snapshot, close, `checkpoints`, `position`)."""

    def __init__(self, field: str, name_of: Callable[[str], str],
                 make_learner: Callable[[str], Learner], checkpoints: CheckpointDir,
                 checkpoint_every: int):
        self.field, self.name_of, self.make_learner = field, name_of, make_learner
        self.checkpoints, self.checkpoint_every = checkpoints, checkpoint_every
        self.learners: dict[str, Learner] = {}
        self.n_events = 0
        self.position: Callable[[], dict[str, Any]] | None = None
        self._next_checkpoint = checkpoint_every

    def name(self, key: str) -> str:
        """The model name of `key` (ModelNameError, a ValueError, when it cannot be one)."""
        return check_name(self.name_of(key))

    def learner(self, key: str) -> Learner:
        learner = self.learners.get(key)
        if learner is None:
            learner = self.learners[key] = self.make_learner(self.name(key))
        return learner

    def learn_one(self, x: dict, y: Any) -> None:
        """Learn one event with its key's model (the key is not a feature: it is taken out)."""
        key = key_of(x, self.field)
        features = {k: v for k, v in x.items() if k != self.field}
        self.learner(key).learn_one(features, y)
        self.n_events += 1
        if self.n_events >= self._next_checkpoint:
            self.checkpoint()

    def checkpoint(self) -> Future:
        """Every key's model, metric and count at this position, in one signed file."""
        state = {key: (lrn.model, lrn.metric, lrn.n_events, lrn.n_snapshots)
                 for key, lrn in self.learners.items()}
        offsets = self.position() if self.position is not None else {}
        self._next_checkpoint = self.n_events + self.checkpoint_every
        return self.checkpoints.save(state, self.n_events, offsets, {"keyed": self.field})

    def resume(self) -> Checkpoint | None:
        """Every key's model from the partition's newest checkpoint that verifies (None: there
        is none). A checkpoint written by one learner for the whole partition is refused."""
        ckpt = self.checkpoints.latest()
        if ckpt is None:
            return None
        if ckpt.extra.get("keyed") != self.field:
            raise CheckpointError(f"{ckpt.path} was not written by learners keyed by "
                                  f"{self.field!r}: give them a checkpoint directory of their "
                                  "own")
        for key, (model, metric, n_events, n_snapshots) in ckpt.model.items():
            learner = self.learner(key)
            learner.checkpoints = _Share(Checkpoint(
                (model, metric), n_events, ckpt.offsets, ckpt.seq, ckpt.created_at, ckpt.path,
                {"n_snapshots": n_snapshots}))
            try:
                learner.resume()
            finally:
                learner.checkpoints = None
        self.n_events = ckpt.n_events
        self._next_checkpoint = self.n_events + self.checkpoint_every
        return ckpt

    def snapshot(self, reason: str = "manual") -> list[Future]:
        """Publish every key's model that learned something, then checkpoint."""
        done = [lrn.snapshot(reason) for lrn in self.learners.values() if lrn.n_events]
        self.checkpoint()
        return done

    def close(self) -> None:
        for learner in self.learners.values():
            learner.close()
        self.checkpoints.flush()


__all__ = ["KeyedPartition", "key_of"]
