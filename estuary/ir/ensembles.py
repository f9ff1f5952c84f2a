"""Ensemble IR: members (each with its own transforms) combined as River's ARF and bagging do.

A `Member` reads the ensemble's columns through its own `transform` (a bagged pipeline keeps one
scaler per member) and returns what its estimator returns. Classifier members' probability
columns are placed in the ensemble's class order by `class_index` (a class a member never saw
counts 0, as a key absent from its probability dict).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import ESTIMATOR_EVALUATORS, evaluates, gather, transform
from .nodes import Chain, Estimator, IRError, ir_node


@ir_node
@dataclass(frozen=True)
class Member:
    transform: Chain
    estimator: Estimator
    class_index: tuple[int, ...] = ()  # classifiers: ensemble class of each output column


@ir_node
@dataclass(frozen=True)
class EnsembleClassifier(Estimator):
    """p = Σ_m weights[m] · p_m (in member order), then p / Σ_k p_k when that total is > 0, else
    p as is (River's `Counter` sum and its `proba / total`). A weight of 1.0 is "unweighted"."""

    columns: tuple[str, ...]
    members: tuple[Member, ...]
    weights: tuple[float, ...]
    n_classes: int

    def __post_init__(self) -> None:
        if not self.members or len(self.weights) != len(self.members):
            raise IRError("EnsembleClassifier: no members, or weights do not match them")
        for m in self.members:
            if any(not 0 <= k < self.n_classes for k in m.class_index):
                raise IRError("EnsembleClassifier: a member's class_index is out of range")

    def thresholds(self) -> dict[str, tuple[float, ...]]:
        return member_thresholds(self.members)

    def split_probes(self, Z: np.ndarray) -> list[tuple[str, float, int]]:
        return member_split_probes(self.members, self.columns, Z)


@ir_node
@dataclass(frozen=True)
class EnsembleRegressor(Estimator):
    """`mean`: value = (Σ_m weights[m] · y_m) / divisor: River's ARF (normalised weights, then
    the mean over members) and bagging (weights 1, divisor = number of members).
    `median`: numpy's median of the member outputs (the mean of the middle two for an even
    count); weights take no part (River's ARF median is unweighted)."""

    columns: tuple[str, ...]
    members: tuple[Member, ...]
    weights: tuple[float, ...]
    divisor: float
    combine: str = "mean"  # "mean" | "median"

    def __post_init__(self) -> None:
        if not self.members or len(self.weights) != len(self.members):
            raise IRError("EnsembleRegressor: no members, or weights do not match them")
        if not self.divisor > 0:
            raise IRError("EnsembleRegressor: divisor must be > 0")
        if self.combine not in ("mean", "median"):
            raise IRError("EnsembleRegressor: combine must be mean or median")

    def thresholds(self) -> dict[str, tuple[float, ...]]:
        return member_thresholds(self.members)

    def split_probes(self, Z: np.ndarray) -> list[tuple[str, float, int]]:
        return member_split_probes(self.members, self.columns, Z)


def member_thresholds(members: tuple[Member, ...]) -> dict[str, tuple[float, ...]]:
    """Split thresholds of members that read the ensemble's columns directly (for probe rows)."""
    out: dict[str, set[float]] = {}
    for m in members:
        fn = getattr(m.estimator, "thresholds", None)
        if m.transform.steps or fn is None:
            continue
        for c, values in fn().items():
            out.setdefault(c, set()).update(values)
    return {c: tuple(sorted(v)) for c, v in out.items()}


def member_split_probes(members: tuple[Member, ...], columns: tuple[str, ...],
                        Z: np.ndarray) -> list[tuple[str, float, int]]:
    """`split_probes` of the members that read the ensemble's columns directly."""
    out: list[tuple[str, float, int]] = []
    for m in members:
        fn = getattr(m.estimator, "split_probes", None)
        if fn is not None and not m.transform.steps:
            out += fn(gather((Z, columns), m.estimator.columns))
    return out


def member_output(m: Member, columns: tuple[str, ...], Z: np.ndarray) -> np.ndarray:
    """A member's raw output: probabilities [N, C_m] or values [N]."""
    block = transform(m.transform, (Z, columns))
    return ESTIMATOR_EVALUATORS[type(m.estimator)](m.estimator, gather(block, m.estimator.columns))


@evaluates(EnsembleClassifier)
def _ensemble_classifier(est: EnsembleClassifier, Z: np.ndarray) -> np.ndarray:
    total = np.zeros((Z.shape[0], est.n_classes))
    for m, w in zip(est.members, est.weights, strict=True):
        p = member_output(m, est.columns, Z)
        placed = np.zeros_like(total)
        placed[:, list(m.class_index)] = p
        total = total + placed * w
    return arithmetic.ensemble_probabilities(NUMPY, total)


@evaluates(EnsembleRegressor)
def _ensemble_regressor(est: EnsembleRegressor, Z: np.ndarray) -> np.ndarray:
    if est.combine == "median":
        outs = np.stack([member_output(m, est.columns, Z).reshape(-1) for m in est.members], axis=1)
        return np.median(outs, axis=1)
    total = np.zeros(Z.shape[0])
    for m, w in zip(est.members, est.weights, strict=True):
        total = total + member_output(m, est.columns, Z).reshape(-1) * w
    return total / est.divisor
