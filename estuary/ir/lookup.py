"""The `Lookup` IR node and its numpy evaluation: River's `feature_extraction.Agg` and
`TargetAgg`, a per-group statistic frozen at snapshot time and looked up by the row's group
(one categorical feature, whose one-hot columns pick the value).

The arithmetic is `ir.arithmetic.lookup`: Σ_j s_j · v_j + (1 - Σ_j s_j) · default, exact in
float64 because exactly one s_j is 1.0 (or none, for a group River has not met).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import Block, evaluates, gather
from .nodes import IRError, Transform, ir_node, require_columns


@ir_node
@dataclass(frozen=True)
class Lookup(Transform):
    """`target` = values[j] when one-hot column sources[j] is 1.0, `default` when every one is
    0.0 (a group River has not met: a fresh statistic's value), missing when they are missing.
    Only `target` leaves the step (River's Agg returns that one key).

    >>> Lookup("time_mean_by_diet", ("diet=1", "diet=2"), (10.5, 12.0), default=0.0)
    """

    target: str
    sources: tuple[str, ...]
    values: tuple[float, ...]
    default: float

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.values):
            raise IRError("Lookup: sources and values differ in length")
        if not all(math.isfinite(v) for v in (*self.values, self.default)):
            raise IRError("Lookup: values must be finite numbers")

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        require_columns("Lookup", self.sources, inputs)
        return (self.target,)

    @property
    def table(self) -> np.ndarray:
        """values as a [m, 1] matrix (the one-hot block times it picks the value)."""
        return np.asarray(self.values, dtype=np.float64).reshape(-1, 1)


@evaluates(Lookup)
def _lookup(step: Lookup, block: Block) -> Block:
    S = gather(block, step.sources)
    return arithmetic.lookup(NUMPY, S, step.table, step.default), (step.target,)
