"""TF.js refuses IR VoteCount (River's OneVsOneClassifier, VotingClassifier): a member's label
is the first maximum of its float64 probabilities; in float32 two of them can round equal (or
swap) and the vote goes elsewhere, a whole label, not a small error."""

from __future__ import annotations

from ...ir.votes import VoteCount
from ..registry import register_refusal
from .transforms import FORMAT

register_refusal(FORMAT, VoteCount, "a member's vote is the first maximum of its probabilities, "
                 "which float32 can round equal or swap; export to ONNX")
