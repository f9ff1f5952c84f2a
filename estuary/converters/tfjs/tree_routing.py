"""Exact float64 routing of an IR tree in float32 TF.js ops: every row to River's leaf.

A split `z <= t` reads an estimator column z made from one raw input x by Select, Scale,
OneHot and Fill steps, each monotone in x; so on float64 inputs the split is `x <= T` for one float64 T
(or always / never), found here by bisecting x's order keys with the IR's own transform
evaluation, and a missing x goes one fixed way (the recorded side, or where OneHot's 0.0 goes).
The graph compares the `keys` input (order_keys.py: each float64 as three whole-number words,
written by the JavaScript client) with T's words, all in exact float32 arithmetic:

    D = [keys | 1] · Pick     per split: its input's three words minus T's, its missing flag
    σ = sign(sign(D) · W)     8·σ1 + 4·σ2 + 2·σ3 ∓ 16·missing - 1 < 0 exactly when left: -1
    leaf = relu(σ · P + bias) 1.0 at the row's leaf, 0.0 elsewhere (see leaf_indicator)

Splits on Ordinal codes (whole numbers, exact in float32) compare the float32 column with the
largest float32 at or below t. Anything else is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ... import ir
from ...ir.elementwise import Fill
from ...ir.evaluate import gather
from ...ir.evaluate import transform as ir_transform
from ...ir.features import Ordinal
from ...ir.trees import TreeStructure
from . import order_keys
from .graph import Graph

ROUTING_REASON = ("a split column is not one raw input through Select / Scale / OneHot / Fill steps, so "
                  "its float64 threshold has no exact form on the raw input; export to ONNX")


class NotRoutable(ValueError):
    """A split that has no exact form here (the caller refuses the model with ROUTING_REASON)."""


def raw_sources(step: ir.Transform, columns: dict[str, str],
                names: tuple[str, ...] | None = None) -> dict[str, str]:
    """Output column → the one raw input it is made from, through monotone steps only
    (Select, Scale with a finite divisor >= 0, OneHot, Fill; Chain and Union of them). `names` are
    all the step's input columns (default: `columns`' keys)."""
    names = tuple(columns) if names is None else names
    if isinstance(step, ir.Chain):
        for s in step.steps:
            columns, names = raw_sources(s, columns, names), s.output_columns(names)
        return columns
    if isinstance(step, ir.Select):
        return {c: columns[c] for c in step.columns if c in columns}
    if isinstance(step, ir.Scale):
        ok = [np.isfinite(o) and np.isfinite(d) and d >= 0
              for o, d in zip(step.offset, step.divisor)]
        return {c: columns[c] for c, good in zip(step.columns, ok) if good and c in columns}
    if isinstance(step, ir.OneHot):
        return {t: columns[s] for s, t in zip(step.source, step.target) if s in columns}
    if isinstance(step, Fill):  # the identity where present; a missing input's side is found
        return dict(columns)    # by evaluating the fill (`raw_thresholds` routes NaN through it)
    if isinstance(step, ir.Union):
        out: dict[str, str] = {}
        taken: set[str] = set()
        for b in step.branches:  # River's union: the first branch wins a duplicate column,
            mapped = raw_sources(b, columns, names)  # routable or not
            out.update({c: raw for c, raw in mapped.items() if c not in taken})
            taken.update(b.output_columns(names))
        return out
    return {}


def whole_number_columns(step: ir.Transform, columns: frozenset[str]) -> frozenset[str]:
    """Output columns the float32 graph computes exactly: Ordinal codes (whole numbers below
    2^24, or NaN), through Select and Union."""
    if isinstance(step, ir.Chain):
        for s in step.steps:
            columns = whole_number_columns(s, columns)
        return columns
    if isinstance(step, ir.Select):
        return frozenset(c for c in step.columns if c in columns)
    if isinstance(step, Ordinal):
        return frozenset(step.targets)
    if isinstance(step, ir.Union):
        return frozenset().union(*(whole_number_columns(b, columns) for b in step.branches))
    return frozenset()


@dataclass(frozen=True)
class Splits:
    """Every split of a tree in the form the graph tests. A keyed split (`keyed[b]`) reads raw
    input `column[b]`: left when its key <= `words[b]` or when it is missing and
    `missing_left[b]`. Another reads estimator column `column[b]` (whole numbers in float32):
    left when z <= bound[b] or when z is NaN and `missing_left[b]`."""

    keyed: np.ndarray  # bool [B]
    column: np.ndarray  # int [B]
    words: np.ndarray  # float64 [B, 3]
    bound: np.ndarray  # float32 [B]
    missing_left: np.ndarray  # bool [B]

    def part(self, keep: np.ndarray) -> Splits:
        return Splits(self.keyed[keep], self.column[keep], self.words[keep], self.bound[keep],
                      self.missing_left[keep])


def float32_at_or_below(t: np.ndarray) -> np.ndarray:
    f = np.asarray(t, dtype=np.float64).astype(np.float32)
    return np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f)


def tree_splits(model: ir.Model, columns: tuple[str, ...], tree: TreeStructure) -> Splits:
    """Every split of `tree` (reading estimator `columns`) in one of the two exact forms."""
    branches = tree.branches
    sources = raw_sources(model.transform, {c: c for c in model.schema.columns})
    whole = whole_number_columns(model.transform, frozenset())
    names = [columns[tree.feature[b]] for b in branches]
    if not all(c in sources or c in whole for c in names):
        raise NotRoutable(ROUTING_REASON)
    keyed = np.array([c in sources for c in names], dtype=bool)
    t = np.array([tree.threshold[b] for b in branches], dtype=np.float64)
    nan_left = np.array([tree.missing_left[b] for b in branches], dtype=bool)
    column = np.array([tree.feature[b] for b in branches], dtype=int)  # whole-number splits
    words, missing_left = np.zeros((len(branches), 3)), nan_left.copy()
    if keyed.any():
        k = np.flatnonzero(keyed)
        raw = keyed_splits(model, [names[i] for i in k], t[k], nan_left[k], sources)
        column[k], words[k], missing_left[k] = raw.column, raw.words, raw.missing_left
    return Splits(keyed, column, words, float32_at_or_below(t), missing_left)


def keyed_splits(model: ir.Model, targets: list[str], t: np.ndarray, nan_left: np.ndarray,
                 sources: dict[str, str] | None = None) -> Splits:
    """The splits `targets[b] <= t[b]` (NaN: `nan_left[b]`) as splits on raw inputs' keys;
    NotRoutable unless every target is one raw input through monotone steps."""
    raw_columns = model.schema.columns
    if sources is None:
        sources = raw_sources(model.transform, {c: c for c in raw_columns})
    if not all(c in sources for c in targets):
        raise NotRoutable(ROUTING_REASON)
    column = np.array([raw_columns.index(sources[c]) for c in targets], dtype=int)
    keys, missing_left = raw_thresholds(model, targets, column, t, nan_left)
    return Splits(np.ones(len(targets), bool), column, order_keys.words(keys),
                  float32_at_or_below(t), missing_left)


def raw_thresholds(model: ir.Model, targets: list[str], column: np.ndarray, t: np.ndarray,
                   nan_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keys, missing_left) per split `targets[b] <= t[b]`: the order key of the largest raw
    float64 T of input `column[b]` that goes left (bisection of order keys, routing by the IR's
    own transform evaluation; key(-inf) - 1 where none does), and where a missing input goes."""
    raw_columns = model.schema.columns
    n = len(targets)

    def goes_left(x: np.ndarray) -> np.ndarray:  # the IR's routing of raw value x[b] at split b
        X = np.full((n, len(raw_columns)), np.nan)
        X[np.arange(n), column] = x
        Z = gather(ir_transform(model.transform, (X, raw_columns)), tuple(targets))
        z = Z[np.arange(n), np.arange(n)]
        with np.errstate(invalid="ignore"):
            return np.where(np.isnan(z), nan_left, z <= t)

    low = order_keys.key64(np.full(n, -np.inf))
    high = order_keys.key64(np.full(n, np.inf))
    everything_left = goes_left(np.full(n, np.inf))
    anything_left = goes_left(np.full(n, -np.inf))
    # bisection keeps `a` a key that goes left (or low - 1) and `b` one that goes right
    a = np.where(anything_left, low, low - np.uint64(1))
    b = high.copy()
    todo = ~everything_left & (b - a > 1)
    while todo.any():
        mid = np.where(todo, a + (b - a) // np.uint64(2), high)
        left = goes_left(order_keys.from_key64(mid))
        a = np.where(todo & left, mid, a)
        b = np.where(todo & ~left, mid, b)
        todo &= b - a > 1
    T = np.where(everything_left, high, a)
    at = goes_left(order_keys.from_key64(np.maximum(T, low)))
    above = goes_left(order_keys.from_key64(np.minimum(T + np.uint64(1), high)))
    ends = (anything_left == (T >= low)) & (everything_left == (T == high))
    if not (at[T >= low].all() and not above[T < high].any() and ends.all()):
        raise NotRoutable("a tree split is not monotone in its raw input; export to ONNX")
    return T, goes_left(np.full(n, np.nan))


def path_matrix(tree: TreeStructure) -> np.ndarray:
    """[B, L]: +1 where leaf l's path goes left at branch b, -1 where it goes right."""
    row = {b: k for k, b in enumerate(tree.branches)}
    paths = np.zeros((len(row), tree.n_leaves))
    stack: list[tuple[int, list[tuple[int, float]]]] = [(0, [])]
    while stack:
        node, turns = stack.pop()
        if tree.leaf[node] >= 0:
            for b, sign in turns:
                paths[row[b], tree.leaf[node]] = sign
            continue
        stack.append((tree.left[node], [*turns, (node, 1.0)]))
        stack.append((tree.right[node], [*turns, (node, -1.0)]))
    return paths


# TF.js's cpu kernels: a MatMul product ~1 ns, a gathered element ~0.1 µs, a node ~2-3 µs
MATMUL_PICK = 100  # key columns up to which the split words are picked by a MatMul, not gathered
MATMUL_SPLITS = 32  # splits up to which their signs are weighed and added by a MatMul (5B·B)


def keyed_sides(s: Splits, g: Graph, keys: str, n_raw: int) -> str:
    """float32 [N, B]: -1.0 where the row goes left at keyed split b, +1.0 where it goes right.

    Per split, the signs of (its input's three words minus the threshold's) and its missing
    flag make s = 8·σ1 + 4·σ2 + 2·σ3 ∓ 16·missing - 1: odd, negative exactly when left."""
    B = len(s.column)
    index = np.hstack([np.arange(4)[None, :] * n_raw + s.column[:, None],
                       np.full((B, 1), 4 * n_raw)])  # [B, 5]: words, flag, the 1.0 column
    bounds = np.hstack([s.words, np.zeros((B, 2))])
    weights = np.tile([8.0, 4.0, 2.0, 0.0, -1.0], (B, 1))
    weights[:, 3] = np.where(s.missing_left, -16.0, 16.0)  # sign(flag) = flag
    if 4 * n_raw + 1 <= MATMUL_PICK:  # pick and subtract: one MatMul (the 1.0 column carries
        pick = np.zeros((4 * n_raw + 1, 5 * B))  # the thresholds), else a gather and a Sub
        pick[index.ravel(), np.arange(5 * B)] = 1.0
        pick[4 * n_raw] -= bounds.ravel()
        signs = g.op("Sign", g.op("MatMul", keys, g.const(pick)))
    else:
        signs = g.op("Sign", g.op("Sub", g.gather_columns(keys, index.ravel().tolist()),
                                  g.const(bounds.ravel())))
    if B <= MATMUL_SPLITS:  # weigh and add: one MatMul, else Mul, Reshape and Sum
        combine = np.zeros((5 * B, B))
        combine[np.arange(5 * B), np.repeat(np.arange(B), 5)] = weights.ravel()
        return g.op("Sign", g.op("MatMul", signs, g.const(combine)))
    weighted = g.op("Reshape", g.op("Mul", signs, g.const(weights.ravel())),
                    g.const([-1, B, 5], np.int32, "shape"))
    return g.op("Sign", g.reduce("Sum", weighted, 2, False))


def _whole_number_sides(s: Splits, g: Graph, z: str) -> str:
    zb = g.gather_columns(z, s.column.tolist())
    left = g.op("LessEqual", zb, g.const(s.bound))
    if s.missing_left.any():
        nan = g.op("LogicalAnd", g.op("IsNan", zb), g.const(s.missing_left, np.bool_))
        left = g.op("LogicalOr", left, nan)
    turns = g.op("Cast", left, SrcT=np.bool_, DstT=np.float32)
    return g.op("AddV2", g.op("Mul", turns, g.const(-2.0)), g.const(1.0))


ALWAYS_LEFT = Splits(np.array([True]), np.array([0]),
                     order_keys.words(order_keys.key64(np.array([np.inf]))),
                     np.zeros(1, np.float32), np.array([True]))  # a one-leaf tree's split


def routing_blocks(trees: list[TreeStructure], splits: list[Splits]
                   ) -> list[tuple[Splits, np.ndarray]]:
    """Each tree's splits and path matrix; a one-leaf tree gets a split every row passes to
    the left, on the path of its only leaf."""
    return [(ALWAYS_LEFT, np.ones((1, 1))) if not t.branches else (s, path_matrix(t))
            for t, s in zip(trees, splits)]


def leaf_bias(paths: np.ndarray) -> np.ndarray:
    """1 - depth_l / 2 per leaf: with the sides' -P/2 term, exactly 1 at the row's leaf."""
    return 1.0 - np.abs(paths).sum(axis=0) / 2.0


def concat_splits(parts: list[Splits]) -> Splits:
    return Splits(*(np.concatenate([getattr(p, f) for p in parts])
                    for f in ("keyed", "column", "words", "bound", "missing_left")))


def leaf_indicator(trees: list[TreeStructure], splits: list[Splits], g: Graph, keys: str,
                   n_raw: int, z: Callable[[], str] | None = None) -> str:
    """float32 [N, L1 + L2 + ...]: for each tree, 1.0 at the leaf the row lands in, 0.0 at its
    other leaves; `z()` gives the float32 estimator columns that whole-number splits read
    (one tree only).

    With sides σ_b = ∓1 (left / right) and paths P[b, l] = ±1 (leaf l's path turns left /
    right at b, 0 off its path): relu(1 - depth_l / 2 - Σ_b P[b, l] · σ_b / 2) is 1 at the leaf
    whose every turn the row takes, at most 0 at any other."""
    blocks = routing_blocks(trees, splits)
    every = concat_splits([b[0] for b in blocks])
    paths = np.zeros((len(every.column), sum(p.shape[1] for _, p in blocks)))
    r = c = 0
    for _, p in blocks:  # block diagonal: a tree's splits lead only to its own leaves
        paths[r:r + p.shape[0], c:c + p.shape[1]] = p
        r, c = r + p.shape[0], c + p.shape[1]
    parts = []
    if every.keyed.any():
        parts.append(keyed_sides(every.part(every.keyed), g, keys, n_raw))
    if not every.keyed.all():
        if z is None or len(trees) > 1:
            raise NotRoutable("an ensemble splits on a whole-number (Ordinal) column; export "
                              "it to ONNX")
        parts.append(_whole_number_sides(every.part(~every.keyed), g, z()))
    order = np.concatenate([np.flatnonzero(every.keyed), np.flatnonzero(~every.keyed)])
    sides = parts[0] if len(parts) == 1 else g.op("ConcatV2", *parts, g.axis(1), N=2)
    paths = paths[order]
    bias = leaf_bias(paths)
    # a MatMul even for big trees: TF.js's cpu gather costs ~0.1 µs an element, its MatMul ~1 ns
    # a product, so B·L products beat gathering each leaf's path (Σ depth elements) for any tree
    score = g.op("MatMul", sides, g.const(-paths / 2.0))
    return g.op("Relu", g.op("AddV2", score, g.const(bias)))
