"""TF.js graph ops for IR Linear: the decision value as exact as float64, outputs in float32.

Every transform in front of a Linear (Select, Scale, OneHot, Union) is affine per input column,
so the whole model folds, in float64 here, into z_k = c_k + Σ_j [x_j present] · (A_kj · x_j + D_kj)
over the raw input columns (a missing column adds its fill value instead, as River's steps do),
evaluated as z_k = c_k + Σ_j A_kj · x0_j + Σ_j D_kj · p_j (x0: NaN → 0, p: present indicator):
a row with every input missing gives exactly the intercepts, as River's does.

The graph is short on purpose: TF.js's cpu kernels cost 1.5–3 µs each whatever their size (and
take a slow path, a closure per element, when a size-1 dimension is broadcast, so constants are
flat), more than the arithmetic of a one-row model. Two ways to sum exactly:

- **one MatMul** while [x0, p, 1] fits one block of TF.js's cpu kernel (48 columns, F ≤ 23): the
  kernel sums a block's products in double (each product of float32 numbers is exact) and adds
  each block total to a float32 result. The columns go in twice, the first block carrying the
  low float32 piece of each coefficient, the second the high piece: the one early rounding is of
  the small low-piece total (~2^-48 of z's terms), and z is then rounded once.
- **Mul + Sum** beyond that: the input is split into two 12-bit halves (Veltkamp) and each
  coefficient into four 12-bit pieces, so every float32 product is exact, and one `Sum` (which
  accumulates in double) rounds once.

Either way z is the float64 sum rounded once to float32, so labels follow River's even at
z = 1e-9, where float32 probabilities already read 0.5; only the input is rounded to float32.

Regressors (the identity link) read the input exactly too, a per-format rewrite: a regression
value is compared relatively, and River's diverged linear models (the census's BanditRegressor:
weights ~1e11 on scaled polls, terms cancelling to ~1e9) magnify the float32 input's rounding to
1e-4 of the value, above the 1e-5 float32 tolerance. The graph then also takes the `keys` input
(order_keys.py, as trees do) and rebuilds each input as five pieces of <= 12 bits
(exact_inputs.raw_pieces, then Veltkamp), so every product with a 12-bit coefficient piece is
exact and the one Sum rounds z once: the float64 sum over the float64 input. An input beyond
±1e30 takes its float32 value instead.

Inputs beyond ±1e20 (float32 has no 1e300) are saturated there: a huge value still pushes z the
way it does in River, and probabilities saturate as River's do (beyond -SIGMOID_CLAMP River's sigmoid is
exactly 0 and float32's at most 9.4e-14). A regression output beyond float32's range cannot be
represented at all.
"""

from __future__ import annotations

import numpy as np

from ... import ir
from ...ir import arithmetic
from ...ir.affine import coefficients
from ..registry import emitter_for, register_emitter
from .exact_inputs import EXACT_BELOW, raw_pieces
from .features import emit_unfoldable_prefix
from .graph import FLOAT32_MAX, Graph, TfjsOps
from .order_keys import KEYS
from .order_keys import width as keys_width
from .transforms import FORMAT, Context

SATURATE = 1e20  # classifiers: huge inputs only need to push z the right way
SATURATE_VALUE = 1e34  # regressors: keep every finite float32 input (x · 4097 must stay finite)
VELTKAMP = 4097.0  # 2**12 + 1: splits a float32 into two 12-bit halves
SUM_PIECES = 4  # 4 × 12 bits: the 48 bits of a coefficient that matter next to float32 inputs
MATMUL_BLOCK = 48  # TF.js's cpu MatMul sums this many products in double, then rounds


def pieces(values: np.ndarray, n: int, bits: int) -> list[np.ndarray]:
    """float64 → `n` float32 arrays of ≤ `bits` significant bits each, summing to ≈ values."""
    out, rest = [], np.asarray(values, dtype=np.float64)
    for _ in range(n):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            exp = np.where(rest == 0, 0, np.floor(np.log2(np.abs(rest))))
            unit = np.exp2(exp - (bits - 1))
            piece = np.where(rest == 0, 0.0, np.round(rest / unit) * unit)
        out.append(piece.astype(np.float32))
        rest = rest - piece
    return out


def split12(g: Graph, x: str) -> tuple[str, str]:
    """Veltkamp: x = hi + lo exactly, each with ≤ 12 significant bits (float32 arithmetic)."""
    c = g.op("Mul", x, g.const(VELTKAMP))
    hi = g.op("Sub", c, g.op("Sub", c, x))
    return hi, g.op("Sub", x, hi)


def folded(model: ir.Model, negate_first: bool = False) -> np.ndarray:
    """W [K, 2F + 1] (float64) over the columns [x0, p, 1]: z = [x0, p, 1] · Wᵀ.
    `negate_first`: a binary model as two rows [-z, z] (probabilities = sigmoid of both)."""
    A, D, c = coefficients(model)
    if negate_first:
        A, D, c = np.vstack([-A, A]), np.vstack([-D, D]), np.concatenate([-c, c])
    return np.hstack([A, D, c[:, None]])


def decision_values(model: ir.Model, g: Graph, x: str, bound: float,
                    negate_first: bool = False, exact: bool = False) -> str:
    """z [N, K] from the raw input `x` [N, F]: the float64 sum rounded once to float32 (of the
    float64 input too with `exact`: see the module docstring)."""
    W = folded(model, negate_first)
    K, width = W.shape
    present = g.op("Equal", x, x)  # false for NaN only
    zeros = g.const(np.zeros(width // 2))  # not a scalar: TF.js would tile it on every call
    x0 = g.op("ClipByValue", g.where(present, x, zeros), g.const(-bound), g.const(bound))
    p = g.op("Cast", present, SrcT=np.bool_, DstT=np.float32)
    if exact:
        return exact_sums(g, x, x0, p, W)
    both = g.op("ConcatV2", x0, p, g.axis(1), N=2)  # [N, 2F]
    if width <= MATMUL_BLOCK:
        # [x0, p, 1, …] exactly one block wide, twice: the first block gets the low pieces of
        # the coefficients and is rounded to float32 on its own (an error of ~2^-48 of z's
        # terms), the second the high pieces, added to it in double and rounded once.
        u = g.op("PadV2", both, g.const([[0, 0], [0, MATMUL_BLOCK - width + 1]], np.int32, "pad"),
                 g.const(1.0))
        high, low = pieces(np.pad(W, ((0, 0), (0, MATMUL_BLOCK - width))), 2, 24)
        return g.op("MatMul", g.op("ConcatV2", u, u, g.axis(1), N=2),
                    g.const(np.concatenate([low, high], axis=1).T),
                    transpose_a=False, transpose_b=False)
    u = g.op("PadV2", both, g.const([[0, 0], [0, 1]], np.int32, "pad"), g.const(1.0))
    hi, lo = split12(g, u)
    once = g.op("ConcatV2", hi, lo, g.axis(1), N=2)  # [N, 2(2F + 1)]
    flat = np.stack(pieces(np.hstack([W, W]), SUM_PIECES, 12), axis=1).reshape(-1)
    every = g.op("ConcatV2", *[once] * (SUM_PIECES * K), g.axis(1), N=SUM_PIECES * K)
    products = g.op("Mul", every, g.const(flat))  # a flat constant: TF.js's fast elementwise path
    shaped = g.op("Reshape", products, g.const([-1, K, flat.size // K], np.int32, "shape"))
    return g.reduce("Sum", shaped, 2, False)


X_PIECES = 5  # exact_inputs' a (11 bits), then b and c (21 bits each) split in two


def exact_sums(g: Graph, x: str, x0: str, p: str, W: np.ndarray) -> str:
    """z [N, K] = Σ over [x (five exact pieces), x0 where |x| >= 1e30, p, 1] of the folded
    coefficients [A ×6, D, c] in four 12-bit pieces: every product exact, one Sum in double."""
    F = (W.shape[1] - 1) // 2
    A, D, c = W[:, :F], W[:, F:2 * F], W[:, 2 * F:]
    keys = g.placeholder(KEYS, keys_width(F))
    xa, xb, xc = raw_pieces(g, keys, F, list(range(F)))
    small = g.op("Less", g.op("Abs", x), g.const(EXACT_BELOW))  # false for NaN
    zero = g.op("ZerosLike", x0)
    parts = [g.where(small, piece, zero) for piece in (xa, *split12(g, xb), *split12(g, xc))]
    big = g.where(small, zero, x0)
    u = g.op("PadV2", g.op("ConcatV2", *parts, big, p, g.axis(1), N=X_PIECES + 2),
             g.const([[0, 0], [0, 1]], np.int32, "pad"), g.const(1.0))
    K = W.shape[0]
    flat = np.stack(pieces(np.hstack([A] * (X_PIECES + 1) + [D, c]), SUM_PIECES, 12),
                    axis=1).reshape(-1)
    every = g.op("ConcatV2", *[u] * (SUM_PIECES * K), g.axis(1), N=SUM_PIECES * K)
    products = g.op("Mul", every, g.const(flat))
    shaped = g.op("Reshape", products, g.const([-1, K, flat.size // K], np.int32, "shape"))
    return g.reduce("Sum", shaped, 2, False)


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


def argmax(g: Graph, z: str) -> str:
    return g.op("ArgMax", z, g.const(1, np.int32, "axis"))


def _value(model: ir.Model, g: Graph, x: str, exact: bool = False) -> dict[str, str]:
    z = decision_values(model, g, x, SATURATE_VALUE, exact=exact)
    return {"value": beyond_float32(model, g, x, z)}


def _binary(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    """A float32 rewrite of `arithmetic.binary_link`: River's label is True iff p > 1 - p, i.e.
    z > 0, and 1 - p in float32 loses what p keeps, so the graph computes [-z, z] (exact
    negatives) and TF.js's Sigmoid of both. ArgMax takes the first of a tie: False at z = 0, as
    River. Beyond ±SIGMOID_CLAMP River's sigmoid is exactly 0 / 1, float32's within 9.4e-14."""
    z2 = decision_values(model, g, x, SATURATE, negate_first=True)
    return {"probabilities": g.op("Sigmoid", z2), "label": argmax(g, z2)}


def _softmax(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    """`arithmetic.softmax_link` is TF.js's Softmax kernel (it shifts by the row's max too)."""
    z = decision_values(model, g, x, SATURATE)
    return {"probabilities": g.op("Softmax", z), "label": argmax(g, z)}


def _one_vs_rest(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    z = decision_values(model, g, x, SATURATE)
    o = TfjsOps(g)
    probabilities = arithmetic.normalised(o, arithmetic.ovr_link(o, z))
    return {"probabilities": probabilities, "label": argmax(g, arithmetic.sigmoid_rank(o, z))}


LINKS = {"identity": _value, "sigmoid": _binary, "softmax": _softmax, "ovr_sigmoid": _one_vs_rest}


def emit_linear(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    """Outputs of a model whose estimator is Linear; labels come from z, not from float32
    probabilities (which can tie where River's do not)."""
    link = model.estimator.link
    if link not in LINKS:
        raise ValueError(f"TF.js has no rule for the link {link!r}; it knows {sorted(LINKS)}")
    if link == "identity":
        return _value(model, g, x, exact=reads_the_graph_input(g, x, model))
    return LINKS[link](model, g, x)


def reads_the_graph_input(g: Graph, x: str, model: ir.Model) -> bool:
    """Whether `x` is the graph's raw input placeholder, in `model`'s schema (the `keys` input
    then holds the same columns at float64 precision)."""
    node = next((n for n in g.nodes if n["name"] == x), None)
    if node is None or node["op"] != "Placeholder" or x == KEYS:
        return False
    dims = node["attr"]["shape"]["shape"].get("dim", [])
    return len(dims) == 2 and int(dims[1]["size"]) == len(model.schema.columns)


@register_emitter(FORMAT, ir.Linear)
def linear(est: ir.Linear, ctx: Context) -> dict[str, str]:
    """The model's transforms are folded into the weights (see the module docstring): it reads
    the whole model, `ctx.model`, with `ctx.x` its raw input; steps the fold cannot express
    (Ordinal, ...) are emitted as graph ops first."""
    emitter_for(FORMAT, ctx.model.transform)  # refuses a transform the format cannot express
    model, x = emit_unfoldable_prefix(ctx.model, ctx.graph, ctx.x)
    return emit_linear(model, ctx.graph, x)
