"""TF.js does not export IR EstimatorChain (River's ClassifierChain, RegressorChain)
yet: the reason is below; ONNX exports it."""

from __future__ import annotations

from ...ir.multioutput import EncodedLabels, EstimatorChain
from ..registry import register_refusal
from .transforms import FORMAT

register_refusal(FORMAT, EstimatorChain, "TF.js linear models and trees are folded from the model's raw inputs, which a chain member's fed columns are not; not done yet: export to ONNX")

register_refusal(FORMAT, EncodedLabels, "float32 code probabilities can pick another most probable combination than River's float64 ones when two are nearly equal; export to ONNX or PMML")
