"""TF.js for ensembles of naive-Bayes trees (ARF, bagging: River's defaults), tree by tree in
batched ops instead of one block-diagonal graph.

A block-diagonal path matrix and leaf table grow with the square of the ensemble (ARF(10) on
Phishing: [225 × 235] and [235 × 560], 95 % zeros), and on a cold page the golden check
multiplies them out for every golden row. Here every tree is padded to the same number of splits
B and leaves L, and a batched MatMul [N, M, 1, B] × [M, B, L] routes all M trees at once; another
[N, M, 1, L] × [M, L, K] hands each tree's leaf parameters over, and the votes are computed on
[N, M, F·C] with one softmax per tree. Padding: a split every row passes to the left with no
leaf reading it, a leaf that no row reaches (bias -1) and whose row is zeros. The arithmetic is
trees.py's, term for term.
"""

from __future__ import annotations

import numpy as np

from .graph import FLOAT32_MAX, Graph
from .tree_routing import (
    ALWAYS_LEFT,
    Splits,
    concat_splits,
    keyed_sides,
    leaf_bias,
    routing_blocks,
)
from .trees import Inputs, TreeMember, leaf_votes, normalised, vote_terms


def batched_fits(members: list[TreeMember], splits: list[Splits]) -> bool:
    """Whether this form applies: several trees, all reading the same number of columns, every
    split on raw keys, some naive-Bayes leaf."""
    widths = {len(m.tree.columns) for m in members}
    return (len(members) > 1 and len(widths) == 1 and all(s.keyed.all() for s in splits)
            and any(m.tree.nb is not None and any(m.tree.naive_bayes) for m in members))


def _padded_routing(members: list[TreeMember], splits: list[Splits]
                    ) -> tuple[Splits, np.ndarray, np.ndarray]:
    """(every split, trees padded to B each; paths [M, B, L] as -P/2; bias [M, 1, L])."""
    blocks = routing_blocks([m.tree.tree for m in members], splits)
    B = max(p.shape[0] for _, p in blocks)
    L = max(p.shape[1] for _, p in blocks)
    parts, paths, bias = [], np.zeros((len(blocks), B, L)), np.full((len(blocks), 1, L), -1.0)
    for m, (s, p) in enumerate(blocks):
        parts += [s] + [ALWAYS_LEFT] * (B - p.shape[0])
        paths[m, :p.shape[0], :p.shape[1]] = -p / 2.0
        bias[m, 0, :p.shape[1]] = leaf_bias(p)
    return concat_splits(parts), paths, bias


def _tables(members: list[TreeMember], C: int, L: int) -> dict[str, np.ndarray]:
    """Per tree and leaf [M, L, ·]: s, ms, off [, cat] over (column, class), prior over classes,
    and `mask` (0/1 over classes) when some leaf has seen no class."""
    F = len(members[0].tree.columns)
    names = ("s", "ms", "off", "cat")
    out = {k: np.zeros((len(members), L, F * C)) for k in names}
    out["prior"] = np.zeros((len(members), L, C))
    for m, member in enumerate(members):
        Lm = member.tree.tree.n_leaves
        nb, prior = leaf_votes(member, C)
        if nb is not None:
            for k in names:
                out[k][m, :Lm] = nb[k]
        out["prior"][m, :Lm] = prior
        if (~np.isfinite(prior)).all(axis=1).any():
            out.setdefault("mask", np.zeros((len(members), L, C)))
    if "mask" in out:
        out["mask"] = np.isfinite(out["prior"]).astype(np.float64)
    if not out["cat"].any():
        del out["cat"]
    return {k: np.clip(v, -FLOAT32_MAX, FLOAT32_MAX) for k, v in out.items()}


def _leaf_indicator(members: list[TreeMember], splits: list[Splits], g: Graph,
                    inputs: Inputs) -> tuple[str, int]:
    """([N, M, 1, L] with 1.0 at each tree's leaf, L): every tree padded to the same splits and
    leaves and routed by batched MatMuls on the keys."""
    every, paths, bias = _padded_routing(members, splits)
    B, L = paths.shape[1], paths.shape[2]
    sides = g.op("Reshape", keyed_sides(every, g, inputs.keys, inputs.n_raw),
                 g.const([-1, len(members), 1, B], np.int32, "shape"))
    leaf = g.op("Relu", g.op("AddV2", g.op("BatchMatMulV2", sides, g.const(paths)),
                             g.const(bias)))
    return leaf, L


def forest_classifier(members: list[TreeMember], splits: list[Splits], C: int, g: Graph,
                      inputs: Inputs) -> dict[str, str]:
    """Everything stays [N, M, 1, ·]: one batched MatMul per leaf table (a SplitV of a rank-3
    tensor costs TF.js's cpu backend ~0.6 µs an element; a MatMul product ~1 ns)."""
    M, F = len(members), len(members[0].tree.columns)
    leaf, L = _leaf_indicator(members, splits, g, inputs)
    tables = {k: g.op("BatchMatMulV2", leaf, g.const(v)) for k, v in _tables(members, C, L).items()}
    wide = g.op("Reshape", inputs.gathered(members, lambda m: C),
                g.const([-1, M, 1, F * C], np.int32, "shape"))
    terms = vote_terms(g, wide, tables["s"], tables["ms"], tables["off"], tables.get("cat"),
                       F * C, F)
    per_class = -np.kron(np.ones((F, 1)), np.eye(C))  # [F·C, C]: votes = prior - Σ (-t)
    flat = g.op("Reshape", terms, g.const([-1, F * C], np.int32, "shape"))
    votes = g.op("AddV2", g.op("Reshape", g.op("MatMul", flat, g.const(per_class)),
                               g.const([-1, M, 1, C], np.int32, "shape")), tables["prior"])
    each = g.op("Softmax", votes)
    if "mask" in tables:  # a leaf that has seen no class gives zeros
        each = g.op("Mul", each, tables["mask"])
    weights = np.vstack([m.weight * np.eye(C) for m in members])  # [M·C, C]
    flat_each = g.op("Reshape", each, g.const([-1, M * C], np.int32, "shape"))
    return normalised(g, g.op("MatMul", flat_each, g.const(weights)))


def batched_means_fit(members: list[TreeMember], splits: list[Splits]) -> bool:
    """Whether a regression forest takes the batched form: several trees, every split on raw
    keys, every leaf a mean (AMFRegressor, bagged mean-leaf trees)."""
    return (len(members) > 1 and all(s.keyed.all() for s in splits)
            and not any(any(m.tree.model) for m in members))


def forest_means(members: list[TreeMember], splits: list[Splits], weights: np.ndarray,
                 g: Graph, inputs: Inputs) -> str:
    """[N, 1] Σ_m weights[m] · mean of tree m's leaf, routed tree by tree in batched ops: the
    block-diagonal form of trees.py holds (Σ splits) × (Σ leaves) weights, 100 MB for River's
    default AMFRegressor (10 trees of ~500 leaves each), too slow for TF.js to verify on its
    split probes (census: over 120 s); here M · B · L (10 MB). Each tree's mean times its
    weight is folded in float64 and picked exactly (a 1.0 at its leaf), then summed."""
    M = len(members)
    leaf, L = _leaf_indicator(members, splits, g, inputs)
    means = np.zeros((M, L, 1))
    for m, member in enumerate(members):
        values = np.asarray(member.tree.means, dtype=np.float64) * weights[m]
        means[m, :len(values), 0] = values
    picked = g.op("BatchMatMulV2", leaf, g.const(np.clip(means, -FLOAT32_MAX, FLOAT32_MAX)))
    return g.reduce("Sum", g.op("Reshape", picked, g.const([-1, M], np.int32, "shape")), 1, True)
