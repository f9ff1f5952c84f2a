"""Core ML refuses the forecasters (River's HoltWinters, SNARIMAX). Core ML's float64 classic
models are affine maps (GLMRegressor, Scaler): the season index (step - 1) mod m needs a floor
and the lookup a comparison per season, and SNARIMAX's unrolled recursion a product of two
computed values per lag, which only its float32 neural-network layers compute."""

from __future__ import annotations

from ...ir.forecast import HoltWinters, Snarimax
from ..registry import register_refusal

register_refusal("coreml", HoltWinters, "Core ML's float64 models are affine maps: the season "
                 "lookup at (step - 1) mod m needs a floor and comparisons; export to ONNX, "
                 "PMML or TF.js")
register_refusal("coreml", Snarimax, "Core ML's float64 models are affine maps: the unrolled "
                 "forecast recursion multiplies computed values; export to ONNX, PMML or TF.js")
