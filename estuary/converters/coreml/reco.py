"""Core ML refuses IR MatrixFactorization (River's BiasedMF, FunkMF): the score multiplies the
user's looked-up latent vector by the item's, a product of two computed values that no float64
classic Core ML model makes (its neural-network layers compute in float32). River's Baseline,
two bias lookups and a sum, exports to Core ML."""

from __future__ import annotations

from ...ir.reco import MatrixFactorization
from ..registry import register_refusal

register_refusal("coreml", MatrixFactorization, "the score multiplies two looked-up latent "
                 "vectors, which no float64 Core ML model computes; export to ONNX, PMML or TF.js")
