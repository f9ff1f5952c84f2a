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
    votes = g.op("Add", _gather(g, nb.array("prior")[rows], leaf),
                 g.reduce("ReduceSum", terms, 1, False))
    return arithmetic.vote_softmax(o, votes,
                                   _gather(g, nb.array("present", np.bool_)[rows], leaf,
                                           np.bool_))


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
