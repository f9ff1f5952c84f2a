"""`exp` as Spark SQL arithmetic, bit for bit `java.lang.StrictMath.exp` (what Spark's `EXP`
calls: fdlibm's e_exp, on Java 17 ported to Java) on |x| <= 42; other arguments (NaN, ±inf,
overflow, underflow, subnormal results) go to `EXP` itself.

Why: inside Spark's generated code `EXP` cost ~30 ns a row, a quarter of the executors' CPU
scoring a logistic regression (benchmarks/README.md, "Batch scoring at scale"). Java's +, -, *,
/ are IEEE-754 double and never fused, so fdlibm's operations written in its order give its
bits. Its steps, over three kept values (`SqlOps.exp` keeps each in a projection of its own):

    k  = 0 if |x| <= 0.5 ln2 (by its high word), else trunc(x / ln2 ± 1/2)  (`reduction`)
    r  = (x - k·ln2hi) - k·ln2lo,  2^k (exact: shifted longs, no POWER)     (`reduced`, `scale`)
    c  = r - r²(P1 + r²(P2 + r²(P3 + r²(P4 + r²·P5))))
    e^x = (1 - ((k·ln2lo - r·c / (2 - c)) - (x - k·ln2hi))) · 2^k; 1 + x when |x| < 2^-28

fdlibm's k = 0 branch, 1 - ((x·c) / (c - 2) - x), is the same doubles as the general one with
k = 0 (c - 2 = -(2 - c) and 0 - q = -q exactly), and its |x| < 1.5 ln2 branch (k = ±1)
is the general one's k there; so one formula, checked against Spark's `EXP` on millions of
arguments in tests/test_spark_sql.py.
"""

from __future__ import annotations

import struct

# fdlibm e_exp.c's constants (the hex is their bits there)
LN2_HI = 6.93147180369123816490e-01  # 0x3fe62e42 fee00000
LN2_LO = 1.90821492927058770002e-10  # 0x3dea39ef 35793c76
INV_LN2 = 1.44269504088896338700e+00  # 0x3ff71547 652b82fe
P = (1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05,
     -1.65339022054652515390e-06, 4.13813679705723846039e-08)
K_ZERO = struct.unpack(">d", bytes.fromhex("3fd62e4300000000"))[0]  # high word > 0x3fd62e42
TINY = 2.0 ** -28  # high word < 0x3e300000: e^x = 1 + x
LIMIT = 42.0  # |k| <= 61: 2^k from two shifts of 1L; beyond, `EXP`
SHIFT = 62  # 2^k = 2^((k + 62) >> 1) · 2^((k + 63) >> 1) · 2^-62, each factor exact


def _d(v: float) -> str:
    return f"({v!r}D)" if v < 0 else f"{v!r}D"


def reduction(x: str) -> str:
    """k as a double. `x`: an atom."""
    return (f"CASE WHEN abs({x}) < {_d(K_ZERO)} THEN 0.0D ELSE CAST(CAST({_d(INV_LN2)} * {x} + "
            f"signum({x}) * 0.5D AS INT) AS DOUBLE) END")


def reduced(x: str, k: str) -> str:
    """r = hi - lo, hi = x - k·ln2hi (exact), lo = k·ln2lo. `x`, `k`: atoms."""
    return f"({x} - {k} * {_d(LN2_HI)} - {k} * {_d(LN2_LO)})"


def scale(k: str) -> str:
    """2^k for |k| <= 62, exactly: two powers of two from shifted longs, then 2^-62."""
    i = f"CAST({k} AS INT)"
    return (f"(CAST(shiftleft(1L, shiftright({i} + {SHIFT}, 1)) AS DOUBLE) * "
            f"CAST(shiftleft(1L, shiftright({i} + {SHIFT + 1}, 1)) AS DOUBLE) * "
            f"{_d(2.0 ** -SHIFT)})")


def polynomial(r: str) -> str:
    """c = r - r²(P1 + r²(P2 + r²(P3 + r²(P4 + r²·P5))))."""
    t = f"{r} * {r}"
    poly = _d(P[4])
    for p in reversed(P[:4]):
        poly = f"({_d(p)} + {t} * {poly})"
    return f"({r} - {t} * {poly})"


def result(x: str, k: str, r: str, c: str, s: str, fallback: str) -> str:
    """e^x from the kept k, r, c and 2^k (`s`); `fallback` (EXP(x)) beyond LIMIT and on NaN.
    `x`: an atom."""
    y = (f"(1.0D - ({k} * {_d(LN2_LO)} - {r} * {c} / (2.0D - {c}) - ({x} - {k} * "
         f"{_d(LN2_HI)})))")
    return (f"CASE WHEN abs({x}) < {_d(TINY)} THEN 1.0D + {x} WHEN abs({x}) <= {_d(LIMIT)} "
            f"THEN {y} * {s} ELSE {fallback} END")
