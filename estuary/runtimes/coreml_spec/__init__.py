"""A numpy interpreter of saved CoreML specs (`Model.proto`), for machines without Core ML.

It reads the protobuf spec, never the IR, and follows Apple's published specification
(coremltools `mlmodel/format/*.proto`) for each message type it knows: Pipeline,
PipelineClassifier, PipelineRegressor, ArrayFeatureExtractor, FeatureVectorizer, Imputer,
Scaler, GLMRegressor, GLMClassifier, TreeEnsembleRegressor/Classifier and a NeuralNetwork
(Classifier) with the elementwise layers listed in `neural.LAYERS`. Anything else is refused.

Precision, as the specification stores it: the classic models hold doubles and are evaluated
in float64; tree ensembles are evaluated in float32 (the input and thresholds rounded to
float32, leaf values summed in float32), as Core ML does on device; neural-network layers hold
float32 parameters and compute in float32.
"""

from __future__ import annotations

from .evaluator import ClassScores, SpecError, evaluate, model_kind

__all__ = ["ClassScores", "SpecError", "evaluate", "model_kind"]
