"""Order keys: a float64 as two int32 words that compare, hi word first, in the number's order.

TF.js has no float64, and rounding an input to float32 moves rows within float32 rounding of a
split threshold to the other side. A tree artifact therefore also takes each input as its key:
the IEEE-754 bits made order-preserving (negative numbers inverted, positive ones with the sign
bit set), read as an unsigned 64-bit number, then split into hi and lo words, each shifted into
signed int32 range (xor 0x80000000) so TF.js's signed compares order them.
`x <= t` for float64 x and t is exactly `hi(x) < hi(t) or (hi(x) == hi(t) and lo(x) <= lo(t))`.

-0.0 is written as +0.0 (they compare equal); NaN (missing) is MISSING in both words, a bit
pattern no number has. The JavaScript client (js/src/estuary.js, `orderKeys`) writes the same
words; tests compare the two.
"""

from __future__ import annotations

import numpy as np

SIGN = np.uint64(1 << 63)
WORD = np.uint64(0xFFFFFFFF)
MISSING = 0x7FFFFFFF  # hi and lo of a NaN: above the key of +inf, below no number's key
BELOW_ALL = 0x7FFFFFFE  # hi word of no number, not MISSING either: "never equal"


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


def words(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo) int32 words of uint64 keys, each in signed order."""
    keys = np.asarray(keys, dtype=np.uint64)
    flip = np.uint64(0x80000000)
    hi = ((keys >> np.uint64(32)) ^ flip).astype(np.uint32).view(np.int32)
    lo = ((keys & WORD) ^ flip).astype(np.uint32).view(np.int32)
    return hi, lo


def encode(X: np.ndarray) -> np.ndarray:
    """int32 [N, 2F] for a float64 matrix [N, F]: the hi words of every column, then the lo
    words; NaN → MISSING in both. What the JavaScript client feeds a tree's `keys` input."""
    X = np.asarray(X, dtype=np.float64)
    nan = np.isnan(X)
    hi, lo = words(key64(np.where(nan, 0.0, X)))
    hi = np.where(nan, MISSING, hi).astype(np.int32)
    lo = np.where(nan, MISSING, lo).astype(np.int32)
    return np.concatenate([hi, lo], axis=1)
