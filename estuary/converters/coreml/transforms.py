"""Core ML for the IR transforms, as classic float64 models: ArrayFeatureExtractor (Select,
OneHot's columns), Scaler (Scale), Imputer (a missing one-hot column → 0.0) and
FeatureVectorizer (Union)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ... import ir
from ..registry import emit, register_emitter
from .builder import Stages, array_type

Block = tuple[str, tuple[str, ...]]  # feature name and its column names


@dataclass(frozen=True)
class Context:
    """What every Core ML emitter `emit(node, ctx)` builds into and reads: the pipeline's
    stages and the input feature `x` with its column names. Transforms return a `Block`;
    estimators append their stages (the last one's outputs are the model's) and return None."""

    stages: Stages
    x: str
    columns: tuple[str, ...] = ()

    def at(self, x: str, columns: tuple[str, ...] | None = None) -> Context:
        """The same stages, another input."""
        return replace(self, x=x, columns=self.columns if columns is None else columns)


def emit_transform(step: ir.Transform, ctx: Context) -> Block:
    return emit("coreml", step, ctx)


def take(s: Stages, block: Block, wanted: tuple[str, ...]) -> str:
    """The `wanted` columns of a block, in order (no stage when nothing moves)."""
    x, columns = block
    if wanted == columns:
        return x
    pos = {c: i for i, c in enumerate(columns)}
    return s.array("arrayFeatureExtractor", x, len(columns), len(wanted),
                   lambda p: p.extractIndex.extend(pos[c] for c in wanted), "columns")


def impute(s: Stages, x: str, width: int, value: float = 0.0) -> str:
    """NaN → `value` in every column (the Imputer's replaceDoubleValue is NaN)."""

    def fill(p) -> None:
        p.imputedDoubleArray.vector.extend([value] * width)
        p.replaceDoubleValue = math.nan

    return s.array("imputer", x, width, width, fill, "imputed")


@register_emitter("coreml", ir.Select)
def select(step: ir.Select, ctx: Context) -> Block:
    s, block = ctx.stages, (ctx.x, ctx.columns)
    return take(s, block, step.columns), step.columns


@register_emitter("coreml", ir.Scale)
def scale(step: ir.Scale, ctx: Context) -> Block:
    """scaleValue · (x + shiftValue) with shift = -offset and scale = 1/divisor, or 0 for a zero
    divisor (River's rule: 0, while NaN · 0 keeps a missing value missing)."""
    s, block = ctx.stages, (ctx.x, ctx.columns)
    x = take(s, block, step.columns)
    divisor = np.asarray(step.divisor, dtype=np.float64)
    zero = divisor == 0
    factor = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, divisor))

    def fill(p) -> None:
        p.shiftValue.extend((-np.asarray(step.offset, dtype=np.float64)).tolist())
        p.scaleValue.extend(factor.tolist())

    n = len(step.columns)
    out = s.array("scaler", x, n, n, fill, "scaled")
    s.affine[out] = (x, np.asarray(step.offset, dtype=np.float64), divisor)
    return out, step.columns


@register_emitter("coreml", ir.OneHot)
def one_hot(step: ir.OneHot, ctx: Context) -> Block:
    s, block = ctx.stages, (ctx.x, ctx.columns)
    x = take(s, block, step.source)
    if not step.missing_as_nan:
        x = impute(s, x, len(step.source))
    return x, step.target


@register_emitter("coreml", ir.Chain)
def chain(step: ir.Chain, ctx: Context) -> Block:
    block = ctx.x, ctx.columns
    for sub in step.steps:
        block = emit_transform(sub, ctx.at(*block))
    return block


@register_emitter("coreml", ir.Union)
def union(step: ir.Union, ctx: Context) -> Block:
    s, block = ctx.stages, (ctx.x, ctx.columns)
    parts = [emit_transform(b, ctx) for b in step.branches]
    out = s.name("union")
    width = sum(len(c) for _, c in parts)

    def fill(p) -> None:
        for name, cols in parts:
            p.inputList.add(inputColumn=name, inputDimensions=len(cols))

    s.add("featureVectorizer", [(name, array_type(len(cols))) for name, cols in parts],
          [(out, array_type(width))], fill)
    joined = tuple(c for _, cols in parts for c in cols)
    first: dict[str, int] = {}
    for i, c in enumerate(joined):
        first.setdefault(c, i)  # River's union: the first transformer wins a duplicate key
    columns = step.output_columns(block[1])
    index = [first[c] for c in columns]
    if index != list(range(len(joined))):
        out = s.array("arrayFeatureExtractor", out, width, len(columns),
                      lambda p: p.extractIndex.extend(index), "union_columns")
    if any(name in s.affine for name, _ in parts):
        s.affine[out] = _union_affine(s, parts, index)
    return out, columns


def _union_affine(s: Stages, parts: list[Block], index: list[int]) -> tuple:
    """The union's columns as (raw block, offset, divisor), as `scale` records them, so that a
    tree behind the union tests a scaled branch's splits exactly as it does right behind a
    Scale; an unscaled branch's columns are themselves (offset 0, divisor 1: x <= t as is)."""
    raws, offset, divisor = [], [], []
    for name, cols in parts:
        raw, o, d = s.affine.get(name, (name, np.zeros(len(cols)), np.ones(len(cols))))
        raws.append((raw, len(cols)))
        offset.extend(o.tolist())
        divisor.extend(d.tolist())
    out, width = s.name("union_raw"), len(offset)

    def fill(p) -> None:
        for name, n in raws:
            p.inputList.add(inputColumn=name, inputDimensions=n)

    s.add("featureVectorizer", [(name, array_type(n)) for name, n in raws],
          [(out, array_type(width))], fill)
    if index != list(range(width)):
        out = s.array("arrayFeatureExtractor", out, width, len(index),
                      lambda p: p.extractIndex.extend(index), "union_raw_columns")
    return out, np.asarray(offset, dtype=np.float64)[index], np.asarray(divisor, dtype=np.float64)[index]
