"""Chains of estimators, one per target, as an IR estimator, and its numpy evaluation: River's
`multioutput.ClassifierChain` and `RegressorChain` (and, with `feeds` off, the independent
members of `PerOutputClassifier` and `PerOutputRegressor`).

Member k reads the chain's input columns plus one column per earlier target, named after that
target, holding what River writes into the row: the earlier member's P(True) (a binary
classifier's `predict_proba_one(x)[True]`) or its prediction (a regressor). Each member is an
ordinary IR transform chain and estimator, so every node the formats already write can be a
member. The chain's output holds the members' outputs side by side: [P(False), P(True)] per
target (task `multilabel`) or one value per target (task `multitarget`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evaluate import ESTIMATOR_EVALUATORS, evaluates, gather, transform
from .nodes import Chain, Estimator, IRError, ir_node

KINDS = ("probabilities", "value")


@ir_node
@dataclass(frozen=True)
class EstimatorChain(Estimator):
    """Members applied in `targets` order, each fed the earlier targets' columns.

    >>> EstimatorChain(("a", "b"), ("y1", "y2"), (Chain(()), Chain(())),
    ...                (Linear(("a", "b"), ...), Linear(("a", "b", "y1"), ...)), "probabilities")
    """

    columns: tuple[str, ...]
    targets: tuple[str, ...]
    transforms: tuple[Chain, ...]
    estimators: tuple[Estimator, ...]
    kind: str  # "probabilities" (binary members: [P(False), P(True)] each) | "value"
    feeds: bool = True  # False: independent members (River's PerOutputClassifier / Regressor)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise IRError(f"EstimatorChain.kind must be one of {KINDS}, not {self.kind!r}")
        if not self.targets or not len(self.targets) == len(self.transforms) == len(
                self.estimators):
            raise IRError("EstimatorChain: one transform chain and one member per target")
        if len(set(self.targets)) != len(self.targets) or set(self.targets) & set(self.columns):
            raise IRError("EstimatorChain: targets must be distinct and not input columns")
        inputs = self.columns
        for target, chain, member in zip(self.targets, self.transforms, self.estimators):
            out = chain.output_columns(inputs)
            missing = [c for c in member.columns if c not in out]
            if missing:
                raise IRError(f"EstimatorChain: the member for {target!r} reads columns no "
                              f"step produces: {missing}")
            inputs = inputs + (target,) if self.feeds else inputs

    @property
    def width(self) -> int:
        """Output columns per target."""
        return 2 if self.kind == "probabilities" else 1


def fed(kind: str, out: np.ndarray) -> np.ndarray:
    """What River writes into the row for the next member: P(True), or the value, as [N, 1]."""
    return out[:, 1:2] if kind == "probabilities" else out.reshape(-1, 1)


@evaluates(EstimatorChain)
def _estimator_chain(est: EstimatorChain, Z: np.ndarray) -> np.ndarray:
    block = (Z, est.columns)
    outputs = []
    for target, chain, member in zip(est.targets, est.transforms, est.estimators):
        inner = transform(chain, block)
        out = ESTIMATOR_EVALUATORS[type(member)](member, gather(inner, member.columns))
        out = out.reshape(len(Z), est.width)
        outputs.append(out)
        if est.feeds:
            block = (np.hstack([block[0], fed(est.kind, out)]), block[1] + (target,))
    return np.hstack(outputs)


@ir_node
@dataclass(frozen=True)
class EncodedLabels(Estimator):
    """River's `MultiClassEncoder`: one multi-class `member` (after its `transform`) over the
    label combinations' codes, in its class order; `values[k][t]` is 1.0 where code k's value for
    target t is truthy. Output: [P(False), P(True)] per target (`arithmetic.encoded_labels`)."""

    columns: tuple[str, ...]
    targets: tuple[str, ...]
    transform: Chain
    member: Estimator
    values: tuple[tuple[float, ...], ...]  # [K][T]

    def __post_init__(self) -> None:
        if not self.targets or any(len(r) != len(self.targets) for r in self.values):
            raise IRError("EncodedLabels: one value per target for every code")
        if any(v not in (0.0, 1.0) for r in self.values for v in r):
            raise IRError("EncodedLabels: values are 0.0 or 1.0")
        out = self.transform.output_columns(self.columns)
        missing = [c for c in self.member.columns if c not in out]
        if missing:
            raise IRError(f"EncodedLabels: its member reads columns no step produces: {missing}")

    @property
    def table(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64).reshape(len(self.values), -1)


@evaluates(EncodedLabels)
def _encoded_labels(est: EncodedLabels, Z: np.ndarray) -> np.ndarray:
    from . import arithmetic

    inner = transform(est.transform, (Z, est.columns))
    p = ESTIMATOR_EVALUATORS[type(est.member)](est.member, gather(inner, est.member.columns))
    return arithmetic.encoded_labels(arithmetic.NUMPY, p, est.table)
