"""ONNX for IR VoteCount (River's OneVsOneClassifier, VotingClassifier): each member as its own
float64 subgraph (`ensembles.member_output`), then `ir.arithmetic.vote_count`."""

from __future__ import annotations

from ...ir import arithmetic
from ...ir.votes import VoteCount
from ..registry import register_emitter
from .ensembles import member_output
from .graph import OnnxOps
from .transforms import Context


@register_emitter("onnx", VoteCount)
def vote_count(est: VoteCount, ctx: Context) -> dict[str, str]:
    g = ctx.graph
    probs = [member_output(m, g, ctx.x, est.columns)["probabilities"] for m in est.members]
    return {"probabilities": arithmetic.vote_count(OnnxOps(g), probs, est.places(), est.soft)}
