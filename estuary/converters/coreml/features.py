"""Core ML for IR Ordinal: classic float64 stages, exact.

Per feature an ArrayFeatureExtractor of its one-hot columns and a GLMRegressor
unknown + Σ s_j · (code_j - unknown) (NaN · w is NaN, so a missing feature stays missing; one
GLM per feature, because in a shared one a NaN would reach every code), joined by a
FeatureVectorizer.

Polynomial is not emitted: no classic (float64) Core ML model multiplies two inputs, and a
NeuralNetwork multiplies in float32, where a factor beyond float32's range (River's extreme
rows: 1e300 after a scaler) becomes inf and the products that follow (inf · 0 = NaN, sums of
±inf) no longer follow River's float64 arithmetic. Export such pipelines to ONNX or PMML.
"""

from __future__ import annotations

import numpy as np

from ...ir.features import Ordinal, Polynomial
from ..registry import register_emitter, register_refusal
from .transforms import Block, Context


@register_emitter("coreml", Ordinal)
def ordinal(step: Ordinal, ctx: Context) -> Block:
    s, block = ctx.stages, (ctx.x, ctx.columns)
    x, columns = block
    pos = {c: i for i, c in enumerate(columns)}
    parts = []
    for src, codes in zip(step.sources, step.codes):
        picked = s.extract(x, len(columns), [pos[c] for c in src], "onehot")
        delta = np.asarray(codes, dtype=np.float64) - step.unknown
        parts.append((s.glm(picked, delta[None, :], [float(step.unknown)], "code"), 1))
    return s.vectorize(parts, "codes"), step.targets


register_refusal("coreml", Polynomial, "no float64 Core ML model multiplies two inputs, and float32 "
                 "products overflow on River's extreme rows; export to ONNX or PMML")
