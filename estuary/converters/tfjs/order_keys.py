"""Order keys: a float64 as three whole numbers that compare, first word first, in its order.

TF.js has no float64, and rounding an input to float32 moves rows within float32 rounding of a
split threshold to the other side. A tree artifact therefore also takes each input as its key:
the IEEE-754 bits made order-preserving (negative numbers inverted, positive ones with the sign
bit set), read as an unsigned 64-bit number, then cut into words of 22, 21 and 21 bits: whole
numbers below 2^22, exact in float32 and in every float32 sum or difference of two of them.
`x <= t` for float64 x and t is exactly the lexicographic `words(x) <= words(t)`.

The `keys` input of a tree, float32 [N, 4F + 1]: the first words of the F inputs, then the
second words, the third words, F missing flags (1.0 where the input is NaN; its words are 0),
and a last column of 1.0 (it carries the thresholds into the graph's first MatMul).
-0.0 is written as +0.0 (they compare equal). The JavaScript client (js/src/estuary.js,
`orderKeys`) writes the same matrix; a test compares the two.
"""

from __future__ import annotations

import numpy as np

KEYS = "keys"  # the graph input's name (the JavaScript client writes it when a graph takes it)
SIGN = np.uint64(1 << 63)
WIDTHS = (22, 21, 21)  # bits of the three words, most significant first


def key64(x: np.ndarray) -> np.ndarray:
    """uint64 order keys of float64 values (not NaN): a <= b  ⇔  key64(a) <= key64(b)."""
    x = np.where(np.asarray(x, dtype=np.float64) == 0.0, 0.0, x)  # -0.0 → +0.0
    bits = x.view(np.uint64) if x.ndim else np.array([x]).view(np.uint64)
    keys = np.where(bits & SIGN, ~bits, bits | SIGN)
    return keys.reshape(np.shape(x))


def from_key64(keys: np.ndarray) -> np.ndarray:
    """The float64 whose key is `keys` (inverse of key64, -0.0 for the key just below +0.0)."""
    keys = np.asarray(keys, dtype=np.uint64)
    bits = np.where(keys & SIGN, keys ^ SIGN, ~keys)
    return bits.view(np.float64)


def words(keys: np.ndarray) -> np.ndarray:
    """[..., 3] float64 words (whole numbers below 2^22) of uint64 keys, most significant first."""
    keys = np.asarray(keys, dtype=np.uint64)
    out = []
    shift = 64
    for width in WIDTHS:
        shift -= width
        out.append(((keys >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.float64))
    return np.stack(out, axis=-1)


def width(n_columns: int) -> int:
    """Columns of the `keys` matrix for `n_columns` inputs (see the module docstring)."""
    return 4 * n_columns + 1


def encode(X: np.ndarray) -> np.ndarray:
    """The `keys` matrix float32 [N, 4F + 1] of a float64 matrix [N, F] (see the module
    docstring): what the JavaScript client feeds a tree."""
    X = np.asarray(X, dtype=np.float64)
    nan = np.isnan(X)
    w = np.where(nan[..., None], 0.0, words(key64(np.where(nan, 0.0, X))))
    ones = np.ones((X.shape[0], 1))
    return np.concatenate([w[..., 0], w[..., 1], w[..., 2], nan.astype(np.float64), ones],
                          axis=1).astype(np.float32)
