"""Core ML for IR Lookup, in float64 classic models. River's formula (`ir.arithmetic.lookup`)
multiplies (1 - Σ s) by the default, a product of two computed values that no classic model
makes; so it is rewritten, exactly: a GLMRegressor computes u = 1 - Σ s (0 or 1), a
FeatureVectorizer appends it to the one-hot columns, and a second GLMRegressor sums
s · v + u · default, one non-zero term."""

from __future__ import annotations

import numpy as np

from ...ir.lookup import Lookup
from ..registry import register_emitter
from .transforms import Block, Context, take


@register_emitter("coreml", Lookup)
def lookup(step: Lookup, ctx: Context) -> Block:
    s = ctx.stages
    m = len(step.sources)
    onehot = take(s, (ctx.x, ctx.columns), step.sources)
    unseen = s.glm(onehot, -np.ones((1, m)), [1.0], hint="unseen")
    both = s.vectorize([(onehot, m), (unseen, 1)])
    weights = np.concatenate([step.table[:, 0], [step.default]]).reshape(1, m + 1)
    return s.glm(both, weights, hint="looked_up"), (step.target,)
