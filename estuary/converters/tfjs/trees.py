"""TF.js for IR trees: exact float64 routing (tree_routing.py), leaves in float32.

The routing gives each row a 1.0 at its leaf; one MatMul of that indicator with a table of
every leaf's parameters (one row per leaf: exact, each output is one table entry times 1.0)
hands each row its leaf's parameters, then SplitV cuts them apart. Past a table size where the
MatMul would cost more, the leaf's row is gathered instead.

Classifiers: every leaf is written as naive Bayes. A naive-Bayes leaf has River's Gaussian
parameters and priors; a majority-class leaf none, and the log of its class probabilities as
priors (softmax gives them back). Votes: per (column, class), t = (x - mu)² · a - off with
a = 1 / neg2var and off = log(sqrt(2π)·sigma) folded in float64, kept where finite (River skips
-inf and missing columns; a missing or non-finite input becomes float32's largest number, whose
t is -inf or NaN), summed per class by a MatMul (TF.js's cpu kernel adds in double) and added
to the priors; an absent class votes float32's lowest number. Probabilities are the softmax of
the votes, within float32 tolerance of River's; the label is the ArgMax of the votes plus a
bonus that a majority-class leaf puts on River's own choice (made in float64 at export), so
those labels are exact, and a naive-Bayes label can differ only where two votes are within
float32 rounding of each other. An input beyond float32's range (|x| > 3.4e38, below 1e154)
is skipped here where River still counts its (huge, negative) term.

Regressors: a leaf's mean, or its linear model (float32 products, added in double by Sum).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.trees import NaiveBayesLeaves, TreeClassifier, TreeRegressor
from ..registry import EMITTERS, register_emitter
from .graph import FLOAT32_MAX, Graph
from .transforms import FORMAT, emit_transform, take
from .tree_routing import NotRoutable, leaf_indicator, tree_splits

KEYS = "keys"
TABLE_MATMUL_LIMIT = 32768  # leaves × table width above which the leaf's row is gathered
LABEL_BONUS = 1e6  # above any log-probability gap of a majority-class leaf (>= -745)


def _refuse(est: ir.Estimator, reason: str) -> UnsupportedModelError:
    have = sorted(t.__name__ for f, t in EMITTERS if f == FORMAT)
    return UnsupportedModelError(type(est).__name__, have, reason=reason)


def leaf_rows(g: Graph, indicator: str, table: np.ndarray) -> str:
    """[N, K]: each row's leaf's row of `table` [L, K]."""
    if table.size <= TABLE_MATMUL_LIMIT:
        return g.op("MatMul", indicator, g.const(table))
    leaf = g.op("ArgMax", indicator, g.axis(1))
    return g.op("GatherV2", g.const(table), leaf, g.axis(0), batch_dims=0)


def split_columns(g: Graph, x: str, sizes: list[int]) -> list[str]:
    """The consecutive column blocks of `x` of the given widths (one SplitV node)."""
    if len(sizes) == 1:
        return [x]
    node = g.op("SplitV", x, g.const(sizes, np.int32, "sizes"), g.axis(1), num_split=len(sizes))
    return [node] + [f"{node}:{i}" for i in range(1, len(sizes))]


def classifier_table(est: TreeClassifier) -> tuple[np.ndarray, list[int], bool]:
    """(table [L, K], block widths, has_categories): per leaf, mu, a, off [and cat_log] at
    positions column · C + class, then the priors and the label bonus per class."""
    probs = np.asarray(est.class_probs, dtype=np.float64)
    L, C = probs.shape
    F = len(est.columns)
    use_nb = np.asarray(est.naive_bayes, dtype=bool)
    nb: NaiveBayesLeaves | None = est.nb
    mu, a, off, cat = (np.zeros((L, F, C)) for _ in range(4))
    with np.errstate(divide="ignore"):
        prior = np.log(probs)  # majority-class leaves: softmax(log p) = p
    bonus = np.zeros((L, C))
    labels = np.argmax(probs, axis=1)  # River's choice: the first of the largest, in float64
    bonus[np.arange(L), labels] = LABEL_BONUS
    if nb is not None and use_nb.any():
        shape = (L, F, C)
        on = np.asarray(nb.gauss_on, dtype=bool).reshape(shape) & use_nb[:, None, None]
        mu = np.where(on, np.asarray(nb.mu, dtype=np.float64).reshape(shape), 0.0)
        neg2var = np.asarray(nb.neg2var, dtype=np.float64).reshape(shape)
        a = np.where(on, 1.0 / np.where(on, neg2var, -1.0), 0.0)
        off = np.where(on, nb.half_log_tau + np.asarray(nb.log_sd).reshape(shape), 0.0)
        cat_on = np.asarray(nb.cat_on, dtype=bool).reshape(shape) & use_nb[:, None, None]
        cat = np.where(cat_on, np.asarray(nb.cat_log, dtype=np.float64).reshape(shape), 0.0)
        present = np.asarray(nb.present, dtype=bool)
        nb_prior = np.where(present, np.asarray(nb.prior, dtype=np.float64), -np.inf)
        prior = np.where(use_nb[:, None], nb_prior, prior)
        bonus[use_nb] = 0.0
    has_cat = bool(cat.any())
    blocks = [mu, a, off] + ([cat] if has_cat else [])
    table = np.hstack([b.reshape(L, F * C) for b in blocks] + [prior, bonus])
    widths = [F * C] * len(blocks) + [C, C]
    return np.clip(table, -FLOAT32_MAX, FLOAT32_MAX), widths, has_cat


def float32_keeping_the_label(probs: np.ndarray) -> np.ndarray:
    """float32 probabilities whose first largest is River's (the first largest in float64):
    where rounding ties it with another class, it goes one float32 step up."""
    out = probs.astype(np.float32)
    labels = np.argmax(probs, axis=1)
    for i in np.flatnonzero(np.argmax(out, axis=1) != labels):
        out[i, labels[i]] = np.nextafter(out[i].max(), np.float32(np.inf))
    return out


def tree_classifier(est: TreeClassifier, g: Graph, indicator: str,
                    x: Callable[[], str]) -> dict[str, str]:
    C, F = len(est.class_probs[0]), len(est.columns)
    if est.nb is None or not any(est.naive_bayes):  # majority class everywhere: one lookup
        probs = float32_keeping_the_label(np.asarray(est.class_probs, dtype=np.float64))
        p = leaf_rows(g, indicator, probs)
        return {"probabilities": p, "label": g.op("ArgMax", p, g.axis(1))}
    table, widths, has_cat = classifier_table(est)
    parts = split_columns(g, leaf_rows(g, indicator, table), widths)
    mu, a, off = parts[:3]
    prior, bonus = parts[-2:]
    # each column once per class (a gather: a missing input stays NaN in its own places only,
    # where t is NaN and the term is skipped, as River skips it)
    wide = g.gather_columns(x(), np.repeat(np.arange(F), C).tolist())
    t = g.op("Sub", g.op("Mul", g.op("SquaredDifference", wide, mu), a), off)
    terms = g.where(g.op("IsFinite", t), t, g.const(np.zeros(F * C)))
    if has_cat:
        hot = g.op("Cast", g.op("Equal", wide, g.const(np.ones(F * C))), SrcT=np.bool_,
                   DstT=np.float32)
        terms = g.op("AddV2", terms, g.op("Mul", hot, parts[3]))
    per_class = np.kron(np.ones((F, 1)), np.eye(C))  # [F·C, C]
    votes = g.op("AddV2", g.op("MatMul", terms, g.const(per_class)), prior)
    return {"probabilities": g.op("Softmax", votes),
            "label": g.op("ArgMax", g.op("AddV2", votes, bonus), g.axis(1))}


def tree_regressor(est: TreeRegressor, g: Graph, indicator: str, x: Callable[[], str]) -> dict[str, str]:
    means = np.asarray(est.means, dtype=np.float64)[:, None]
    if not any(est.model):
        return {"value": leaf_rows(g, indicator, means)}
    L, F = len(est.means), len(est.columns)
    W = np.asarray(est.weights, dtype=np.float64).reshape(L, F)
    flag = np.asarray(est.model, dtype=np.float64)[:, None]
    table = np.hstack([means, W, np.asarray(est.intercepts, dtype=np.float64)[:, None], flag])
    mean, w, b, is_model = split_columns(g, leaf_rows(g, indicator, table), [1, F, 1, 1])
    dot = g.reduce("Sum", g.op("Mul", g.nan_to_zero(x()), w), 1, True)
    z = g.op("AddV2", dot, b)
    return {"value": g.where(g.op("Greater", is_model, g.const(0.5)), z, mean)}


def emit_tree(model: ir.Model, g: Graph, x: str) -> dict[str, str]:
    """The tree estimator of `model`; `x` is the float32 input [N, F] in schema order."""
    est = model.estimator
    n_raw = len(model.schema.columns)
    if n_raw == 0:
        raise _refuse(est, "the model reads no input column")
    try:
        splits = tree_splits(model, est.columns, est.tree)
    except NotRoutable as e:
        raise _refuse(est, str(e)) from None
    keys = g.placeholder(KEYS, 4 * n_raw + 1)
    made: list[str] = []

    def columns_x() -> str:  # float32 estimator columns, made once, only where they are read
        if not made:
            z, cols = emit_transform(model.transform, g, x, model.schema.columns)
            made.append(take(g, z, cols, est.columns))
        return made[0]

    indicator = leaf_indicator(est.tree, splits, g, keys, n_raw, columns_x)
    if isinstance(est, TreeClassifier):
        return tree_classifier(est, g, indicator, columns_x)
    return tree_regressor(est, g, indicator, columns_x)


@register_emitter(FORMAT, TreeClassifier)
@register_emitter(FORMAT, TreeRegressor)
def _needs_the_model(est: ir.Estimator, g: Graph, x: str) -> dict[str, str]:
    """Registered so that the support matrix and `emitter_for` know TF.js writes trees; a tree
    reads raw inputs' keys, so `build_graph` calls `emit_tree` with the whole model instead."""
    raise _refuse(est, "a tree inside another model (an ensemble) is not written for TF.js; "
                  "export it to ONNX")
