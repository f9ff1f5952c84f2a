"""Every transform estuary reads (Select, Scale, OneHot, Fill, Union) is affine per input
column: the lowering of a transform chain to one affine map per output column over the raw
inputs, with River's rules (Scale's zero divisor gives 0, OneHot's missing fill, Fill's
statistic, Union's first-wins) written here once. Targets that fold transforms into a model
(TF.js's exact linear MatMul) read it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import nodes as ir
from .elementwise import Fill


@dataclass(frozen=True)
class Affine:
    """One column as a function of raw input column `src`: a·x + d when present, else `miss`."""

    src: int
    a: float
    d: float
    miss: float  # NaN: the column is missing (NaN) too


def fold(step: ir.Transform, cols: dict[str, Affine]) -> dict[str, Affine]:
    """The affine view of each output column of `step` (float64)."""
    if isinstance(step, ir.Chain):
        for s in step.steps:
            cols = fold(s, cols)
        return cols
    if isinstance(step, ir.Select):
        return {c: cols[c] for c in step.columns}
    if isinstance(step, ir.Scale):
        out = {}
        for c, o, s in zip(step.columns, step.offset, step.divisor):
            f = cols[c]
            miss = f.miss if math.isnan(f.miss) else (0.0 if s == 0 else (f.miss - o) / s)
            out[c] = (Affine(f.src, 0.0, 0.0, miss) if s == 0
                      else Affine(f.src, f.a / s, (f.d - o) / s, miss))
        return out
    if isinstance(step, ir.OneHot):
        out = {}
        for s, t in zip(step.source, step.target):
            f = cols[s]
            fill = f.miss if (step.missing_as_nan or not math.isnan(f.miss)) else 0.0
            out[t] = Affine(f.src, f.a, f.d, fill)
        return out
    if isinstance(step, Fill):  # a missing column takes the fill; a filled one is never missing
        out = dict(cols)
        for c, v in zip(step.columns, step.values):
            f = cols[c]
            out[c] = Affine(f.src, f.a, f.d, v if math.isnan(f.miss) else f.miss)
        return out
    if isinstance(step, ir.Union):
        out: dict[str, Affine] = {}
        for b in step.branches:
            for c, f in fold(b, cols).items():
                out.setdefault(c, f)  # River's union: the first transformer wins
        return out
    raise TypeError(f"no affine view of {type(step).__name__}")


def coefficients(model: ir.Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A [K, F], D [K, F] over raw input columns and c [K], all float64."""
    est = model.estimator
    raw = {c: Affine(j, 1.0, 0.0, math.nan) for j, c in enumerate(model.schema.columns)}
    view = fold(model.transform, raw)
    F, K = len(model.schema.columns), len(est.intercepts)
    A, D, c = np.zeros((K, F)), np.zeros((K, F)), np.array(est.intercepts, dtype=np.float64)
    for k, row in enumerate(est.weights):
        for name, w in zip(est.columns, row):
            f = view[name]
            A[k, f.src] += w * f.a
            D[k, f.src] += w * f.d
            if not math.isnan(f.miss):  # a filled column contributes when the input is absent
                c[k] += w * f.miss
                D[k, f.src] -= w * f.miss
    return A, D, c
