"""Core ML for IR Project, in float64 classic models: missing → 0.0 (an Imputer; an absent key
adds nothing), then a GLMRegressor with one output per target. A FeatureHasher's bucket is
missing when none of its keys is present, which a GLM cannot say: there, only buckets of one
key each are written (a Scaler by the sign keeps a missing value missing), and a hasher whose
keys share a bucket is refused."""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from ...ir.projection import Project
from ..registry import EMITTERS, register_emitter
from .transforms import Block, Context, impute, take


@register_emitter("coreml", Project)
def project(step: Project, ctx: Context) -> Block:
    s, block = ctx.stages, (ctx.x, ctx.columns)
    W = step.matrix  # [S, T]
    if not step.missing_when_empty:
        x = impute(s, take(s, block, step.sources), len(step.sources))
        return s.glm(x, W.T, hint="projected"), step.targets
    if ((W != 0).sum(axis=0) != 1).any():
        have = sorted(t.__name__ for f, t in EMITTERS if f == "coreml")
        raise UnsupportedModelError("Project", have, reason=(
            "two keys share a FeatureHasher bucket, which is missing only when both are: no "
            "float64 Core ML model says that; export to ONNX or PMML, or use more buckets"))
    signs = W[[step.sources.index(c) for c in step.first_sources], np.arange(W.shape[1])]
    x = take(s, block, step.first_sources)
    return s.scaler(x, len(step.targets), 0.0, signs, "hashed"), step.targets
