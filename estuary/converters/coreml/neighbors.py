"""Core ML refuses IR NearestNeighbors (River's KNN): its k-NN model and its neural-network
layers compute distances in float32 (on device), which can pick another neighbour than River's
float64 distances; its k-NN model also weights by 1/distance without River's rule for a row at
distance 0 (that point's target alone)."""

from __future__ import annotations

from ...ir.neighbors import NearestNeighbors
from ..registry import register_refusal

register_refusal("coreml", NearestNeighbors, "Core ML computes k-NN distances in float32, which "
                 "can pick another neighbour than River's float64 search; export to ONNX")
