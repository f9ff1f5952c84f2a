"""Core ML refuses IR Probit (River's AdPredictor): no Core ML model or layer computes the
normal CDF (erf) in float64, and a float32 one moves a probability near the clamp by far more
than 1e-12."""

from __future__ import annotations

from ...ir.probit import Probit
from ..registry import register_refusal

register_refusal("coreml", Probit, "no Core ML model computes the normal CDF (erf) in float64; "
                 "export to ONNX or PMML")
