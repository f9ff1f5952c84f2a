"""The `Project` IR node and its numpy evaluation: River's `preprocessing.GaussianRandomProjector`,
`SparseRandomProjector` and `FeatureHasher`, frozen as a matrix over the columns they read.

River draws a projector's weights (or hashes a key) the first time it meets a key, at predict
time too: the extractors only export one whose row is closed (`compose.Select` in front), so
every key it can meet already has its weights, here. The arithmetic is `ir.arithmetic.project`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import Block, evaluates, gather
from .nodes import IRError, Transform, ir_node, require_columns


@ir_node
@dataclass(frozen=True)
class Project(Transform):
    """targets[t] = Σ_s weights[t][s] · sources[s] over the present sources (an empty sum is
    0.0; with `missing_when_empty`, a target none of whose sources is present is missing).
    Only the targets leave the step (River returns the projection alone).

    >>> Project(("x", "y"), ("0", "1"), ((0.5, -1.0), (0.0, 2.0)))
    """

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]  # [T][S]
    missing_when_empty: bool = False

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.targets):
            raise IRError("Project: weights and targets differ in length")
        if any(len(row) != len(self.sources) for row in self.weights):
            raise IRError("Project: a weight row does not match the sources")
        if len(set(self.targets)) != len(self.targets):
            raise IRError("Project: duplicate targets")
        if self.missing_when_empty and any(not any(row) for row in self.weights):
            raise IRError("Project: a target without a source would always be missing")

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        require_columns("Project", self.sources, inputs)
        return self.targets

    @property
    def matrix(self) -> np.ndarray:
        """W [S, T] (sources × targets), float64."""
        return np.asarray(self.weights, dtype=np.float64).reshape(
            len(self.targets), len(self.sources)).T

    @property
    def first_sources(self) -> tuple[str, ...]:
        """Each target's first source (a non-zero weight): missing exactly when every source of
        the target is, which `missing_when_empty` needs."""
        return tuple(self.sources[int(np.flatnonzero(row)[0])] for row in self.weights)


@evaluates(Project)
def _project(step: Project, block: Block) -> Block:
    X = gather(block, step.sources)
    first = gather(block, step.first_sources) if step.missing_when_empty else None
    return arithmetic.project(NUMPY, X, step.matrix, first), step.targets
