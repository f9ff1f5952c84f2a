"""PMML refuses IR NearestNeighbors (River's KNN). PMML's NearestNeighborModel (JPMML) weights
a neighbour by 1 / (distance + threshold) and reweights missing values, where River counts an
absent key as 0.0 and gives a row at distance 0 that point's target alone; written as plain
expressions instead, picking the k nearest with River's tie order takes W² comparisons per row
(W up to SWINN's 500 stored points before its graph is built)."""

from __future__ import annotations

from ...ir.neighbors import NearestNeighbors
from ..registry import register_refusal

register_refusal("pmml", NearestNeighbors, "PMML's NearestNeighborModel weights neighbours by "
                 "1/(distance + threshold) and reweights missing values, unlike River; export "
                 "to ONNX")
