"""Feature-construction IR nodes and their numpy evaluation: `Ordinal` (River's
`preprocessing.OrdinalEncoder`) and `Polynomial` (`feature_extraction.PolynomialExtender`).

Both read named columns and return named columns, like every transform; a missing value (NaN)
stays missing, as River leaves the key out of its output dict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evaluate import Block, evaluates, gather
from .nodes import IRError, Transform, ir_node, require_columns


@ir_node
@dataclass(frozen=True)
class Ordinal(Transform):
    """One integer code column per categorical feature, from that feature's one-hot columns.

    target_k = unknown + Σ_j source_kj · (code_kj - unknown): the code of the category whose
    column is 1.0, `unknown` when every column is 0.0 (an unseen category), NaN when the feature
    is missing (its columns are NaN; any NaN makes the code NaN).

    >>> Ordinal(("diet",), (("diet=1", "diet=2"),), ((1, 2),), unknown=0)
    """

    targets: tuple[str, ...]
    sources: tuple[tuple[str, ...], ...]  # [K][m_k] one-hot input columns of feature k
    codes: tuple[tuple[int, ...], ...]  # [K][m_k] River's code of each of those categories
    unknown: int

    def __post_init__(self) -> None:
        if not len(self.targets) == len(self.sources) == len(self.codes):
            raise IRError("Ordinal: targets, sources and codes differ in length")
        if len(set(self.targets)) != len(self.targets):
            raise IRError("Ordinal: duplicate target columns")
        for src, codes in zip(self.sources, self.codes):
            if len(src) != len(codes):
                raise IRError("Ordinal: a feature's sources and codes differ in length")

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        require_columns("Ordinal", (c for src in self.sources for c in src), inputs)
        return self.targets


@ir_node
@dataclass(frozen=True)
class Polynomial(Transform):
    """out_k = Π_j factors_kj, multiplied left to right (a product with a missing factor is
    missing: River leaves the key out); then, when `bias` is not empty, a column of that name
    that is always 1.0.

    >>> Polynomial(("x", "x*y"), (("x",), ("x", "y")), bias="bias")
    """

    columns: tuple[str, ...]  # output names, in order (bias excluded)
    factors: tuple[tuple[str, ...], ...]  # [K][degree_k] input columns to multiply
    bias: str = ""

    def __post_init__(self) -> None:
        if len(self.columns) != len(self.factors):
            raise IRError("Polynomial: columns and factors differ in length")
        if any(not f for f in self.factors):
            raise IRError("Polynomial: a product without factors")
        names = (*self.columns, self.bias) if self.bias else self.columns
        if len(set(names)) != len(names):
            raise IRError("Polynomial: duplicate output columns")

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        require_columns("Polynomial", (c for f in self.factors for c in f), inputs)
        return (*self.columns, self.bias) if self.bias else self.columns

    @property
    def degree(self) -> int:
        return max((len(f) for f in self.factors), default=0)


@evaluates(Ordinal)
def _ordinal(step: Ordinal, block: Block) -> Block:
    n = block[0].shape[0]
    out = np.empty((n, len(step.targets)))
    for k, (src, codes) in enumerate(zip(step.sources, step.codes)):
        delta = np.asarray(codes, dtype=np.float64) - step.unknown
        out[:, k] = step.unknown + gather(block, src) @ delta  # NaN · 0 is NaN: missing stays
    return out, step.targets


@evaluates(Polynomial)
def _polynomial(step: Polynomial, block: Block) -> Block:
    n = block[0].shape[0]
    parts = []
    with np.errstate(over="ignore", invalid="ignore"):
        for factors in step.factors:
            X = gather(block, factors)
            p = X[:, 0].copy()
            for j in range(1, X.shape[1]):
                p = p * X[:, j]
            parts.append(p)
    if step.bias:
        parts.append(np.ones(n))
    X = np.stack(parts, axis=1) if parts else np.zeros((n, 0))
    return X, step.output_columns(block[1])


def block_matrix(sizes: list[int], values: list | None = None) -> np.ndarray:
    """[Σ sizes, len(sizes)]: column k holds group k's values (1.0 if none) in its own rows; the
    matrix formats use it to sum each feature's one-hot columns into its code."""
    M = np.zeros((sum(sizes), len(sizes)))
    row = 0
    for k, size in enumerate(sizes):
        M[row:row + size, k] = 1.0 if values is None else values[k]
        row += size
    return M
