"""PMML refuses IR VoteCount (River's OneVsOneClassifier, VotingClassifier): estuary writes
River's vote count (first maximum per member, ties to the class voted first) in ONNX only so
far; nothing in the format stops it."""

from __future__ import annotations

from ...ir.votes import VoteCount
from ..registry import register_refusal

register_refusal("pmml", VoteCount, "estuary writes River's vote count (OneVsOne, Voting) in ONNX "
                 "only so far; export to ONNX")
