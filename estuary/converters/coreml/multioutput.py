"""Core ML does not export IR EstimatorChain (River's ClassifierChain, RegressorChain)
yet: the reason is below; ONNX exports it."""

from __future__ import annotations

from ...ir.multioutput import EncodedLabels, EstimatorChain
from ..registry import register_refusal

register_refusal("coreml", EstimatorChain, "Core ML pipelines pass one feature vector from model to model, so a member cannot read the earlier members' outputs next to the chain's inputs; not done yet: export to ONNX")

register_refusal("coreml", EncodedLabels, "Core ML has no float64 first-arg-max over a classifier's probabilities next to them; export to ONNX or PMML")
