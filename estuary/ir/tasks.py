"""The artifact contract per task: what an artifact outputs, and how wide its golden rows are.

Every layer (the IR's numpy evaluator, each format's output stage, each runtime, the parity
harness, the server) reads the task from this one table instead of testing
`task == "classification"`. An estimator's emitter returns its *internal* outputs by kind
(`probabilities`, `value`, `distances`, plus extra named outputs such as `is_anomaly`); the
output stage turns them into the artifact's outputs named here.

- classification: `label` int64 [N] (arg-max, first maximum) and `probabilities` [N, C].
- regression: `value` [N].
- anomaly: `score` [N], River's `score_one`; filters add `is_anomaly` int64 [N] (1/0).
- cluster: `distances` [N, K] to each centre as River measures them, and `cluster` int64 [N]:
  the index of the first minimum (River's `min` over its centres' dict order) into `classes`,
  which hold River's cluster ids.
- forecast: one input row per step ahead (a numeric `step` column, 1-based; the horizon is
  chosen at call time) and `forecast` [N].
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """One task's contract.

    `kind` is what the estimator computes (`probabilities`, `value` or `distances`); `output` the
    artifact's name for it; `index` the int64 output picked from it (`argmax`/`argmin`) and its
    name; `optional` the extra int64 outputs some models of the task add.
    """

    name: str
    kind: str
    output: str
    index: str = ""  # "argmax" | "argmin" | "" (none)
    index_output: str = ""
    optional: tuple[str, ...] = ()
    has_classes: bool = False  # classes (or cluster ids) in the metadata
    noun: str = ""  # what a model of the task is called in messages ("a classifier")

    def __post_init__(self) -> None:
        if not self.noun:
            object.__setattr__(self, "noun", f"{self.name} model")

    @property
    def outputs(self) -> tuple[str, ...]:
        """The outputs every artifact of this task has."""
        return (self.index_output, self.output) if self.index else (self.output,)

    @property
    def per_class(self) -> bool:
        """Whether the main output has one column per class (or centre)."""
        return self.kind in ("probabilities", "distances")

    def width(self, n_classes: int) -> int:
        """Width of the main output, and of a golden output row."""
        return n_classes if self.per_class else 1

    @property
    def min_classes(self) -> int:
        return {"probabilities": 2, "distances": 1}.get(self.kind, 0)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("classification", "probabilities", "probabilities", "argmax", "label",
             has_classes=True, noun="classifier"),
        Task("regression", "value", "value", noun="regressor"),
        Task("anomaly", "value", "score", optional=("is_anomaly",)),
        Task("cluster", "distances", "distances", "argmin", "cluster", has_classes=True),
        Task("forecast", "value", "forecast"),
    )
}


def task(name: str) -> Task:
    """The contract of task `name`; ValueError naming the known tasks otherwise."""
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"task {name!r} is not one of {sorted(TASKS)}") from None
