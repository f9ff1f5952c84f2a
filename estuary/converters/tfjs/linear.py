"""TF.js graph ops for IR Linear: the decision value as exact as float64, outputs in float32.

Every transform in front of a Linear (Select, Scale, OneHot, Union) is affine per input column,
so the whole model folds, in float64 here, into z_k = c_k + Σ_j [x_j present] · (A_kj · x_j + D_kj)
over the raw input columns (a missing column adds its fill value instead, as River's steps do).
The graph evaluates that sum from exact pieces: each input is split into two 12-bit halves
(Veltkamp), each coefficient into four 12-bit float32 pieces, so every product is exact in
float32, and one `Sum` over them all gives z rounded once (TF.js's cpu kernel accumulates in
double). Rounding keeps the sign, so labels follow River's even at z = 1e-9, where float32
probabilities already read 0.5; only the input itself is rounded to float32.

Inputs beyond ±1e20 (float32 has no 1e300) are saturated there: a huge value still pushes z the
way it does in River, and probabilities saturate exactly as River's do. A regression output
beyond float32's range cannot be represented at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ... import ir
from ..registry import register_emitter
from .graph import FLOAT32_MAX, Graph
from .transforms import FORMAT

SATURATE = 1e20  # classifiers: huge inputs only need to push z the right way
SATURATE_VALUE = 1e34  # regressors: keep every finite float32 input (x · 4097 must stay finite)
VELTKAMP = 4097.0  # 2**12 + 1: splits a float32 into two 12-bit halves
N_PIECES = 4  # 4 × 12 bits ≥ the 48 bits that matter next to float32 inputs


@dataclass
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


def pieces(values: np.ndarray) -> list[np.ndarray]:
    """float64 → N_PIECES float32 arrays of ≤ 12 significant bits each, summing to ≈ values."""
    out, rest = [], np.asarray(values, dtype=np.float64)
    for _ in range(N_PIECES):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            exp = np.where(rest == 0, 0, np.floor(np.log2(np.abs(rest))))
            unit = np.exp2(exp - 11)
            piece = np.where(rest == 0, 0.0, np.round(rest / unit) * unit)
        out.append(piece.astype(np.float32))
        rest = rest - piece
    return out


def split12(g: Graph, x: str) -> tuple[str, str]:
    """Veltkamp: x = hi + lo exactly, each with ≤ 12 significant bits (float32 arithmetic)."""
    c = g.op("Mul", x, g.const(VELTKAMP))
    hi = g.op("Sub", c, g.op("Sub", c, x))
    return hi, g.op("Sub", x, hi)


def decision_values(model: ir.Model, g: Graph, x: str, bound: float) -> str:
    """z [N, K], from the raw input `x` [N, F], rounded once from an exact sum."""
    A, D, c = coefficients(model)
    present = g.op("Cast", g.op("LogicalNot", g.op("IsNan", x)), SrcT=np.bool_, DstT=np.float32)
    bounded = g.op("ClipByValue", g.nan_to_zero(x), g.const(-bound), g.const(bound))
    hi, lo = split12(g, bounded)
    ones = g.op("OnesLike", g.gather_columns(present, [0]))  # [N, 1]
    columns = g.op("ConcatV2", hi, lo, present, ones, g.axis(1), N=4)  # [N, 3F + 1]
    wide = g.op("ExpandDims", columns, g.axis(1))  # [N, 1, 3F + 1]
    coef = np.concatenate([A, A, D, c[:, None]], axis=1)  # [K, 3F + 1]
    products = [g.op("Mul", wide, g.const(p)) for p in pieces(coef)]
    every = g.op("ConcatV2", *products, g.axis(2), N=len(products))  # [N, K, 4(3F + 1)]
    return g.reduce("Sum", every, 2, False)


def beyond_float32(model: ir.Model, g: Graph, x: str, z: str) -> str:
    """±inf where an input that counts was beyond float32's range (it arrives as ±inf): the
    true value is then beyond it too, and a finite number would be a wrong one."""
    A, _, _ = coefficients(model)
    counts = g.const((A != 0).any(axis=0).astype(np.float32))  # [F]
    hit = g.op("Mul", g.op("Cast", g.op("IsInf", x), SrcT=np.bool_, DstT=np.float32), counts)
    huge = g.reduce("Sum", hit, 1, True)  # [N, 1] > 0 where the value overflows float32
    inf = g.op("Mul", g.const(FLOAT32_MAX), g.const(2.0))  # a Const cannot hold inf
    signed = g.where(g.op("Less", z, g.const(0.0)), g.op("Neg", inf), inf)
    return g.where(g.op("Greater", huge, g.const(0.0)), signed, z)


def clamped_sigmoid(g: Graph, z: str) -> str:
    """River's `utils.math.sigmoid`: exactly 0 below -30 and 1 above 30 (TF.js's Sigmoid
    computes 1 / (1 + exp(-z)) in double and rounds once)."""
    high = g.where(g.op("Greater", z, g.const(30.0)), g.const(1.0), g.op("Sigmoid", z))
    return g.where(g.op("Less", z, g.const(-30.0)), g.const(0.0), high)


def softmax(g: Graph, z: str) -> str:
    """River's max-shifted softmax."""
    e = g.op("Exp", g.op("Sub", z, g.reduce("Max", z, 1, True)))
    return g.op("RealDiv", e, g.reduce("Sum", e, 1, True))


def argmax(g: Graph, z: str) -> str:
    return g.op("ArgMax", z, g.const(1, np.int32, "axis"))


def emit_linear(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    """Outputs of a model whose estimator is Linear; labels come from z, not from float32
    probabilities (which can tie where River's do not)."""
    est = model.estimator
    if est.link == "identity":
        return {"value": beyond_float32(model, g, x, decision_values(model, g, x, SATURATE_VALUE))}
    z = decision_values(model, g, x, SATURATE)
    if est.link == "sigmoid":  # River: True iff p > 1 - p, i.e. z > 0
        zk = g.op("Reshape", z, g.const([-1, 1], np.int32, "shape"))
        p = clamped_sigmoid(g, zk)
        label = g.op("Cast", g.op("Greater", g.op("Reshape", z, g.const([-1], np.int32, "shape")),
                                  g.const(0.0)), SrcT=np.bool_, DstT=np.int32)
        return {"probabilities": g.op("ConcatV2", g.op("Sub", g.const(1.0), p), p, g.axis(1),
                                      N=2), "label": label}
    if est.link == "softmax":
        return {"probabilities": softmax(g, z), "label": argmax(g, z)}
    p = clamped_sigmoid(g, z)  # ovr_sigmoid: River ranks the clamped sigmoids
    key = g.where(g.op("Greater", z, g.const(30.0)), g.const(31.0),
                  g.where(g.op("Less", z, g.const(-30.0)), g.const(-31.0), z))
    total = g.reduce("Sum", p, 1, True)
    positive = g.op("Greater", total, g.const(0.0))
    safe_total = g.where(positive, total, g.const(1.0))
    uniform = g.const(1.0 / len(est.intercepts))
    return {"probabilities": g.where(positive, g.op("RealDiv", p, safe_total), uniform),
            "label": argmax(g, key)}


@register_emitter(FORMAT, ir.Linear)
def linear(est: ir.Linear, g: Graph, x: str) -> dict[str, str]:  # pragma: no cover
    raise AssertionError("Linear is emitted from the raw input by emit_linear (folded)")
