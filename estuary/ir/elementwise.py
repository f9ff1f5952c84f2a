"""Element-wise and row-wise transform IR nodes and their numpy evaluation: `Fill` (River's
`preprocessing.StatImputer`), `Binarize` (`preprocessing.Binarizer`) and `Normalize`
(`preprocessing.Normalizer`).

Each passes every column it receives on, in order, as River copies the row and rewrites some
keys. The arithmetic is `ir.arithmetic.fill_missing`, `binarize` and `l2_normalize`: the numpy
evaluator and the formats call the same formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import Block, evaluates
from .nodes import IRError, Transform, ir_node, require_columns


def _passes_through(step, inputs: tuple[str, ...]) -> tuple[str, ...]:
    require_columns(type(step).__name__, step.columns, inputs)
    return inputs


@ir_node
@dataclass(frozen=True)
class Fill(Transform):
    """A missing (NaN) value of column `columns[k]` becomes `values[k]`; every other column
    and every present value passes unchanged.

    >>> Fill(("temperature",), (4.5,))
    """

    columns: tuple[str, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.columns) != len(self.values):
            raise IRError("Fill: columns and values differ in length")
        if len(set(self.columns)) != len(self.columns):
            raise IRError("Fill: duplicate columns")
        if any(not math.isfinite(v) for v in self.values):
            raise IRError("Fill: a fill value must be a finite number")

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        return _passes_through(self, inputs)

    def vector(self, inputs: tuple[str, ...]) -> np.ndarray:
        """The fill value of every input column, NaN where the column is not filled (a NaN
        filled with NaN stays NaN): one constant for the targets that work on whole rows."""
        fills = dict(zip(self.columns, self.values))
        return np.array([fills.get(c, math.nan) for c in inputs], dtype=np.float64)


@ir_node
@dataclass(frozen=True)
class Binarize(Transform):
    """Column `c` in `columns` becomes 1.0 where c > threshold, else 0.0; a missing value stays
    missing; the other columns pass unchanged.

    >>> Binarize(("x1", "x2"), threshold=0.0)
    """

    columns: tuple[str, ...]
    threshold: float = 0.0

    def __post_init__(self) -> None:
        if len(set(self.columns)) != len(self.columns):
            raise IRError("Binarize: duplicate columns")
        if not math.isfinite(self.threshold):
            raise IRError("Binarize: the threshold must be a finite number")

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        return _passes_through(self, inputs)

    def mask(self, inputs: tuple[str, ...]) -> np.ndarray:
        """True for the input columns that are binarised."""
        wanted = set(self.columns)
        return np.array([c in wanted for c in inputs], dtype=bool)


@ir_node
@dataclass(frozen=True)
class Normalize(Transform):
    """Every column divided by the row's L2 norm over its present values (River's
    `np.linalg.norm` of the row's values); a missing value stays missing. It reads the whole
    row, so it must receive exactly its columns, and no key outside them may reach it (the
    extractor checks that River's row is closed).

    >>> Normalize(("x1", "x2"))
    """

    columns: tuple[str, ...]

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        if inputs != self.columns:
            raise IRError("Normalize must receive exactly its own columns, in order")
        return self.columns


@evaluates(Fill)
def _fill(step: Fill, block: Block) -> Block:
    X, names = block
    return arithmetic.fill_missing(NUMPY, X, NUMPY.const(step.vector(names))), names


@evaluates(Binarize)
def _binarize(step: Binarize, block: Block) -> Block:
    X, names = block
    out = arithmetic.binarize(NUMPY, X, step.threshold)
    return NUMPY.where(step.mask(names), out, X), names


@evaluates(Normalize)
def _normalize(step: Normalize, block: Block) -> Block:
    X, names = block
    return arithmetic.l2_normalize(NUMPY, X), step.output_columns(names)
