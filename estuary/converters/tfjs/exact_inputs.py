"""Raw inputs at float64 precision in float32 TF.js arithmetic, read from a graph's `keys`.

The `input` tensor holds each value rounded to float32: half an ulp, 0.03 on a date of ~737k,
3e-8 relative. Where a model magnifies that rounding it drifts past the 1e-5 float32 tolerance:
a naive-Bayes leaf's (x - mu) / sigma with a small sigma (Bananas: sigma 0.002 at mu 1.66 moved
probabilities 2-7e-5), a centre distance after a scaler whose mean is large next to its scale
(an ordinal date: 5e-5). The `keys` input (order_keys.py) carries every float64 bit, so here x =
±2^E · (1 + m / 2^52) is rebuilt as three float32 numbers a + b + c holding 11, 21 and 21
significant bits (each exact), and `centred` gives x - m for a float64 constant m within
~2^-34 |x| (x rounded first: 2^-25 |x|).

Every step is exact in float32: the words are whole numbers below 2^22, powers of two come from
`Pow` (Math.pow in TF.js's cpu kernel, exact for them), and each piece is a whole number of at
most 21 bits times a power of two. A missing input (words 0) or one beyond float32's range gives
garbage or ±inf here: callers mask those rows with the float32 input, as before.
"""

from __future__ import annotations

import numpy as np

from ... import ir
from ...ir.affine import Affine, fold
from .graph import Graph

EXACT_BELOW = 1e30  # |x| beyond: callers take the float32 input (x · 4097 stays finite)
TOP = float(1 << 21)  # the first word's sign bit (set for positive numbers)
LOW = float((1 << 21) - 1)  # an all-ones 21-bit word
EXPONENT_BIAS = 1023.0


def raw_pieces(g: Graph, keys: str, n_raw: int, index: list[int]) -> tuple[str, str, str]:
    """(a, b, c), each float32 [N, len(index)]: raw inputs `index` as a + b + c exactly (for
    |x| from 2^-118 to float32's largest; smaller values lose their last bits, in absolute
    terms below 2^-149)."""
    F = n_raw
    w0, w1, w2 = (g.gather_columns(keys, [k * F + j for j in index]) for k in range(3))
    neg = g.op("Less", w0, g.const(TOP))  # the key of a negative number has its bits inverted
    q = g.where(neg, g.op("Sub", g.const(TOP - 1.0), w0), g.op("Sub", w0, g.const(TOP)))
    w1 = g.where(neg, g.op("Sub", g.const(LOW), w1), w1)
    w2 = g.where(neg, g.op("Sub", g.const(LOW), w2), w2)
    e = g.op("Floor", g.op("Mul", q, g.const(1.0 / 1024)))  # q = e · 2^10 + top mantissa bits
    top = g.op("Sub", q, g.op("Mul", e, g.const(1024.0)))
    unbiased = g.op("Sub", e, g.const(EXPONENT_BIAS))

    def power(shift: float) -> str:
        return g.op("Pow", g.const(2.0), g.op("Sub", unbiased, g.const(shift)))

    sign = g.where(neg, g.const(-1.0), g.const(1.0))
    a = g.op("Mul", power(0.0), g.op("AddV2", g.const(1.0), g.op("Mul", top, g.const(2.0 ** -10))))
    b = g.op("Mul", w1, power(31.0))
    c = g.op("Mul", w2, power(52.0))
    return tuple(g.op("Mul", p, sign) for p in (a, b, c))  # type: ignore[return-value]


def split3(values: np.ndarray) -> list[np.ndarray]:
    """float64 → three float32 arrays whose float64 sum is `values` within 2^-72 relative."""
    rest = np.asarray(values, dtype=np.float64)
    out = []
    for _ in range(3):
        with np.errstate(over="ignore", invalid="ignore"):
            piece = rest.astype(np.float32)
        out.append(piece)
        rest = rest - piece.astype(np.float64)
    return out


def centred(g: Graph, pieces: tuple[str, str, str], m: list[str]) -> str:
    """(a + b + c) - (m1 + m2 + m3) in float32: a - m1 is exact where x is near m (both hold
    x's leading bits), the rest is small, so the difference is rounded about once."""
    a, b, c = pieces
    tail = g.op("AddV2", g.op("Sub", b, m[1]), g.op("Sub", c, m[2]))
    return g.op("AddV2", g.op("Sub", a, m[0]), tail)


def affine_columns(model: ir.Model, columns: tuple[str, ...]) -> list[Affine] | None:
    """Each of `columns` (the estimator's) as a·x + d of one raw input x, a > 0, missing
    exactly when x is (float64, `ir.affine.fold`), or None where some column is not (Fill,
    OneHot's fill, a zero divisor, a transform with no affine view)."""
    raw = {c: Affine(j, 1.0, 0.0, np.nan) for j, c in enumerate(model.schema.columns)}
    try:
        view = fold(model.transform, raw)
        cols = [view[c] for c in columns]
    except (TypeError, KeyError):
        return None
    ok = all(np.isfinite(f.a) and f.a > 0 and np.isfinite(f.d) and np.isnan(f.miss) for f in cols)
    return cols if ok else None
