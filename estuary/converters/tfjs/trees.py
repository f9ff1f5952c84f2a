"""TF.js for IR trees and tree ensembles: exact float64 routing (tree_routing.py), leaves in
float32.

The routing gives each row a 1.0 at its leaf in every tree; one MatMul of that indicator with a
table of every leaf's parameters (one row per leaf, each tree's in its own columns: exact, each
output is one table entry times 1.0) hands each row its leaves' parameters, then SplitV cuts
them apart. Past a table size where the MatMul would cost more, a single tree's leaf row is
gathered instead.

Classifiers: every leaf is written as naive Bayes. A naive-Bayes leaf has River's Gaussian
parameters and priors; a majority-class leaf none, and the log of its class probabilities as
priors (softmax gives them back). Votes: per (column, class), -t = ((x - mu) / sqrt(2 var))² +
log(sqrt(2π) sigma). Where every column the tree reads is a raw input through Select / Scale
(the usual case), x - mu is taken at float64 precision from the `keys` input (exact_inputs.py,
mu and the scaler folded into a raw-space centre in float64): the float32 input's own rounding,
which a leaf's small sigma magnifies, moved Bananas' probabilities 2-7e-5 past the 1e-5 float32
tolerance (a per-format rewrite of `arithmetic.leaf_gaussian_term`). Otherwise x is the float32
column, with 1 / sqrt(2 var) and mu / sqrt(2 var) folded in float64; a missing or
non-finite input adds nothing (River skips NaN, and beyond 1e154 its term is -inf, skipped too);
the terms are summed per class by a MatMul (TF.js's cpu kernel adds in double) and taken from
the priors; a class the leaf has not seen votes float32's lowest number. Probabilities are the
softmax of the votes, within float32 tolerance of River's. A single tree's label is the ArgMax
of the votes plus a bonus that a majority-class leaf puts on River's own choice (made in float64
at export), so those labels are exact; a naive-Bayes label can differ where two votes are within
float32 rounding of each other. float32's range is the limit: a term River computes beyond it
(an input ~1e17 standard deviations or more from a class mean) is held at the largest share of
float32 a term may take, so two classes both that far off tie here where River still orders
them, and an input beyond ±3.4e38 is skipped where River (below 1e154) still counts it.

Ensembles (ARF, bagging): each tree's votes get their own classes' columns (in the ensemble's
class order), a softmax per tree, then one MatMul adds them with the members' weights and the
total is normalised, as River's `Counter` sum and `proba / total`. Ensembles of naive-Bayes trees
take forest.py's batched form instead (same arithmetic, no block-diagonal matrices).

Regressors: a leaf's mean, or its linear model. A single tree whose columns are raw inputs
through Select / Scale takes its linear leaves exactly (exact_linear_leaves: every input at
float64 precision from the keys, every weight in 12-bit pieces, every float32 product exact, one
Sum in double): River's leaf models hold weights that cancel (TrumpApproval: terms ~1e13 summing
to 1e9), and the float32 input's rounding alone (0.03 on a date of ~737k) moved outputs 2-8e-5
past the 1e-5 float32 tolerance. Otherwise float32 products, added in double by MatMul;
ensembles add the members' values with their weights over the divisor, or take their median.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.affine import Affine
from ...ir.trees import TreeClassifier, TreeRegressor
from ..registry import EMITTERS, register_emitter
from . import order_keys
from .exact_inputs import EXACT_BELOW, affine_columns, centred, raw_pieces, split3
from .graph import FLOAT32_MAX, Graph
from .linear import pieces, split12
from .order_keys import KEYS
from .transforms import FORMAT, Context, emit_transform, take
from .tree_routing import NotRoutable, leaf_indicator, tree_splits

GATHER_LEAVES = 128  # leaves above which one tree's leaf row is gathered (K elements at ~0.1
# µs each) rather than multiplied out (L·K products at ~1 ns)
LABEL_BONUS = 1e6  # above any log-probability gap of a majority-class leaf (>= -745)
VOTE_ROOM = 3e38  # a class's naive-Bayes terms, held below float32's largest in total
TREES = (TreeClassifier, TreeRegressor)


ROUTING_LIMIT = 2_000_000  # dense routing products per row (8 MB of float32 path weights)


def check_routing_size(model: ir.Model, members: list[TreeMember], products: int) -> None:
    """Refuse, at export, trees whose dense routing (tree_routing.py: every split against every
    leaf of its tree, per row) exceeds ROUTING_LIMIT products a row. River's AMFRegressor with
    its defaults keeps splitting until every learned row has a leaf of its own (10 trees × 500
    leaves after 500 rows: 2.5M products a row batched, ~16 ms a row in TF.js's cpu backend, and
    the verify's split probes, one per threshold and ulp, took minutes: the census's 120 s
    timeout)."""
    if products <= ROUTING_LIMIT:
        return
    leaves = sum(m.tree.tree.n_leaves for m in members)
    name = model.source or type(model.estimator).__name__
    have = sorted(t.__name__ for f, t in EMITTERS if f == FORMAT)
    raise UnsupportedModelError(name, have, reason=(
        f"TF.js routes trees by dense matrices: {len(members)} tree(s) with {leaves} leaves in "
        f"all take {products:,} products a row, above {ROUTING_LIMIT:,} (River's trees grew a "
        "leaf for almost every learned row); bound the trees (AMF's max_nodes, a Hoeffding "
        "tree's max_depth / grace_period) or export to ONNX, whose TreeEnsemble routes "
        "exactly at any size"))


def refusal(est: ir.Estimator, reason: str) -> UnsupportedModelError:
    have = sorted(t.__name__ for f, t in EMITTERS if f == FORMAT)
    return UnsupportedModelError(type(est).__name__, have, reason=reason)


@dataclass(frozen=True)
class TreeMember:
    """A tree and what feeds it: `model` holds the schema, every transform before the tree and
    the tree; `weight` and `class_index` (the ensemble class of each of the tree's classes) say
    how an ensemble counts it."""

    model: ir.Model
    weight: float = 1.0
    class_index: tuple[int, ...] = ()

    @property
    def tree(self) -> TreeClassifier | TreeRegressor:
        return self.model.estimator  # type: ignore[return-value]


class Inputs:
    """The graph's inputs as the trees read them: the `keys` placeholder, made once, and each
    distinct transform's float32 estimator columns, made once and only if a leaf reads them."""

    def __init__(self, g: Graph, x: str, schema: ir.FeatureSchema):
        self.g, self.x, self.schema = g, x, schema
        self.n_raw = len(schema.columns)
        self._keys: str | None = None
        self._columns: dict[tuple, str] = {}

    @property
    def keys(self) -> str:
        if self._keys is None:
            self._keys = self.g.placeholder(KEYS, order_keys.width(self.n_raw))
        return self._keys

    def columns(self, member: TreeMember) -> str:
        """float32 [N, F_m]: the columns `member`'s tree reads."""
        key = (member.model.transform, member.tree.columns)
        if key not in self._columns:
            z, cols = emit_transform(member.model.transform,
                                     Context(self.g, self.x, self.schema.columns))
            self._columns[key] = take(self.g, z, cols, member.tree.columns)
        return self._columns[key]

    def exact(self, members: list[TreeMember], repeat: Callable[[int], int]) -> tuple[str, str, str]:
        """The raw inputs of `members`' columns (each repeated as in `gathered`) at float64
        precision as three float32 pieces (exact_inputs.py); every member must be `affine`."""
        index: list[int] = []
        for m, member in enumerate(members):
            src = [f.src for f in affine(member)]  # type: ignore[union-attr]
            index += np.repeat(src, repeat(m)).tolist()
        return raw_pieces(self.g, self.keys, self.n_raw, index)

    def gathered(self, members: list[TreeMember], repeat: Callable[[int], int]) -> str:
        """[N, Σ F_m·repeat(m)]: each member's columns, each repeated `repeat(m)` times in a row
        (a gather: a missing input stays NaN in its own places only)."""
        tensors, index, at = [], [], 0
        seen: dict[str, int] = {}
        for m, member in enumerate(members):
            t = self.columns(member)
            if t not in seen:
                seen[t], at = at, at + len(member.tree.columns)
                tensors.append(t)
            index += np.repeat(seen[t] + np.arange(len(member.tree.columns)), repeat(m)).tolist()
        source = tensors[0] if len(tensors) == 1 else self.g.op(
            "ConcatV2", *tensors, self.g.axis(1), N=len(tensors))
        return self.g.gather_columns(source, index)


def affine(member: TreeMember) -> list[Affine] | None:
    """The tree's columns over the raw inputs (exact_inputs.affine_columns), or None."""
    return affine_columns(member.model, member.tree.columns)


@dataclass(frozen=True)
class Leaves:
    """The routing's result: `indicator` [N, Σ leaves] (1.0 at each tree's leaf) and each
    tree's leaf count."""

    indicator: str
    counts: tuple[int, ...]


def leaf_rows(g: Graph, leaves: Leaves, table: np.ndarray) -> str:
    """[N, K]: the sum of `table` [Σ leaves, K]'s rows at each tree's leaf (exact: every tree
    has its own columns, or adds to columns the others leave at zero). TF.js's cpu gather
    costs ~0.1 µs an element, so an ensemble multiplies rather than gathers."""
    if len(leaves.counts) == 1 and table.shape[0] > GATHER_LEAVES:  # a big tree: its row
        leaf = g.op("ArgMax", leaves.indicator, g.axis(1))
        return g.op("GatherV2", g.const(table), leaf, g.axis(0), batch_dims=0)
    return g.op("MatMul", leaves.indicator, g.const(table))  # an ensemble: a 1.0 per tree


def split_columns(g: Graph, x: str, sizes: list[int]) -> list[str]:
    """The consecutive column blocks of `x` of the given widths (one SplitV node; for a
    single row a copy of each block, for more rows ~0.6 µs an element in TF.js's cpu backend)."""
    if len(sizes) == 1:
        return [x]
    node = g.op("SplitV", x, g.const(sizes, np.int32, "sizes"), g.axis(1), num_split=len(sizes))
    return [node] + [f"{node}:{i}" for i in range(1, len(sizes))]


def placed_probabilities(member: TreeMember, C: int) -> np.ndarray:
    """[L, C] a tree's majority-class probabilities in the ensemble's class columns."""
    probs = np.asarray(member.tree.class_probs, dtype=np.float64)
    out = np.zeros((probs.shape[0], C))
    out[:, list(member.class_index)] = probs
    return out


# ------------------------------------------------------------------------------ classifiers


@dataclass(frozen=True)
class VoteTables:
    """Per leaf (rows of every tree, in order): s, ms, off [and cat_log] at positions
    (tree, column, class), then the priors at slots (tree, class), [the label bonus,] and
    where some leaf has no class at all (River: every probability 0), a 0/1 slot mask."""

    table: np.ndarray
    widths: list[int]
    has_cat: bool
    has_mask: bool = False


def placed_naive_bayes(member: TreeMember, C: int) -> dict[str, np.ndarray]:
    """A tree's naive-Bayes parameters per leaf over (column, ensemble class), [L, F·C] each
    and zero where a term does not count: s = 1 / sqrt(2 var), ms = mu · s, and the negated
    log(sqrt(2π) sigma) and cat_log; prior [L, C] (-inf: a class the leaf has not seen)."""
    est = member.tree
    nb, k = est.nb, list(member.class_index)
    L, F = est.tree.n_leaves, len(est.columns)
    use_nb = np.asarray(est.naive_bayes, dtype=bool)

    def placed(values, fill, dtype=np.float64) -> np.ndarray:
        out = np.full((L, F, C), fill, dtype=dtype)
        out[:, :, k] = np.asarray(values, dtype=dtype).reshape(L, F, len(k))
        return out

    on = placed(nb.gauss_on, False, bool) & use_nb[:, None, None]
    cat_on = placed(nb.cat_on, False, bool) & use_nb[:, None, None]
    scale = np.where(on, 1.0 / np.sqrt(-np.where(on, placed(nb.neg2var, -1.0), -1.0)), 0.0)
    prior = np.full((L, C), -np.inf)
    prior[:, k] = np.where(np.asarray(nb.present, dtype=bool),
                           np.asarray(nb.prior, dtype=np.float64), -np.inf)
    return {
        "s": scale.reshape(L, F * C),
        "mu": np.where(on, placed(nb.mu, 0.0), 0.0).reshape(L, -1),
        "ms": (np.where(on, placed(nb.mu, 0.0), 0.0) * scale).reshape(L, -1),
        "off": -np.where(on, nb.half_log_tau + placed(nb.log_sd, 0.0), 0.0).reshape(L, -1),
        "cat": -np.where(cat_on, placed(nb.cat_log, 0.0), 0.0).reshape(L, -1),
        "prior": prior,
    }


def leaf_votes(member: TreeMember, C: int) -> tuple[dict[str, np.ndarray] | None, np.ndarray]:
    """A tree's per-leaf vote parameters: placed_naive_bayes's blocks [L, F·C] (None when no
    leaf is naive Bayes) and priors [L, C]: the naive-Bayes leaves' own, and the log of the
    class probabilities at majority-class leaves (softmax gives them back; -inf: not seen)."""
    est = member.tree
    with np.errstate(divide="ignore"):
        prior = np.log(placed_probabilities(member, C))
    use_nb = np.asarray(est.naive_bayes, dtype=bool)
    if est.nb is None or not use_nb.any():
        return None, prior
    nb = placed_naive_bayes(member, C)
    return nb, np.where(use_nb[:, None], nb["prior"], prior)


def raw_space(nb: dict[str, np.ndarray], cols: list[Affine], C: int) -> dict[str, np.ndarray]:
    """The leaves' Gaussians over the raw inputs: z = a·x + d, so (z - mu)·s = (x - m)·(a·s)
    with m = (mu - d) / a (float64), m cut into three float32 pieces (exact_inputs.split3)."""
    a = np.repeat([f.a for f in cols], C)[None, :]
    d = np.repeat([f.d for f in cols], C)[None, :]
    on = nb["s"] != 0
    m = np.where(on, (nb["mu"] - d) / a, 0.0)
    m1, m2, m3 = (p.astype(np.float64) for p in split3(m))
    return {**nb, "s": nb["s"] * a, "m1": m1, "m2": m2, "m3": m3}


def vote_tables(members: list[TreeMember], C: int, bonus: bool, exact: bool = False) -> VoteTables:
    """`exact`: the Gaussians as raw-space centres (raw_space) for exact_inputs' pieces."""
    L = sum(m.tree.tree.n_leaves for m in members)
    P = sum(len(m.tree.columns) for m in members) * C
    M = len(members)
    gauss = ("s", "m1", "m2", "m3") if exact else ("s", "ms")
    blocks = {name: np.zeros((L, P)) for name in (*gauss, "off", "cat")}
    prior = np.zeros((L, M * C))
    bonus_t = np.zeros((L, C))
    row = pos = 0
    for m, member in enumerate(members):
        est, width = member.tree, len(member.tree.columns) * C
        Lm = est.tree.n_leaves
        rows = slice(row, row + Lm)
        nb, prior[rows, m * C:(m + 1) * C] = leaf_votes(member, C)
        # River's label of a majority-class leaf: the first of the largest, in float64
        majority = ~np.asarray(est.naive_bayes, dtype=bool)
        labels = np.argmax(placed_probabilities(member, C), axis=1)
        bonus_t[row + np.flatnonzero(majority), labels[majority]] = LABEL_BONUS
        if nb is not None and exact:
            nb = raw_space(nb, affine(member), C)  # type: ignore[arg-type]
        if nb is not None:
            for name, block in blocks.items():
                block[rows, pos:pos + width] = nb[name]
        row, pos = row + Lm, pos + width
    has_cat = bool(blocks["cat"].any())
    names = [*gauss, "off"] + (["cat"] if has_cat else [])
    seen = np.isfinite(prior)  # [L, M·C]; a row's other trees' slots are 0 there: finite
    owner = np.repeat(np.arange(M), [m.tree.tree.n_leaves for m in members])
    empty = ~seen.reshape(L, M, C)[np.arange(L), owner].any(axis=1)  # its own tree's slots
    mask = [seen.astype(np.float64)] if empty.any() else []
    table = np.hstack([blocks[n] for n in names] + [prior] + ([bonus_t] if bonus else []) + mask)
    widths = [P] * len(names) + [M * C] + ([C] if bonus else []) + ([M * C] if mask else [])
    return VoteTables(np.clip(table, -FLOAT32_MAX, FLOAT32_MAX), widths, has_cat, bool(mask))


def float32_keeping_the_label(probs: np.ndarray) -> np.ndarray:
    """float32 probabilities whose first largest is River's (the first largest in float64):
    where rounding ties it with another class, it goes one float32 step up."""
    out = probs.astype(np.float32)
    labels = np.argmax(probs, axis=1)
    for i in np.flatnonzero(np.argmax(out, axis=1) != labels):
        out[i, labels[i]] = np.nextafter(out[i].max(), np.float32(np.inf))
    return out


def normalised(g: Graph, total: str) -> dict[str, str]:
    """River's ensemble: total / Σ total where that sum is > 0 (else total, all zeros)."""
    s = g.reduce("Sum", total, 1, True)
    p = g.op("RealDiv", total, g.op("Maximum", s, g.const(1e-38)))
    return {"probabilities": p, "label": g.op("ArgMax", total, g.axis(1))}


def vote_terms(g: Graph, wide: str, scale: str, mu_scaled: str | None, off: str,
               cat: str | None, width: int, n_columns: int, diff: str | None = None) -> str:
    """-t per (column, class) position: ((x - mu) / sqrt(2 var))² + log(sqrt(2π) sigma), plus
    -cat_log where a one-hot column is 1.0. Where the square overflows float32 it is held at the
    largest share of float32 one of `n_columns` terms can have (River's float64 term is finite
    and huge there: the class is all but out, not skipped); a missing or non-finite input adds
    nothing (River skips NaN, and beyond 1e154 its term is -inf, skipped too). `width`: the
    positions' count, the last axis of every operand. `diff`: x - mu taken at float64 precision
    (exact_inputs.centred, raw-space `scale`), in place of x · s - mu · s."""
    square = (g.op("Square", g.op("Mul", diff, scale)) if diff is not None else
              g.op("SquaredDifference", g.op("Mul", wide, scale), mu_scaled))
    minus_t = g.op("Sub", g.op("Minimum", square, g.const(VOTE_ROOM / (n_columns + 1))), off)
    terms = g.where(g.op("IsFinite", wide), minus_t, g.op("ZerosLike", minus_t))
    if cat is None:
        return terms
    hot = g.op("Cast", g.op("Equal", wide, g.const(np.ones(width))), SrcT=np.bool_,
               DstT=np.float32)
    return g.op("AddV2", terms, g.op("Mul", hot, cat))


def trees_classifier(members: list[TreeMember], C: int, g: Graph, inputs: Inputs,
                     leaves: Leaves) -> dict[str, str]:
    one = len(members) == 1
    if all(m.tree.nb is None or not any(m.tree.naive_bayes) for m in members):
        if one:  # majority class everywhere: one lookup, River's labels kept
            p = leaf_rows(g, leaves, float32_keeping_the_label(
                placed_probabilities(members[0], C)))
            return {"probabilities": p, "label": g.op("ArgMax", p, g.axis(1))}
        weighted = np.vstack([m.weight * placed_probabilities(m, C) for m in members])
        return normalised(g, leaf_rows(g, leaves, weighted))
    exact = all(affine(m) is not None for m in members)
    tables = vote_tables(members, C, bonus=one, exact=exact)
    parts = split_columns(g, leaf_rows(g, leaves, tables.table), tables.widths)
    gauss = 4 if exact else 2  # s, m1, m2, m3 or s, ms
    off, prior = parts[gauss], parts[gauss + 1 + tables.has_cat]
    cat = parts[gauss + 1] if tables.has_cat else None
    wide = inputs.gathered(members, lambda m: C)
    P = sum(len(m.tree.columns) for m in members) * C
    diff = centred(g, inputs.exact(members, lambda m: C), parts[1:4]) if exact else None
    terms = vote_terms(g, wide, parts[0], None if exact else parts[1], off, cat, P,
                       max(len(m.tree.columns) for m in members), diff)
    slot = np.concatenate([m * C + np.tile(np.arange(C), len(mb.tree.columns))
                           for m, mb in enumerate(members)])
    per_slot = np.zeros((P, len(members) * C))
    per_slot[np.arange(P), slot] = -1.0  # votes = prior - Σ (-t)
    votes = g.op("AddV2", g.op("MatMul", terms, g.const(per_slot)), prior)
    mask = parts[-1] if tables.has_mask else None
    if one:
        p = g.op("Softmax", votes)
        bonus = parts[gauss + 2 + tables.has_cat]
        return {"probabilities": p if mask is None else g.op("Mul", p, mask),
                "label": g.op("ArgMax", g.op("AddV2", votes, bonus), g.axis(1))}
    M = len(members)
    each = g.op("Reshape", g.op("Softmax", g.op("Reshape", votes, g.const(
        [-1, M, C], np.int32, "shape"))), g.const([-1, M * C], np.int32, "shape"))
    if mask is not None:
        each = g.op("Mul", each, mask)
    weights = np.vstack([m.weight * np.eye(C) for m in members])  # [M·C, C]
    return normalised(g, g.op("MatMul", each, g.const(weights)))


# ------------------------------------------------------------------------------- regressors


def trees_regressor_values(members: list[TreeMember], g: Graph, inputs: Inputs,
                           leaves: Leaves, combine: np.ndarray | None,
                           scale: float = 1.0) -> str:
    """[N, M] each tree's value times `scale`, or [N, 1] their sum weighted by `combine` [M]:
    the factors are folded into each tree's leaves, so a member's value beyond float32 can
    still add up to a total within it."""
    M = len(members)
    scale = np.full(M, scale) if combine is None else np.asarray(combine, dtype=np.float64)
    L = sum(m.tree.tree.n_leaves for m in members)
    P = sum(len(m.tree.columns) for m in members)
    means, W, b, flag = np.zeros((L, M)), np.zeros((L, P)), np.zeros((L, M)), np.zeros((L, M))
    row = pos = 0
    for m, member in enumerate(members):
        est, F = member.tree, len(member.tree.columns)
        Lm = est.tree.n_leaves
        means[row:row + Lm, m] = np.asarray(est.means, dtype=np.float64) * scale[m]
        if any(est.model):
            W[row:row + Lm, pos:pos + F] = scale[m] * np.asarray(
                est.weights, dtype=np.float64).reshape(Lm, F)
            b[row:row + Lm, m] = np.asarray(est.intercepts, dtype=np.float64) * scale[m]
            flag[row:row + Lm, m] = np.asarray(est.model, dtype=np.float64)
        row, pos = row + Lm, pos + F
    if not flag.any():
        return leaf_rows(g, leaves, means if combine is None else means.sum(axis=1, keepdims=True))
    if M == 1 and affine(members[0]) is not None:
        return exact_linear_leaves(members[0], g, inputs, leaves, W, means, b, flag)
    w, mean, bias, is_model = split_columns(
        g, leaf_rows(g, leaves, np.hstack([W, means, b, flag])), [P, M, M, M])
    x = inputs.gathered(members, lambda m: 1)
    products = g.op("Mul", g.nan_to_zero(x), w)
    z = g.op("AddV2", per_tree_sums(g, products, [len(m.tree.columns) for m in members]), bias)
    values = g.where(g.op("Greater", is_model, g.const(0.5)), z, mean)
    return values if combine is None else g.reduce("Sum", values, 1, True)


def exact_linear_leaves(member: TreeMember, g: Graph, inputs: Inputs, leaves: Leaves,
                        W: np.ndarray, means: np.ndarray, b: np.ndarray,
                        flag: np.ndarray) -> str:
    """[N, 1] one tree's values, its linear leaves summed exactly: z = b + Σ_j [x_j present]
    (A_j · x_j + D_j) over the raw inputs (z_j = a_j x_j + d_j folded: A = w·a, D = w·d in
    float64). x_j comes as five pieces of <= 12 bits (exact_inputs' a, b and c, the last two
    split by Veltkamp), A, D and b as four 12-bit pieces, so each float32 product is exact and
    one Sum (TF.js's cpu kernel adds in double) rounds z once. An input beyond ±1e30 or ±inf
    takes the plain float32 product, as before."""
    cols = affine(member)
    a = np.array([f.a for f in cols])  # type: ignore[union-attr]
    d = np.array([f.d for f in cols])  # type: ignore[union-attr]
    P = len(cols)  # type: ignore[arg-type]
    A, D = pieces(W * a, 4, 12), pieces(W * d, 4, 12)
    B = pieces(b, 4, 12)
    table = np.hstack([*A, *D, means, *B, flag]).astype(np.float64)
    parts = split_columns(g, leaf_rows(g, leaves, table), [P] * 8 + [1] * 6)
    A_t, D_t, mean, B_t, is_model = parts[:4], parts[4:8], parts[8], parts[9:13], parts[13]
    x = g.gather_columns(inputs.x, [f.src for f in cols])  # type: ignore[union-attr]
    missing = g.op("IsNan", x)
    small = g.op("Less", g.op("Abs", x), g.const(EXACT_BELOW))
    zero = g.op("ZerosLike", x)
    xa, xb, xc = inputs.exact([member], lambda m: 1)
    x_pieces = [xa, *split12(g, xb), *split12(g, xc)]
    x_pieces = [g.where(small, p, zero) for p in x_pieces]
    present = g.where(missing, zero, g.op("OnesLike", x))
    big = g.where(small, zero, g.where(missing, zero, g.op("Mul", x, g.op("AddV2", A_t[0], A_t[1]))))
    terms = ([g.op("Mul", p, w) for p in x_pieces for w in A_t]
             + [g.op("Mul", present, w) for w in D_t] + [big] + B_t)
    z = g.reduce("Sum", g.op("ConcatV2", *terms, g.axis(1), N=len(terms)), 1, True)
    return g.where(g.op("Greater", is_model, g.const(0.5)), z, mean)


def per_tree_sums(g: Graph, products: str, widths: list[int]) -> str:
    """[N, M]: each tree's block of `products` summed (not a MatMul against 0/1 blocks, where
    one tree's ±inf product times another's 0 would make every tree NaN)."""
    if len(set(widths)) == 1:
        shaped = g.op("Reshape", products, g.const([-1, len(widths), widths[0]], np.int32,
                                                   "shape"))
        return g.reduce("Sum", shaped, 2, False)
    sums = [g.reduce("Sum", part, 1, True) for part in split_columns(g, products, widths)]
    return g.op("ConcatV2", *sums, g.axis(1), N=len(sums))


def median(g: Graph, values: str, M: int) -> str:
    """numpy's median of the M columns: the middle one, or the mean of the middle two."""
    ordered = g.op("TopKV2", values, g.const(M, np.int32, "k"), sorted=True)
    if M % 2:
        return g.gather_columns(ordered, [M // 2])
    middle = g.gather_columns(ordered, [M // 2 - 1, M // 2])  # halves first: no overflow
    return g.reduce("Sum", g.op("Mul", middle, g.const(np.full(2, 0.5))), 1, True)


# ---------------------------------------------------------------------------------- entries


def _splits(members: list[TreeMember]) -> list:
    try:
        return [tree_splits(m.model, m.tree.columns, m.tree.tree) for m in members]
    except NotRoutable as e:
        raise refusal(members[0].tree, str(e)) from None


def emit_tree(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    """A model whose estimator is one tree; `x` is the float32 input [N, F] in schema order."""
    if not model.schema.columns:
        raise refusal(model.estimator, "the model reads no input column")
    est = model.estimator
    C = len(est.class_probs[0]) if isinstance(est, TreeClassifier) else 0
    member = TreeMember(model, 1.0, tuple(range(C)))
    inputs = Inputs(g, x, model.schema)
    check_routing_size(model, [member], len(est.tree.branches) * est.tree.n_leaves)
    indicator = leaf_indicator([est.tree], _splits([member]), g, inputs.keys, inputs.n_raw,
                               lambda: inputs.columns(member))
    leaves = Leaves(indicator, (est.tree.n_leaves,))
    if isinstance(est, TreeClassifier):
        return trees_classifier([member], C, g, inputs, leaves)
    return {"value": trees_regressor_values([member], g, inputs, leaves, None)}


def emit_forest(model: ir.Model, members: list[TreeMember], g: Graph,
                x: str) -> dict[str, str]:
    """An ensemble whose members are all trees (ARF, bagging of Hoeffding trees): every tree
    routed at once, every leaf's parameters by one MatMul."""
    from .forest import (  # forest.py builds on this module
        batched_fits,
        batched_means_fit,
        forest_classifier,
        forest_means,
    )

    est = model.estimator
    inputs = Inputs(g, x, model.schema)
    counts = tuple(m.tree.tree.n_leaves for m in members)
    splits = _splits(members)
    B = [len(m.tree.tree.branches) for m in members]
    batched = (batched_fits(members, splits) if model.task == "classification" else
               est.combine != "median" and batched_means_fit(members, splits))
    check_routing_size(model, members, len(members) * max(B) * max(counts) if batched
                       else sum(B) * sum(counts))
    if model.task == "classification" and batched_fits(members, splits):
        return forest_classifier(members, splits, est.n_classes, g, inputs)
    if (model.task != "classification" and est.combine != "median"
            and batched_means_fit(members, splits)):
        weights = np.asarray(est.weights, dtype=np.float64) / est.divisor
        return {"value": forest_means(members, splits, weights, g, inputs)}
    try:
        indicator = leaf_indicator([m.tree.tree for m in members], splits, g, inputs.keys,
                                   inputs.n_raw)
    except NotRoutable as e:
        raise refusal(est, str(e)) from None
    leaves = Leaves(indicator, counts)
    if model.task == "classification":
        return trees_classifier(members, est.n_classes, g, inputs, leaves)
    if est.combine == "median":  # of the halves, then doubled: middle values up to 2x float32
        halves = trees_regressor_values(members, g, inputs, leaves, None, scale=0.5)
        return {"value": g.op("Mul", median(g, halves, len(members)), g.const(2.0))}
    weights = np.asarray(est.weights, dtype=np.float64) / est.divisor
    return {"value": trees_regressor_values(members, g, inputs, leaves, weights)}


@register_emitter(FORMAT, TreeClassifier)
@register_emitter(FORMAT, TreeRegressor)
def tree(est: TreeClassifier | TreeRegressor, ctx: Context) -> dict[str, str]:
    """A tree routes on its raw inputs' order keys: it reads the whole model (`ctx.model`, with
    `ctx.x` its raw input), the transforms in front included."""
    return emit_tree(ctx.model, ctx.graph, ctx.x)
