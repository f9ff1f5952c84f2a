"""ONNX for IR Probit (River's AdPredictor): `ir.arithmetic.probit_probabilities` in float64.
onnxruntime has no double Erf kernel, so `OnnxOps` computes erf by River-exact series
(`ir.arithmetic.reference_erf`, ≤ 2e-15 from math.erf)."""

from __future__ import annotations

from ...ir.probit import Probit, probabilities
from ..registry import register_emitter
from .graph import OnnxOps
from .transforms import Context


@register_emitter("onnx", Probit)
def probit(est: Probit, ctx: Context) -> dict[str, str]:
    return {"probabilities": probabilities(OnnxOps(ctx.graph), est, ctx.x)}
