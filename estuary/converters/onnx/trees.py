"""ONNX for IR trees: an `ai.onnx.ml` TreeEnsemble (opset 5, float64) returns the leaf index,
then plain float64 ops Gather the leaf's parameters and compute its output (class counts, naive
Bayes, mean or linear model). NaN routing uses `nodes_missing_value_tracks_true`.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from ...ir import arithmetic
from ...ir.trees import NaiveBayesLeaves, TreeClassifier, TreeRegressor, TreeStructure
from ..registry import register_emitter
from .graph import ML_DOMAIN, Graph, OnnxOps
from .transforms import Context

BRANCH_LEQ = 0


def _tensor(values, dtype) -> object:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype))


def leaf_index(tree: TreeStructure, g: Graph, x: str, n_columns: int) -> str:
    """int64 [N]: the leaf each row lands in."""
    branches = tree.branches
    if not branches or n_columns == 0:  # a single leaf: every row lands in leaf 0
        n = g.op("Shape", x, start=0, end=1)
        return g.op("ConstantOfShape", n, value=_tensor([0], np.int64))
    node_id = {b: k for k, b in enumerate(branches)}

    def target(i: int) -> tuple[int, int]:  # (id, is_leaf) in TreeEnsemble's numbering
        return (tree.leaf[i], 1) if tree.leaf[i] >= 0 else (node_id[i], 0)

    true = [target(tree.left[b]) for b in branches]
    false = [target(tree.right[b]) for b in branches]
    L = tree.n_leaves
    ids = g.op(
        "TreeEnsemble", x, domain=ML_DOMAIN, hint="leaf",
        n_targets=1, aggregate_function=1, post_transform=0, tree_roots=[node_id[0]],
        nodes_featureids=[tree.feature[b] for b in branches],
        nodes_splits=_tensor([tree.threshold[b] for b in branches], np.float64),
        nodes_modes=_tensor([BRANCH_LEQ] * len(branches), np.uint8),
        nodes_truenodeids=[t[0] for t in true], nodes_trueleafs=[t[1] for t in true],
        nodes_falsenodeids=[f[0] for f in false], nodes_falseleafs=[f[1] for f in false],
        nodes_missing_value_tracks_true=[int(tree.missing_left[b]) for b in branches],
        leaf_targetids=[0] * L, leaf_weights=_tensor(np.arange(L), np.float64),
    )
    flat = g.op("Reshape", ids, g.const([-1], np.int64))
    return g.op("Cast", flat, to=7)  # INT64: leaf weights are exact small integers


def _gather(g: Graph, table, leaf: str, dtype=np.float64) -> str:
    return g.op("Gather", g.const(table, dtype, "leaf_table"), leaf, axis=0)


def naive_bayes(nb: NaiveBayesLeaves, g: Graph, x: str, leaf: str, n_columns: int,
                used: tuple[bool, ...] | None = None) -> str:
    """River's `do_naive_bayes_prediction` over [N, F, C] gathered tables. With `used` (which
    leaves vote by naive Bayes), only those leaves' tables are stored: a leaf → table-row index
    picks them, and other leaves read row 0, whose vote the caller does not use."""
    L, C = len(nb.prior), len(nb.prior[0])
    rows = np.flatnonzero(np.asarray(used, dtype=bool)) if used is not None else np.arange(L)
    if 0 < len(rows) < L:
        index = np.zeros(L, dtype=np.int64)
        index[rows] = np.arange(len(rows))
        leaf = _gather(g, index, leaf, np.int64)
    else:
        rows = np.arange(L)
    shape = (L, n_columns, C)
    if not nb.array("cat_on", np.bool_).any():
        compact = _compact_gaussian(nb, rows, shape)
        if compact is not None:
            return _compact_naive_bayes(nb, g, x, leaf, rows, compact)

    def table(name: str, dtype=np.float64) -> str:
        return _gather(g, nb.array(name, dtype).reshape(shape)[rows], leaf, dtype)

    o = OnnxOps(g)
    x3 = g.op("Unsqueeze", x, g.const([2], np.int64))
    t = arithmetic.leaf_gaussian_term(o, x3, table("mu"), table("neg2var"), nb.half_log_tau,
                                      table("log_sd"))
    finite = g.op("Greater", t, g.const(-np.inf))  # False for NaN (missing) and -inf (skipped)
    gauss = g.op("And", table("gauss_on", np.bool_), finite)
    zero = g.const(0.0)
    terms = g.op("Where", gauss, t, zero)
    if nb.array("cat_on", np.bool_).any():  # no category term anywhere: no tables for it
        cat = g.op("And", table("cat_on", np.bool_), g.op("Equal", x3, g.const(1.0)))
        terms = g.op("Add", terms, g.op("Where", cat, table("cat_log"), zero))
    return _leaf_vote(nb, g, o, leaf, rows, terms)


def _leaf_vote(nb: NaiveBayesLeaves, g: Graph, o: OnnxOps, leaf: str, rows: np.ndarray,
               terms: str) -> str:
    """River's vote of each row's leaf: its log priors plus `terms` [N, F, C] summed over the
    columns, softmaxed over the classes the leaf has seen."""
    votes = g.op("Add", _gather(g, nb.array("prior")[rows], leaf),
                 g.reduce("ReduceSum", terms, 1, False))
    return arithmetic.vote_softmax(o, votes,
                                   _gather(g, nb.array("present", np.bool_)[rows], leaf,
                                           np.bool_))


def _compact_gaussian(nb: NaiveBayesLeaves, rows: np.ndarray, shape: tuple[int, int, int]
                      ) -> tuple[np.ndarray, ...] | None:
    """The Gaussian terms that are on, as K entries per stored leaf (its on (column, class)
    pairs in column-major order, then off padding): (column, class one-hot, mu, neg2var,
    log_sd, on), each [rows, K(, C)]; None when that is not smaller than the dense [F, C]
    tables (every leaf with most terms on). An 861-node tree on ImageSegments has 2.5 terms on
    per leaf (18 at most) of its 126: 1.5 MB of tables → 0.3 MB."""
    on = nb.array("gauss_on", np.bool_).reshape(shape)[rows]
    n, F, C = on.shape
    counts = on.reshape(n, -1).sum(axis=1)
    K = max(int(counts.max(initial=0)), 1)
    if not _smaller(K, F, C):
        return None
    leaf_i, col, cls = np.nonzero(on)  # by leaf, then column, then class: the dense sum order
    slot = np.arange(len(leaf_i)) - np.repeat(np.cumsum(counts) - counts, counts)
    column = np.zeros((n, K), np.int64)
    onehot = np.zeros((n, K, C), np.bool_)
    values = {name: np.zeros((n, K)) for name in ("mu", "neg2var", "log_sd")}
    values["neg2var"][:] = -1.0  # padding: a finite term, switched off below
    for name, v in values.items():
        v[leaf_i, slot] = nb.array(name).reshape(shape)[rows][leaf_i, col, cls]
    column[leaf_i, slot] = col
    onehot[leaf_i, slot, cls] = True
    used = np.zeros((n, K), np.bool_)
    used[leaf_i, slot] = True
    return column, onehot, values["mu"], values["neg2var"], values["log_sd"], used


def _smaller(K: int, F: int, C: int) -> bool:
    """Bytes per leaf: K entries (column int64, three float64, C + 1 bools) against the dense
    F x C (three float64 and a bool each)."""
    return K * (4 * 8 + C + 1) < F * C * (3 * 8 + 1)


def _compact_naive_bayes(nb: NaiveBayesLeaves, g: Graph, x: str, leaf: str, rows: np.ndarray,
                         compact: tuple[np.ndarray, ...]) -> str:
    """`naive_bayes` over K on-terms per leaf: each row reads its leaf's K columns of x
    (GatherElements), computes their Gaussian terms and sums them into their classes."""
    column, onehot, mu, neg2var, log_sd, used = compact
    o = OnnxOps(g)
    xk = g.op("GatherElements", x, _gather(g, column, leaf, np.int64), axis=1)  # [N, K]
    t = arithmetic.leaf_gaussian_term(o, xk, _gather(g, mu, leaf), _gather(g, neg2var, leaf),
                                      nb.half_log_tau, _gather(g, log_sd, leaf))
    finite = g.op("Greater", t, g.const(-np.inf))  # False for NaN (missing) and -inf (skipped)
    terms = g.op("Where", g.op("And", _gather(g, used, leaf, np.bool_), finite), t,
                 g.const(0.0))
    by_class = g.op("Where", _gather(g, onehot, leaf, np.bool_),
                    g.op("Unsqueeze", terms, g.const([2], np.int64)), g.const(0.0))
    return _leaf_vote(nb, g, o, leaf, rows, by_class)


@register_emitter("onnx", TreeClassifier)
def tree_classifier(est: TreeClassifier, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    leaf = leaf_index(est.tree, g, x, len(est.columns))
    probs = _gather(g, est.class_probs, leaf)
    if est.nb is not None:
        use_nb = g.op("Unsqueeze", _gather(g, est.naive_bayes, leaf, np.bool_),
                      g.const([1], np.int64))
        probs = g.op("Where", use_nb, naive_bayes(est.nb, g, x, leaf, len(est.columns),
                                                  est.naive_bayes), probs)
    return {"probabilities": probs}


@register_emitter("onnx", TreeRegressor)
def tree_regressor(est: TreeRegressor, ctx: Context) -> dict[str, str]:
    g, x = ctx.graph, ctx.x
    leaf = leaf_index(est.tree, g, x, len(est.columns))
    value = _gather(g, est.means, leaf)
    if any(est.model):
        W = np.asarray(est.weights, dtype=np.float64).reshape(len(est.means), len(est.columns))
        dot = g.op("ReduceSum", g.op("Mul", g.nan_to_zero(x), _gather(g, W, leaf)),
                   g.const([1], np.int64), keepdims=0)
        z = g.op("Add", dot, _gather(g, est.intercepts, leaf))
        value = g.op("Where", _gather(g, est.model, leaf, np.bool_), z, value)
    return {"value": value}
