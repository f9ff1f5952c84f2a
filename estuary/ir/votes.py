"""The `VoteCount` IR estimator: River classifiers that only vote, with no `predict_proba_one`
(`multiclass.OneVsOneClassifier`, `ensemble.VotingClassifier`). Their artifact's
`probabilities` are the one-hot of River's label: votes, not probabilities (the label-only
contract, README "Artifact contract"); parity and the golden check compare those one-hots, i.e.
labels. The arithmetic is `ir.arithmetic.vote_count`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .ensembles import Member, member_output, member_split_probes, member_thresholds
from .evaluate import evaluates
from .nodes import Estimator, IRError, ir_node


@ir_node
@dataclass(frozen=True)
class VoteCount(Estimator):
    """Members vote for classes (`Member.class_index` places a member's classes among the
    model's). `soft`: each casts its probabilities (VotingClassifier with use_probabilities);
    else its label, the first maximum of its probabilities (River's `predict_one`), is one vote.
    The winner has the largest total; a tie goes to the class that entered River's vote dict
    first: hard votes in member order (the first member that voted for it), soft votes in the
    model's class order. Output: the winner one-hot.

    >>> VoteCount(("x",), (member_ab, member_bc, member_ac), n_classes=3, soft=False)
    """

    columns: tuple[str, ...]
    members: tuple[Member, ...]
    n_classes: int
    soft: bool = False

    def __post_init__(self) -> None:
        if not self.members:
            raise IRError("VoteCount: no members")
        for m in self.members:
            if not m.class_index or any(not 0 <= k < self.n_classes for k in m.class_index):
                raise IRError("VoteCount: a member's class_index is empty or out of range")

    def places(self) -> list[np.ndarray]:
        """Per member, [K_m, C]: 1.0 where its class k is the model's class c."""
        out = []
        for m in self.members:
            place = np.zeros((len(m.class_index), self.n_classes))
            place[np.arange(len(m.class_index)), list(m.class_index)] = 1.0
            out.append(place)
        return out

    def thresholds(self) -> dict[str, tuple[float, ...]]:
        return member_thresholds(self.members)

    def split_probes(self, Z: np.ndarray) -> list[tuple[str, float, int]]:
        return member_split_probes(self.members, self.columns, Z)


@evaluates(VoteCount)
def _vote_count(est: VoteCount, Z: np.ndarray) -> np.ndarray:
    probs = [member_output(m, est.columns, Z) for m in est.members]
    return arithmetic.vote_count(NUMPY, probs, est.places(), est.soft)
