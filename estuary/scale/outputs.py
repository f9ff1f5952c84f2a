"""The columns a scored table gains, per task, read from the task table (`estuary.ir.tasks`) as
the HTTP server's /predict answers are: the Arrow engine (`estuary score`, Spark workers) and
the PostgreSQL functions name and fill them from here, so a model of any single-output task
scores everywhere and a new task needs no branch in them.

- `prediction`: the class or cluster id (a task with an index output: classification, cluster),
  else the main value (regression value, anomaly score, forecast, recommendation score);
- the per-class main output under its contract name (`probabilities`, `distances`), in the
  order of `classes`;
- a flag the artifact has (an anomaly filter's `is_anomaly`), as a boolean.

Per-target tasks (multilabel, multitarget: one output per target) are refused with
`WrongTaskError` naming what to use instead.

>>> [c.name for c in output_columns(TASKS["cluster"], ["cluster", "distances"])]
['prediction', 'distances']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ColumnClashError, WrongTaskError
from ..ir.tasks import Task


@dataclass(frozen=True)
class OutputColumn:
    """One added column: its name, the artifact output it reads, and what that holds."""

    name: str
    source: str
    kind: str  # "class" (an index into classes) | "value" | "per_class" | "flag" (0/1)


def output_columns(task: Task, outputs: Iterable[str]) -> list[OutputColumn]:
    """The columns a row scored by a model of `task` gains; `outputs` are the artifact's
    output names (optional ones, such as `is_anomaly`, are added only when present)."""
    if task.per_target:
        raise WrongTaskError(f"a {task.noun} (task {task.name}) has one output per target, "
                             "which batch scoring "
                             "does not lay out as columns yet: score it with "
                             "estuary.load(path).predict_many(rows) or the HTTP server's "
                             "/predict")
    if task.index:
        columns = [OutputColumn("prediction", task.index_output, "class"),
                   OutputColumn(task.output, task.output, "per_class")]
    else:
        columns = [OutputColumn("prediction", task.output, "value")]
    present = set(outputs)
    return columns + [OutputColumn(name, name, "flag") for name in task.optional
                      if name in present]


def refuse_clashes(existing: Iterable[str], added: Iterable[str]) -> None:
    """Raise `ColumnClashError` when the input already has a column scoring would add (any
    case: Spark resolves names case-insensitively), e.g. a table scored before."""
    have = {name.casefold(): name for name in existing}
    for name in added:
        if name.casefold() in have:
            raise ColumnClashError(have[name.casefold()],
                                   f"the input already has this column, and scoring adds "
                                   f"{name!r}: drop or rename it before scoring (a table "
                                   "scored before: select its input columns)")


__all__ = ["OutputColumn", "output_columns", "refuse_clashes"]
