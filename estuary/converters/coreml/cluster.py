"""Core ML refuses IR NearestCentre (River's KMeans, STREAMKMeans, DBSTREAM, DenStream). Its
float64 classic models (GLM, Scaler, Imputer) are affine and cannot square a difference; its
neural-network layers compute in float32, where every distance of a row far from the centres
(1e9 away) rounds to the same number while River's float64 distances still tell the centres
apart, so the cluster would differ, not just a distance's last digits."""

from __future__ import annotations

from ...ir.cluster import NearestCentre, NearestCentreOrElse
from ..registry import register_refusal

COREML_REFUSAL = ("Core ML's float64 models cannot square a difference, and its float32 "
                  "layers round the distances of a far row (1e9 away) to one number where "
                  "River's float64 ones still differ; export to ONNX, PMML or TF.js")
register_refusal("coreml", NearestCentre, COREML_REFUSAL)
register_refusal("coreml", NearestCentreOrElse, COREML_REFUSAL)
