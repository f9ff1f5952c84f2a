"""TF.js refuses IR Project: its sums of float32 products overflow on River's extreme rows
(1e300 becomes inf, and a sum of +inf and -inf is NaN where River's float64 sum is finite)."""

from __future__ import annotations

from ...ir.projection import Project
from ..registry import register_refusal
from .transforms import FORMAT

register_refusal(FORMAT, Project, "float32 sums of products overflow on River's extreme rows "
                 "(1e300 → inf, inf - inf = NaN); export to ONNX or PMML (float64)")
