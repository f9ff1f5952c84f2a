"""Decision-tree IR (Hoeffding trees) as flat arrays à la Hummingbird, and its numpy evaluation.

A `TreeStructure` routes each row to a leaf index; the estimators hold per-leaf tables:
class probabilities (majority class), naive-Bayes parameters, means and linear leaf models.
Node `i` is a leaf when `leaf[i] >= 0`; otherwise it tests `x[feature[i]] <= threshold[i]`:
true → `left[i]`, false → `right[i]`, NaN (missing) → `left[i]` if `missing_left[i]`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import evaluates
from .nodes import Estimator, IRError, ir_node
from .serialize import still_held


@ir_node
@dataclass(frozen=True)
class TreeStructure:
    """Flat binary tree; `feature` indexes the estimator's columns; `onehot` marks the tests on a
    one-hot category column (`col <= 0.5` means "not this category"), which are not numeric splits."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    missing_left: tuple[bool, ...]
    leaf: tuple[int, ...]
    onehot: tuple[bool, ...]

    def __post_init__(self) -> None:
        n = len(self.leaf)
        fields = (self.feature, self.threshold, self.left, self.right, self.missing_left,
                  self.onehot)
        if n == 0 or any(len(f) != n for f in fields):
            raise IRError("TreeStructure: node arrays are empty or differ in length")
        leaves = sorted(i for i in self.leaf if i >= 0)
        if leaves != list(range(len(leaves))):
            raise IRError("TreeStructure: leaf indexes must be 0..L-1, each once")
        for i in range(n):
            if self.leaf[i] < 0 and not (0 <= self.left[i] < n and 0 <= self.right[i] < n):
                raise IRError(f"TreeStructure: node {i} points outside the tree")

    @property
    def n_leaves(self) -> int:
        return sum(1 for i in self.leaf if i >= 0)

    @property
    def branches(self) -> tuple[int, ...]:
        return tuple(i for i, leaf in enumerate(self.leaf) if leaf < 0)


def descend(tree: TreeStructure, Z: np.ndarray):
    """Walk every row of Z [N, F] down the tree together, River's way (`x <= threshold` left,
    NaN to the recorded side); yield (rows, nodes): where each row still on its way stands."""
    feature = np.asarray(tree.feature)
    threshold = np.asarray(tree.threshold, dtype=np.float64)
    left, right = np.asarray(tree.left), np.asarray(tree.right)
    missing_left = np.asarray(tree.missing_left, dtype=bool)
    leaf = np.asarray(tree.leaf)
    rows = np.arange(Z.shape[0])
    node = np.zeros(Z.shape[0], dtype=np.int64)
    while rows.size:
        yield rows, node
        branch = leaf[node] < 0
        rows, node = rows[branch], node[branch]
        x = Z[rows, feature[node]]
        go_left = np.where(np.isnan(x), missing_left[node], x <= threshold[node])
        node = np.where(go_left, left[node], right[node])


def first_visitors(tree: TreeStructure, Z: np.ndarray) -> np.ndarray:
    """For each node, the first row of Z [N, F] whose path goes through it (-1: none does)."""
    n_rows = Z.shape[0]
    first = np.full(len(tree.leaf), n_rows)
    for rows, node in descend(tree, Z):
        np.minimum.at(first, node, rows)
    return np.where(first == n_rows, -1, first)


def split_probes(tree: TreeStructure, columns: tuple[str, ...],
                 Z: np.ndarray) -> list[tuple[str, float, int]]:
    """(column, threshold, a row of Z that reaches the split or -1) for every numeric split:
    a probe row built from that row, with the column moved onto the threshold, tests the split."""
    first = first_visitors(tree, Z) if Z.shape[0] else np.full(len(tree.leaf), -1)
    return [(columns[tree.feature[i]], tree.threshold[i], int(first[i]))
            for i in tree.branches if not tree.onehot[i]]


def leaf_boxes(tree: TreeStructure) -> list[tuple[int, dict[int, tuple[float, float]]]]:
    """(leaf index, {feature: (lo, hi)}) for every leaf: a row whose values satisfy
    `lo < x <= hi` on each feature its path tests reaches that leaf (untested features are free).
    A golden row per leaf (parity/probes.py) makes an edited threshold or leaf value anywhere
    show on load."""
    out: list[tuple[int, dict[int, tuple[float, float]]]] = []
    stack: list[tuple[int, dict[int, tuple[float, float]]]] = [(0, {})]
    budget = 2 * len(tree.leaf)  # a tree visits each node once; a cycle would not end
    while stack and budget:
        budget -= 1
        node, box = stack.pop()
        if tree.leaf[node] >= 0:
            out.append((tree.leaf[node], box))
            continue
        f, t = tree.feature[node], tree.threshold[node]
        lo, hi = box.get(f, (-np.inf, np.inf))
        stack.append((tree.right[node], {**box, f: (max(lo, t), hi)}))
        stack.append((tree.left[node], {**box, f: (lo, min(hi, t))}))
    return sorted(out, key=lambda item: item[0])


def _thresholds(tree: TreeStructure, columns: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    out: dict[str, set[float]] = {}
    for i in tree.branches:
        if not tree.onehot[i]:
            out.setdefault(columns[tree.feature[i]], set()).add(tree.threshold[i])
    return {c: tuple(sorted(v)) for c, v in out.items()}


@ir_node
@dataclass(frozen=True)
class NaiveBayesLeaves:
    """River's `do_naive_bayes_prediction` per leaf, tables indexed [leaf][column][class].

    vote_k = prior_k + Σ_j term_jk over present columns, where a Gaussian term is
    `(x - mu)² / neg2var - half_log_tau - log_sd` (River's `Gaussian.log_pdf`, kept only when
    finite) and a category term is `cat_log` when the one-hot column is 1.0. Classes absent from
    the leaf take no part (probability 0); probabilities are the log-sum-exp softmax of the votes.
    """

    prior: tuple[tuple[float, ...], ...]  # [L][C]
    present: tuple[tuple[bool, ...], ...]  # [L][C]
    gauss_on: tuple[tuple[tuple[bool, ...], ...], ...]  # [L][F][C]
    mu: tuple[tuple[tuple[float, ...], ...], ...]
    neg2var: tuple[tuple[tuple[float, ...], ...], ...]
    log_sd: tuple[tuple[tuple[float, ...], ...], ...]  # 0.5 * log(variance)
    cat_on: tuple[tuple[tuple[bool, ...], ...], ...]
    cat_log: tuple[tuple[tuple[float, ...], ...], ...]
    half_log_tau: float

    def array(self, table: str, dtype: type = np.float64) -> np.ndarray:
        """The table named `table` as a read-only numpy array, converted once per node (the
        nested tuples of an 861-node tree's tables, ~55k numbers each, took 1-2 ms a
        conversion on every export of the same state)."""
        held = self.__dict__.setdefault("_arrays", {})  # frozen: not a field, not hashed
        key = (table, np.dtype(dtype).str)
        array = held.get(key)
        if array is None:
            array = table_array(getattr(self, table), dtype, table)
            held[key] = array
        return array


# (table name, dtype) → (the last array built for that name, {id(row): (row, its index
# there, found immutable)}): the next array of that name copies the values of the rows it
# shares by identity (a learning tree's leaves that did not learn: river_to_ir/tree.py)
_ROW_ARRAYS: dict[tuple[str, str], tuple[np.ndarray, dict[int, tuple]]] = {}
MIN_ROWS = 16  # tables of fewer rows are converted whole


def table_array(rows: tuple, dtype: type, name: str) -> np.ndarray:
    """`np.asarray(rows, dtype)`, read-only, equal to it value for value; when at least half of
    the rows are the very row objects of the last array built under `name`, their values are
    copied from it in one numpy copy and only the other rows are converted (nested tuples
    convert at ~0.03 µs a number: ~1.7 ms for each of an 861-node tree's tables). A row is
    reused while it is the very object and found immutable (`serialize.still_held`): the
    values it held then are its values now."""
    dt = np.dtype(dtype)
    key = (name, dt.str)
    last = _ROW_ARRAYS.get(key) if len(rows) >= MIN_ROWS else None
    array, checked = _from_rows(rows, dt, *last) if last else (None, None)
    if array is None:
        array, checked = _convert(rows, dt), [False] * len(rows)
    array.flags.writeable = False
    if len(rows) >= MIN_ROWS and array.ndim >= 2:
        _ROW_ARRAYS[key] = (array, {id(r): (r, i, c) for i, (r, c) in
                                    enumerate(zip(rows, checked))})
    return array


def _convert(rows: Sequence, dt: np.dtype) -> np.ndarray:
    """`np.asarray(rows, dt)`: for a table of rows of rows of numbers of one shape, from one
    flat iteration (`np.fromiter`: ~2x faster than numpy's walk of nested tuples, which it
    needs to find the shape); anything else through `np.asarray` itself."""
    widths = set(map(len, rows)) if rows and type(rows[0]) is tuple else None
    if widths is not None and len(widths) == 1 and type(rows[0][0]) is tuple:
        inner = set(map(len, itertools.chain.from_iterable(rows)))
        if len(inner) == 1:
            shape = (len(rows), widths.pop(), inner.pop())
            try:
                return np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(
                    rows)), dt, count=math.prod(shape)).reshape(shape)
            except (TypeError, ValueError):  # not plain numbers: numpy's own way and errors
                pass
    return np.asarray(rows, dtype=dt)


def _from_rows(rows: tuple, dt: np.dtype, before: np.ndarray, index: dict[int, tuple]
               ) -> tuple[np.ndarray | None, list[bool] | None]:
    """(the array of `rows`, the values of rows held in `index` copied from `before`; which
    rows were found immutable), or (None, None) when fewer than half are held or the other
    rows convert to another shape: the caller converts the whole table."""
    found = [index.get(id(r)) for r in rows]
    at, at_before, new = [], [], []
    checked = [False] * len(rows)
    for i, (row, f) in enumerate(zip(rows, found)):
        if still_held(row, f):
            at.append(i)
            at_before.append(f[1])
            checked[i] = True
        else:
            new.append(i)
    if 2 * len(at) < len(rows):
        return None, None
    array = np.empty((len(rows), *before.shape[1:]), dt)
    array[at] = before[at_before]
    if new:
        values = _convert([rows[i] for i in new], dt)
        if values.shape[1:] != before.shape[1:]:
            return None, None
        array[new] = values
    return array, checked


@ir_node
@dataclass(frozen=True)
class TreeClassifier(Estimator):
    """Leaf `l` outputs `class_probs[l]` (normalised counts), or naive Bayes if `naive_bayes[l]`."""

    columns: tuple[str, ...]
    tree: TreeStructure
    class_probs: tuple[tuple[float, ...], ...]  # [L][C]
    naive_bayes: tuple[bool, ...]  # [L]
    nb: NaiveBayesLeaves | None = None

    def __post_init__(self) -> None:
        L = self.tree.n_leaves
        if len(self.class_probs) != L or len(self.naive_bayes) != L:
            raise IRError("TreeClassifier: per-leaf tables do not match the number of leaves")
        if any(self.naive_bayes) and self.nb is None:
            raise IRError("TreeClassifier: naive-Bayes leaves without their parameters")

    def thresholds(self) -> dict[str, tuple[float, ...]]:
        """Numeric split thresholds per estimator column (in the space the tree reads)."""
        return _thresholds(self.tree, self.columns)

    def split_probes(self, Z: np.ndarray) -> list[tuple[str, float, int]]:
        return split_probes(self.tree, self.columns, Z)


@ir_node
@dataclass(frozen=True)
class TreeRegressor(Estimator):
    """Leaf `l` outputs `means[l]`, or `weights[l] · x + intercepts[l]` (NaN → 0) if `model[l]`."""

    columns: tuple[str, ...]
    tree: TreeStructure
    means: tuple[float, ...]  # [L]
    model: tuple[bool, ...]  # [L]
    weights: tuple[tuple[float, ...], ...] = ()  # [L][F], empty when no leaf is a model
    intercepts: tuple[float, ...] = ()  # [L]

    def __post_init__(self) -> None:
        L = self.tree.n_leaves
        if len(self.means) != L or len(self.model) != L:
            raise IRError("TreeRegressor: per-leaf tables do not match the number of leaves")
        if any(self.model) and (len(self.weights) != L or len(self.intercepts) != L):
            raise IRError("TreeRegressor: model leaves without their weights")

    def thresholds(self) -> dict[str, tuple[float, ...]]:
        """Numeric split thresholds per estimator column (in the space the tree reads)."""
        return _thresholds(self.tree, self.columns)

    def split_probes(self, Z: np.ndarray) -> list[tuple[str, float, int]]:
        return split_probes(self.tree, self.columns, Z)


# --------------------------------------------------------------------------------- evaluation


def leaf_index(tree: TreeStructure, Z: np.ndarray) -> np.ndarray:
    """The leaf each row of Z [N, F] lands in."""
    leaf = np.asarray(tree.leaf)
    out = np.empty(Z.shape[0], dtype=np.int64)
    for rows, node in descend(tree, Z):
        done = leaf[node] >= 0
        out[rows[done]] = leaf[node[done]]
    return out


def naive_bayes_probabilities(nb: NaiveBayesLeaves, leaves: np.ndarray, Z: np.ndarray) -> np.ndarray:
    L, C = len(nb.prior), len(nb.prior[0])
    shape = (L, Z.shape[1], C)

    def table(values, dtype=np.float64) -> np.ndarray:
        return np.asarray(values, dtype=dtype).reshape(shape)[leaves]

    X = Z[:, :, None]
    with np.errstate(invalid="ignore", over="ignore"):
        t = arithmetic.leaf_gaussian_term(NUMPY, X, table(nb.mu), table(nb.neg2var),
                                          nb.half_log_tau, table(nb.log_sd))
        gauss = table(nb.gauss_on, bool) & (t > -np.inf)  # False for NaN: missing or skipped
    cat = table(nb.cat_on, bool) & (X == 1.0)
    terms = np.where(gauss, t, 0.0) + np.where(cat, table(nb.cat_log), 0.0)
    votes = np.asarray(nb.prior, dtype=np.float64)[leaves] + terms.sum(axis=1)
    with np.errstate(invalid="ignore"):  # rows of majority-class leaves have no vote at all
        return arithmetic.vote_softmax(NUMPY, votes, np.asarray(nb.present, dtype=bool)[leaves])


@evaluates(TreeClassifier)
def _tree_classifier(est: TreeClassifier, Z: np.ndarray) -> np.ndarray:
    leaves = leaf_index(est.tree, Z)
    probs = np.asarray(est.class_probs, dtype=np.float64)[leaves]
    if est.nb is None:
        return probs
    use_nb = np.asarray(est.naive_bayes, dtype=bool)[leaves]
    return np.where(use_nb[:, None], naive_bayes_probabilities(est.nb, leaves, Z), probs)


@evaluates(TreeRegressor)
def _tree_regressor(est: TreeRegressor, Z: np.ndarray) -> np.ndarray:
    leaves = leaf_index(est.tree, Z)
    out = np.asarray(est.means, dtype=np.float64)[leaves]
    if not any(est.model):
        return out
    W = np.asarray(est.weights, dtype=np.float64).reshape(len(est.means), len(est.columns))[leaves]
    z = (np.where(np.isnan(Z), 0.0, Z) * W).sum(axis=1) + np.asarray(est.intercepts)[leaves]
    return np.where(np.asarray(est.model, dtype=bool)[leaves], z, out)
