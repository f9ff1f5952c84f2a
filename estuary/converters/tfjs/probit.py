"""TF.js refuses IR Probit (River's AdPredictor): River activates every key whose value is
truthy, and a float32 input turns a tiny non-zero value (1e-300) into 0.0, which would be
inactive: measured, the probability moved by 0.08 on River's extreme rows."""

from __future__ import annotations

from ...ir.probit import Probit
from ..registry import register_refusal
from .transforms import FORMAT

register_refusal(FORMAT, Probit, "River activates every non-zero key, and float32 turns a tiny "
                 "value (1e-300) into an inactive 0.0; export to ONNX or PMML (float64)")
