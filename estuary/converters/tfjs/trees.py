"""TF.js for IR trees: exact float64 routing from order keys, leaves in float32.

Routing. A split `z <= t` reads an estimator column z made from one raw input x by Select,
Scale and OneHot steps, each monotone in x; so on float64 inputs the split is `x <= T` for one
float64 T (or always / never), found here by bisecting x's order keys with the IR's own
transform evaluation, and a missing x goes one fixed way (the recorded side, or where OneHot's
0.0 goes). The graph compares the `keys` input (order_keys.py: each float64 as two int32 words,
the encoding the JavaScript client writes) with T's words: no rounding anywhere, so every row
lands in River's leaf, threshold rows and their float64 neighbours included.

Every split is decided at once ([N, B] booleans), then one MatMul against a path matrix
(+1 where a leaf's path goes left, -1 where it goes right) scores each leaf; the leaf whose path
the row follows scores exactly its number of left turns, every other leaf less (small whole
numbers: exact in float32), so ArgMax of score - lefts is the leaf.

Leaves. Majority-class leaves gather their probabilities and River's label (chosen in float64
at export). Naive-Bayes leaves compute River's votes from the float32 `input`: within float32
tolerance of River's probabilities, and a label can differ where two classes' votes are within
float32 rounding of each other. Mean leaves gather; linear-model leaves add float32 products in
double (TF.js's cpu Sum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.evaluate import gather
from ...ir.evaluate import transform as ir_transform
from ...ir.features import Ordinal
from ...ir.trees import NaiveBayesLeaves, TreeClassifier, TreeRegressor, TreeStructure
from ..registry import EMITTERS, register_emitter
from . import order_keys
from .graph import Graph
from .transforms import FORMAT, emit_transform, take

KEYS = "keys"
MONOTONE = (ir.Select, ir.Scale, ir.OneHot)
ROUTING_REASON = ("a split column is not one raw input through Select / Scale / OneHot steps, so "
                  "its float64 threshold has no exact form on the raw input; export to ONNX")


def _refuse(est: ir.Estimator, reason: str) -> UnsupportedModelError:
    have = sorted(t.__name__ for f, t in EMITTERS if f == FORMAT)
    return UnsupportedModelError(type(est).__name__, have, reason=reason)


def raw_sources(step: ir.Transform, columns: dict[str, str]) -> dict[str, str]:
    """Output column → the one raw input it is made from, through monotone steps only
    (Select, Scale with a finite positive or zero divisor, OneHot; Chain and Union of them)."""
    if isinstance(step, ir.Chain):
        for s in step.steps:
            columns = raw_sources(s, columns)
        return columns
    if isinstance(step, ir.Select):
        return {c: columns[c] for c in step.columns if c in columns}
    if isinstance(step, ir.Scale):
        ok = [np.isfinite(o) and np.isfinite(d) and d >= 0
              for o, d in zip(step.offset, step.divisor)]
        return {c: columns[c] for c, good in zip(step.columns, ok) if good and c in columns}
    if isinstance(step, ir.OneHot):
        return {t: columns[s] for s, t in zip(step.source, step.target) if s in columns}
    if isinstance(step, ir.Union):
        out: dict[str, str] = {}
        for b in step.branches:
            for c, raw in raw_sources(b, columns).items():
                out.setdefault(c, raw)  # River's union: the first branch wins a duplicate
        return out
    return {}


def whole_number_columns(step: ir.Transform, columns: frozenset[str]) -> frozenset[str]:
    """Output columns the float32 graph computes exactly: Ordinal codes (whole numbers below
    2^24, or NaN), through Select and Union. A split on one is exact in float32 against the
    largest float32 at or below its threshold."""
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
    input `column[b]`'s order key: left when key <= (hi[b], lo[b]) or when missing and
    `missing_left[b]`. Another split reads estimator column `column[b]` (whole numbers in
    float32): left when z <= bound[b] or when z is NaN and `missing_left[b]`."""

    keyed: np.ndarray  # bool [B]
    column: np.ndarray  # int [B]
    hi: np.ndarray  # int32 [B]
    lo: np.ndarray  # int32 [B]
    bound: np.ndarray  # float32 [B]
    missing_left: np.ndarray  # bool [B]

    def part(self, keep: np.ndarray) -> Splits:
        return Splits(*(f[keep] for f in (self.keyed, self.column, self.hi, self.lo, self.bound,
                                          self.missing_left)))


def float32_at_or_below(t: np.ndarray) -> np.ndarray:
    f = np.asarray(t, dtype=np.float64).astype(np.float32)
    return np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f)


def tree_splits(model: ir.Model, est: TreeClassifier | TreeRegressor) -> Splits:
    """Every split of `est`: on raw order keys where its column is one raw input through
    monotone steps, else on a whole-number column; anything else is refused."""
    tree = est.tree
    branches = tree.branches
    raw_columns = model.schema.columns
    sources = raw_sources(model.transform, {c: c for c in raw_columns})
    whole = whole_number_columns(model.transform, frozenset())
    names = [est.columns[tree.feature[b]] for b in branches]
    if not all(c in sources or c in whole for c in names):
        raise _refuse(est, ROUTING_REASON)
    keyed = np.array([c in sources for c in names], dtype=bool)
    raw_index = {c: i for i, c in enumerate(raw_columns)}
    t = np.array([tree.threshold[b] for b in branches], dtype=np.float64)
    nan_left = np.array([tree.missing_left[b] for b in branches], dtype=bool)
    column = np.array([raw_index[sources[c]] if c in sources else tree.feature[b]
                       for c, b in zip(names, branches)], dtype=int)
    hi = np.zeros(len(branches), np.int32)
    lo = np.zeros(len(branches), np.int32)
    missing_left = nan_left.copy()
    if keyed.any():
        k = np.flatnonzero(keyed)
        hi[k], lo[k], missing_left[k] = raw_thresholds(
            model, [names[i] for i in k], column[k], t[k], nan_left[k])
    return Splits(keyed, column, hi, lo, float32_at_or_below(t), missing_left)


def raw_thresholds(model: ir.Model, targets: list[str], column: np.ndarray, t: np.ndarray,
                   nan_left: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hi, lo, missing_left) per split `targets[b] <= t[b]`: the key words of the largest raw
    float64 T of input `column[b]` that goes left (bisection of order keys, routing by the IR's
    own transform evaluation), and where a missing raw input goes."""
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
    # the largest key T in [low, high] whose number goes left (low - 1: none does); bisection
    # keeps `a` a key that goes left (or low - 1) and `b` one that goes right
    a = np.where(goes_left(np.full(n, -np.inf)), low, low - np.uint64(1))
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
    if not (at[T >= low].all() and not above[T < high].any()):
        raise AssertionError("a tree split is not monotone in its raw input")
    hi, lo = order_keys.words(T)
    return hi, lo, goes_left(np.full(n, np.nan))


def _keyed_turns(s: Splits, g: Graph, keys: str, n_raw: int) -> str:
    hi = g.gather_columns(keys, s.column.tolist())
    lo = g.gather_columns(keys, (s.column + n_raw).tolist())
    th = g.const(s.hi, np.int32, "t_hi")
    le = g.op("LogicalOr", g.op("Less", hi, th), g.op("LogicalAnd", g.op("Equal", hi, th), g.op(
        "LessEqual", lo, g.const(s.lo, np.int32, "t_lo"))))
    missing = np.where(s.missing_left, order_keys.MISSING, order_keys.BELOW_ALL)
    return g.op("LogicalOr", le, g.op("Equal", hi, g.const(missing, np.int32, "missing")))


def _whole_number_turns(s: Splits, g: Graph, z: str) -> str:
    zb = g.gather_columns(z, s.column.tolist())
    le = g.op("LessEqual", zb, g.const(s.bound))
    if not s.missing_left.any():
        return le
    nan = g.op("LogicalAnd", g.op("IsNan", zb), g.const(s.missing_left, np.bool_))
    return g.op("LogicalOr", le, nan)


def leaf_index(tree: TreeStructure, splits: Splits, g: Graph, keys: str, n_raw: int,
               z: Callable[[], str]) -> str:
    """int32 [N]: the leaf each row lands in (see the module docstring); `z()` gives the
    float32 estimator columns."""
    if not tree.branches:  # one leaf: a split that every row passes to the left
        hi, lo = order_keys.words(order_keys.key64(np.array([np.inf])))
        splits = Splits(np.array([True]), np.array([0]), hi, lo, np.zeros(1, np.float32),
                        np.array([True]))
        paths = np.ones((1, 1))
    else:
        paths = path_matrix(tree)
    parts = []
    if splits.keyed.any():
        parts.append(_keyed_turns(splits.part(splits.keyed), g, keys, n_raw))
    if not splits.keyed.all():
        parts.append(_whole_number_turns(splits.part(~splits.keyed), g, z()))
    order = np.concatenate([np.flatnonzero(splits.keyed), np.flatnonzero(~splits.keyed)])
    left = parts[0] if len(parts) == 1 else g.op("ConcatV2", *parts, g.axis(1), N=2)
    turns = g.op("Cast", left, SrcT=np.bool_, DstT=np.float32)
    score = g.op("MatMul", turns, g.const(paths[order]))
    lefts = (paths > 0).sum(axis=0)
    return g.op("ArgMax", g.op("Sub", score, g.const(lefts)), g.axis(1))


def path_matrix(tree: TreeStructure) -> np.ndarray:
    """[B, L]: +1 where leaf l's path goes left at branch b, -1 where it goes right."""
    row = {b: k for k, b in enumerate(tree.branches)}
    paths = np.zeros((len(row), tree.n_leaves))
    stack = [(0, [])]
    while stack:
        node, turns = stack.pop()
        if tree.leaf[node] >= 0:
            for b, sign in turns:
                paths[row[b], tree.leaf[node]] = sign
            continue
        stack.append((tree.left[node], [*turns, (node, 1.0)]))
        stack.append((tree.right[node], [*turns, (node, -1.0)]))
    return paths


def _gather(g: Graph, table, leaf: str, dtype=np.float32) -> str:
    return g.op("GatherV2", g.const(table, dtype, "leaf_table"), leaf, g.axis(0), batch_dims=0)


def naive_bayes_votes(nb: NaiveBayesLeaves, g: Graph, x: str, leaf: str,
                      n_columns: int) -> tuple[str, str]:
    """(votes [N, C], present [N, C] as 0/1): River's `do_naive_bayes_prediction` in float32
    over the row's leaf tables; an absent class votes float32's lowest number."""
    L, C = len(nb.prior), len(nb.prior[0])
    shape = (L, n_columns, C)

    def table(values, dtype=np.float64) -> np.ndarray:
        return np.asarray(values, dtype=dtype).reshape(shape)

    gauss_on, cat_on = table(nb.gauss_on, bool), table(nb.cat_on, bool)
    offset = nb.half_log_tau + table(nb.log_sd)  # folded in float64
    x3 = g.op("ExpandDims", x, g.axis(2))
    t = g.op("Sub", g.op("RealDiv", g.op("SquaredDifference", x3, _gather(g, table(nb.mu), leaf)),
                         _gather(g, table(nb.neg2var), leaf)), _gather(g, offset, leaf))
    # a term counts where the column is Gaussian and t is finite: NaN (missing) and -inf fail
    counts = g.op("LogicalAnd", _gather(g, gauss_on, leaf, np.bool_),
                  g.op("Greater", t, g.const(-np.inf)))
    zero = g.const(0.0)
    terms = g.where(counts, t, zero)
    if cat_on.any():
        cat = g.op("LogicalAnd", _gather(g, cat_on, leaf, np.bool_),
                   g.op("Equal", x3, g.const(1.0)))
        terms = g.op("AddV2", terms, g.where(cat, _gather(g, table(nb.cat_log), leaf), zero))
    present = np.asarray(nb.present, dtype=bool)
    prior = np.where(present, np.asarray(nb.prior, dtype=np.float64), -np.inf)
    votes = g.op("AddV2", _gather(g, prior, leaf), g.reduce("Sum", terms, 1, False))
    return votes, _gather(g, present.astype(np.float32), leaf)


def river_labels(probs: np.ndarray) -> np.ndarray:
    """The class River's majority-class leaf predicts: the first of the largest (float64)."""
    return np.argmax(probs, axis=1).astype(np.int32)


def emit_tree(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    """The tree estimator of `model`; `x` is the float32 input [N, F] in schema order."""
    est = model.estimator
    n_raw = len(model.schema.columns)
    if n_raw == 0:
        raise _refuse(est, "the model reads no input column")
    splits = tree_splits(model, est)
    keys = g.placeholder(KEYS, 2 * n_raw, np.int32)
    made: list[str] = []

    def columns_x() -> str:  # float32 estimator columns, made once, only where they are read
        if not made:
            z, cols = emit_transform(model.transform, g, x, model.schema.columns)
            made.append(take(g, z, cols, est.columns))
        return made[0]

    leaf = leaf_index(est.tree, splits, g, keys, n_raw, columns_x)

    if isinstance(est, TreeClassifier):
        probs_table = np.asarray(est.class_probs, dtype=np.float64)
        probs = _gather(g, probs_table, leaf)
        label = _gather(g, river_labels(probs_table), leaf, np.int32)
        if est.nb is not None and any(est.naive_bayes):
            votes, present = naive_bayes_votes(est.nb, g, columns_x(), leaf, len(est.columns))
            use_nb = np.asarray(est.naive_bayes, dtype=bool)
            wide = np.repeat(use_nb[:, None], probs_table.shape[1], axis=1)
            probs = g.where(_gather(g, wide, leaf, np.bool_),
                            g.op("Mul", g.op("Softmax", votes), present), probs)
            label = g.where(_gather(g, use_nb, leaf, np.bool_),
                            g.op("ArgMax", votes, g.axis(1)), label)
        return {"probabilities": probs, "label": label}
    value = _gather(g, est.means, leaf)
    if any(est.model):
        W = np.asarray(est.weights, dtype=np.float64).reshape(len(est.means), len(est.columns))
        dot = g.reduce("Sum", g.op("Mul", g.nan_to_zero(columns_x()), _gather(g, W, leaf)), 1,
                       False)
        z = g.op("AddV2", dot, _gather(g, est.intercepts, leaf))
        value = g.where(_gather(g, est.model, leaf, np.bool_), z, value)
    return {"value": value}


@register_emitter(FORMAT, TreeClassifier)
@register_emitter(FORMAT, TreeRegressor)
def _needs_the_model(est: ir.Estimator, g: Graph, x: str) -> dict[str, str]:
    """Registered so that the support matrix and `emitter_for` know TF.js writes trees; a tree
    reads raw inputs' keys, so `build_graph` calls `emit_tree` with the whole model instead."""
    raise _refuse(est, "a tree inside another model (an ensemble) is not written for TF.js; "
                  "export it to ONNX")
