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
- reco: a row holds `user` and `item` (categorical inputs); `score` [N], River's
  `predict_one(user, item)`.
- multilabel / multitarget (River's MultiLabelClassifier / MultiTargetRegressor: the chains):
  one set of outputs per target, named `<output>.<target>` (`classes` hold the targets, in
  River's order): multilabel `label.<t>` int64 [N] (0 = False, 1 = True: the first maximum, as
  River's `max` over `{False: .., True: ..}`) and `probabilities.<t>` [N, 2] ([P(False),
  P(True)]); multitarget `value.<t>` [N]. Golden rows hold every target's outputs side by side.
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
    api: str = "predict_one"  # the LoadedModel call to name when another task's is asked for
    per_target: bool = False  # one output per target (`classes` are the targets)

    def __post_init__(self) -> None:
        if not self.noun:
            object.__setattr__(self, "noun", f"{self.name} model")

    @property
    def outputs(self) -> tuple[str, ...]:
        """The outputs every artifact of this task has (per-target tasks: `target_outputs`)."""
        if self.per_target:
            return ()
        return (self.index_output, self.output) if self.index else (self.output,)

    @property
    def target_width(self) -> int:
        """Columns of the main output per target: [P(False), P(True)], or the value."""
        return 2 if self.kind == "probabilities" else 1

    def target_outputs(self, targets: tuple) -> list[tuple[str, str, int]]:
        """(name, what, first column in the main output) of every output of a per-target task:
        `what` is "label" (the arg-max of the target's two probabilities), "probabilities"
        or "value"."""
        out = []
        for k, t in enumerate(targets):
            start = k * self.target_width
            if self.kind == "probabilities":
                out.append((f"label.{t}", "label", start))
            out.append((f"{self.output}.{t}", self.kind, start))
        return out

    @property
    def per_class(self) -> bool:
        """Whether the main output has one column per class (or centre)."""
        return self.kind in ("probabilities", "distances")

    def width(self, n_classes: int) -> int:
        """Width of the main output, and of a golden output row."""
        if self.per_target:
            return n_classes * self.target_width
        return n_classes if self.per_class else 1

    @property
    def min_classes(self) -> int:
        if self.per_target:
            return 1
        return {"probabilities": 2, "distances": 1}.get(self.kind, 0)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("classification", "probabilities", "probabilities", "argmax", "label",
             has_classes=True, noun="classifier", api="predict_one or predict_proba_one"),
        Task("regression", "value", "value", noun="regressor"),
        Task("anomaly", "value", "score", optional=("is_anomaly",), api="score_one"),
        Task("cluster", "distances", "distances", "argmin", "cluster", has_classes=True),
        Task("forecast", "value", "forecast", api="forecast(horizon)"),
        Task("reco", "value", "score", noun="recommender",
             api="predict_one(user, item) or rank(user, items)"),
        Task("multilabel", "probabilities", "probabilities", has_classes=True,
             noun="multi-label classifier", per_target=True,
             api="predict_one or predict_proba_one"),
        Task("multitarget", "value", "value", has_classes=True, noun="multi-target regressor",
             per_target=True),
    )
}


def task(name: str) -> Task:
    """The contract of task `name`; ValueError naming the known tasks otherwise."""
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"task {name!r} is not one of {sorted(TASKS)}") from None
