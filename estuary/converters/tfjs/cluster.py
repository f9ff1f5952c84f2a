"""TF.js for IR NearestCentre (River's KMeans, STREAMKMeans, ...).

`distances`: `ir.arithmetic.centre_distances`, with one per-format rewrite of the difference:
where every column the centres live in is a raw input through Select / Scale, x_j - c_kj is
taken at float64 precision from the `keys` input (exact_inputs.py; the centre and the scaler
folded into a raw-space centre in float64), then powered and summed in float32. A scaler with
a large mean magnifies the float32 input's rounding (an ordinal date of ~737k is 0.06 apart in
float32: 5e-5 of River's distance, above the 1e-5 float32 tolerance); this way a row at a centre
is ~1e-9 from it, as in River. Other columns (and inputs beyond ±1e30) use the float32 column.

`cluster` is not read from those distances: on a row far from every centre (1e9 away) they all
round to the same float32 number, where River's float64 ones still differ, and the first
centre would win the tie. It is the first minimum of a rank that orders the centres as the
distances do but leaves out what every centre shares (a per-format rewrite of the block):
- p = 2 (with or without the root): Σ_j c_kj² - 2 Σ_j x_j c_kj (the row's own Σ x² dropped),
  the dot product a MatMul, which TF.js's cpu backend sums in double;
- p = 1: Σ_j (|c_kj - x_j| - |x_j|), each term -c or c exactly once x lies beyond the centre
  (and 0), and computed directly only where |x_j| <= |c_kj|;
- other p: the distances themselves.
A row holding a value beyond float32 (1e300 becomes inf) is assigned the first centre: River's
float64 distances all overflow to inf there (or KMeans raises), and `min` keeps the first.
Rows whose two nearest centres are within float32 rounding of each other may still be assigned
the other one (River's float64 may differ in the last bits; the parity harness reports such a
row as a float32 tie).
"""

from __future__ import annotations

import numpy as np

from ...ir.arithmetic import minkowski_term
from ...ir.cluster import NearestCentre, NearestCentreOrElse, distances
from ..registry import register_emitter, register_refusal
from . import order_keys
from .exact_inputs import EXACT_BELOW, affine_columns, centred, raw_pieces, split3
from .graph import Graph, TfjsOps
from .transforms import FORMAT, Context
from .trees import KEYS  # the client writes `keys` for any graph that takes it


@register_emitter(FORMAT, NearestCentre)
def nearest_centre(est: NearestCentre, ctx: Context) -> dict[str, str]:
    g = ctx.graph
    x = ctx.transformed()
    o = TfjsOps(g)
    d = exact_distances(ctx, est, x) or distances(o, est, x)
    present = g.nan_to_zero(x)
    if est.p == 2:
        rank = _euclidean_rank(g, present, est.table())
    elif est.p == 1:
        rank = _manhattan_rank(o, present, est.table())
    else:
        rank = d
    overflow = g.op("Any", g.op("IsNan", g.op("Sub", present, present)), g.axis(1),
                    keep_dims=True)  # inf - inf: a value beyond float32 in the row
    first = g.const(np.arange(len(est.centres), dtype=np.float64).reshape(1, -1))
    rank = g.where(overflow, first, rank)
    return {"distances": d, "cluster": g.op("ArgMin", rank, g.axis(1))}


def exact_distances(ctx: Context, est: NearestCentre, x: str) -> str | None:
    """`arithmetic.centre_distances` with each difference at float64 precision (see the module
    docstring), or None where a column is not a raw input through Select / Scale."""
    cols = affine_columns(ctx.model, est.columns)
    if cols is None or type(est) is not NearestCentre:
        return None
    g, o = ctx.graph, TfjsOps(ctx.graph)
    n_raw = len(ctx.model.schema.columns)
    keys = g.placeholder(KEYS, order_keys.width(n_raw))
    src = [f.src for f in cols]
    pieces = raw_pieces(g, keys, n_raw, src)
    raw = g.gather_columns(ctx.x, src)
    exact = g.op("Less", g.op("Abs", raw), g.const(EXACT_BELOW))  # False for NaN too
    present = g.nan_to_zero(x)
    centres = est.table()
    total = None
    for j, f in enumerate(cols):
        m = [g.const(v.reshape(1, -1)) for v in split3((centres[:, j] - f.d) / f.a)]
        diff = g.op("Mul", centred(g, tuple(g.gather_columns(p, [j]) for p in pieces), m),
                    g.const(f.a))  # x_j - c_kj: the sign does not matter to |d|^p
        plain = g.op("Sub", g.const(centres[:, j].reshape(1, -1)), g.gather_columns(present, [j]))
        term = minkowski_term(o, g.where(g.gather_columns(exact, [j]), diff, plain), est.p)
        total = term if total is None else g.op("AddV2", total, term)
    return g.op("Sqrt", total) if est.root else total


def _euclidean_rank(g: Graph, x: str, centres: np.ndarray) -> str:
    """Σ c² - 2 x · c per centre [N, K]: the squared distance without Σ x²."""
    squares = (centres * centres).sum(axis=1).reshape(1, -1)
    return g.op("AddV2", g.op("MatMul", x, g.const(-2.0 * centres.T)), g.const(squares))


def _manhattan_rank(o: TfjsOps, x: str, centres: np.ndarray) -> str:
    """Σ_j |c_kj - x_j| - |x_j| per centre [N, K], each term exact beyond the centre."""
    total = None
    for j in range(centres.shape[1]):
        c = centres[:, j].reshape(1, -1)
        xj = o.column(x, j)
        size = o.where(o.less(xj, o.const(0.0)), o.sub(o.const(0.0), xj), xj)
        d = o.sub(o.const(c), xj)
        near = o.sub(o.where(o.less(d, o.const(0.0)), o.sub(o.const(0.0), d), d), size)
        above = o.less(o.const(np.maximum(c, 0.0)), xj)  # x beyond c and 0: |c-x| - |x| = -c
        below = o.less(xj, o.const(np.minimum(c, 0.0)))  # x below both: = c
        term = o.where(above, o.const(-c), o.where(below, o.const(c), near))
        total = term if total is None else o.add(total, term)
    return total


register_refusal(FORMAT, NearestCentreOrElse, "River's answer when no centre is nearer than +inf "
                 "(DenStream's -1) is a pseudo-centre at the largest double, which float32 "
                 "cannot hold; export to ONNX or PMML (float64)")
