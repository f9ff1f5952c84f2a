"""PMML does not export IR EstimatorChain (River's ClassifierChain, RegressorChain)
yet: the reason is below; ONNX exports it."""

from __future__ import annotations

from ...ir.multioutput import EstimatorChain
from ..registry import register_refusal

register_refusal("pmml", EstimatorChain, "PMML estimators end in a model element (a RegressionModel), so a member's output cannot feed the next member's fields; writing members as DerivedFields is not done yet: export to ONNX")
