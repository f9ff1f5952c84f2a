"""TF.js refuses IR NearestNeighbors (River's KNN): distances in float32 can order two stored
points differently from River's float64 distances when they are within float32 rounding of each
other, and then another neighbour (another class or target) is chosen, not a small error."""

from __future__ import annotations

from ...ir.neighbors import NearestNeighbors
from ..registry import register_refusal
from .transforms import FORMAT

register_refusal(FORMAT, NearestNeighbors, "float32 distances can pick another neighbour than "
                 "River's float64 ones when two stored points are nearly as far; export to ONNX")
