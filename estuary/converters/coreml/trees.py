"""Core ML for IR trees. Every split `x <= t` is made exact whatever precision the tree runs in:
an ArrayFeatureExtractor takes each branch's column and a Scaler (float64) computes
(x - t) · 2^1000, whose sign is exactly that of x - t (x - t is correctly rounded; the power of
two moves tiny differences into float32's range and overflows only to ±inf), so the tree tests
`value <= 0`; NaN follows `missingValueTracksTrueChild`. Then:

- majority-class leaves only: TreeEnsembleClassifier, class probabilities per leaf (float32);
- naive-Bayes leaves (River's `do_naive_bayes_prediction`): the tree outputs a one-hot leaf
  vector [L] (exact 0/1) and a NeuralNetwork (float32) reads the leaf's parameters from it; the
  differences x - mu come in from a float64 GLMRegressor (`leaf_differences`), not from x and mu
  rounded to float32 apart: a leaf's small sigma magnified that rounding (Bananas: sigma 0.002
  at mu 1.66 moved probabilities 2.9e-5, above the 1e-5 float32 tolerance);
- regressors (mean, model and adaptive leaves): the exact one-hot leaf vector, then only float64
  classic models (GLMRegressor, Scaler, Imputer, ...) select the leaf's value: see
  `tree_regressor`. The tree ensemble itself runs in float32 (routing only), so the artifact
  says float32, yet its values are River's in double.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import UnsupportedModelError
from ...ir.trees import TreeClassifier, TreeRegressor, TreeStructure
from ..registry import register_emitter
from .builder import DBL_MAX, FLT_MAX, Layers, Stages, array_type, int64_type, scores_type
from .naive_bayes import presence
from .transforms import Context, impute

SIGN_SCALE = 2.0 ** 1000
LEQ, LEAF = 0, 6


def split_signs(tree: TreeStructure, s: Stages, x: str, width: int) -> tuple[str, int]:
    """[B] (x[feature] - threshold) · 2^1000 for each branch, in `tree.branches` order."""
    branches = tree.branches
    if not branches:
        return x, width
    if x in s.affine:
        return folded_split_signs(tree, s, *s.affine[x])
    cols = s.array("arrayFeatureExtractor", x, width, len(branches),
                   lambda p: p.extractIndex.extend(tree.feature[b] for b in branches), "split_x")

    def fill(p) -> None:
        p.shiftValue.extend(-float(tree.threshold[b]) for b in branches)
        p.scaleValue.extend([SIGN_SCALE] * len(branches))

    return s.array("scaler", cols, len(branches), len(branches), fill, "split_sign"), len(branches)


def largest_left(t: float, d: float) -> float:
    """For d > 0, the largest double u with fl(u / d) <= t (division is monotonic in u)."""
    u = t * d
    for _ in range(64):
        if u / d > t:
            u = float(np.nextafter(u, -np.inf))
        elif np.nextafter(u, np.inf) / d <= t:
            u = float(np.nextafter(u, np.inf))
        else:
            return u
    raise ValueError(f"no exact split point for threshold {t!r} and divisor {d!r}")


def folded_split_signs(tree: TreeStructure, s: Stages, raw: str, offset: np.ndarray,
                       divisor: np.ndarray) -> tuple[str, int]:
    """A tree right after a Scale: River tests fl(fl(x - o) / d) <= t, i.e. fl(x - o) <= U with
    U = `largest_left(t, d)`; a Scaler gives fl(x - o) exactly as River, a second one the sign of
    fl(x - o) - U. A zero divisor gives 0.0 (NaN stays NaN), tested against the constant 0 <= t."""
    branches = tree.branches
    B = len(branches)
    f = [tree.feature[b] for b in branches]
    cols = s.array("arrayFeatureExtractor", raw, len(offset), B,
                   lambda p: p.extractIndex.extend(f), "split_x")
    d = divisor[f]

    def centre(p) -> None:
        p.shiftValue.extend((-offset[f]).tolist())
        p.scaleValue.extend(np.where(d == 0, 0.0, 1.0).tolist())

    centred = s.array("scaler", cols, B, B, centre, "split_centred")
    shift, scale = [], []
    for k, b in enumerate(branches):
        t = float(tree.threshold[b])
        if d[k] == 0:
            shift.append(-1.0 if 0.0 <= t else 1.0)
            scale.append(1.0)
        elif d[k] > 0:
            shift.append(-largest_left(t, float(d[k])))
            scale.append(SIGN_SCALE)
        else:  # fl(u / d) falls as u grows: left iff u >= the smallest such u
            shift.append(-float(-largest_left(-t, -float(d[k]))))
            scale.append(-SIGN_SCALE)

    def fill(p) -> None:
        p.shiftValue.extend(shift)
        p.scaleValue.extend(scale)

    return s.array("scaler", centred, B, B, fill, "split_sign"), B


def add_tree(ens, tree: TreeStructure, leaf_values, tree_id: int = 0) -> None:
    """Nodes keep their IR index as nodeId; branch k tests column k (its sign) <= 0."""
    position = {b: k for k, b in enumerate(tree.branches)}
    for i, leaf in enumerate(tree.leaf):
        node = ens.nodes.add(treeId=tree_id, nodeId=i)
        if leaf >= 0:
            node.nodeBehavior = LEAF
            for index, value in leaf_values(leaf):
                node.evaluationInfo.add(evaluationIndex=index, evaluationValue=float(value))
        else:
            node.nodeBehavior = LEQ
            node.branchFeatureIndex = position[i]
            node.branchFeatureValue = 0.0
            node.trueChildNodeId = tree.left[i]
            node.falseChildNodeId = tree.right[i]
            node.missingValueTracksTrueChild = bool(tree.missing_left[i])


def _ensemble(p, tree: TreeStructure, dims: int, leaf_values) -> None:
    p.treeEnsemble.numPredictionDimensions = dims
    p.treeEnsemble.basePredictionValue.extend([0.0] * dims)
    add_tree(p.treeEnsemble, tree, leaf_values)
    p.postEvaluationTransform = 0


def leaf_one_hot(tree: TreeStructure, s: Stages, signs: str, width: int) -> str:
    L = tree.n_leaves
    return s.array("treeEnsembleRegressor", signs, width, L,
                   lambda p: _ensemble(p, tree, L, lambda leaf: [(leaf, 1.0)]), "leaf")


@register_emitter("coreml", TreeClassifier)
def tree_classifier(est: TreeClassifier, ctx: Context) -> None:
    s, x = ctx.stages, ctx.x
    F, C = len(est.columns), len(est.class_probs[0])
    signs, width = split_signs(est.tree, s, x, F)
    s.float32 = True
    if not any(est.naive_bayes):
        def fill(p) -> None:
            _ensemble(p, est.tree, C, lambda leaf: enumerate(est.class_probs[leaf]))
            p.int64ClassLabels.vector.extend(range(C))

        s.add("treeEnsembleClassifier", [(signs, array_type(width))],
              [("label", int64_type()), ("probabilities", scores_type())], fill, classifier=True)
        return
    e = leaf_one_hot(est.tree, s, signs, width)
    present = presence(s, x, F)
    xi = impute(s, x, F)
    d = leaf_differences(est, s, xi, e)
    net = Layers()
    probs = naive_bayes_leaves(est, net, e, net.clip(xi), present, net.clip(d))
    net.classifier(s, [(e, est.tree.n_leaves), (xi, F), (present, F), (d, F * C)], probs, C)


FAR = 1e300  # ±inf inputs become this before a GLM (0 · inf is NaN); float32 clips it anyway


def leaf_differences(est: TreeClassifier, s: Stages, xi: str, e: str) -> str:
    """[F·C] x_j - mu_(leaf, j, c) in float64: one GLMRegressor over [x, e] (e the exact one-hot
    leaf vector: of the leaf terms only the active one is non-zero), so the float32 network
    gets each difference rounded once, where x and mu rounded apart cost |x| · 2^-24 each. A
    position off the Gaussians gets x_j (mu 0), which the network zeroes."""
    nb = est.nb
    L, C, F = len(nb.prior), len(nb.prior[0]), len(est.columns)
    mu = np.where(np.asarray(nb.gauss_on, dtype=bool), np.asarray(nb.mu, dtype=np.float64),
                  0.0).reshape(L, F * C)
    mu = np.where(np.asarray(est.naive_bayes, dtype=bool)[:, None], mu, 0.0)
    inf = math.inf
    xr = s.replace(s.replace(xi, F, inf, FAR, "no_pos_inf"), F, -inf, -FAR, "bounded")
    W = np.hstack([np.repeat(np.eye(F), C, axis=0), -mu.T])  # [F·C, F + L]
    return s.glm(s.vectorize([(xr, F), (e, L)], "x_and_leaf"), W, hint="x_minus_mu")


def naive_bayes_leaves(est: TreeClassifier, net: Layers, e: str, x: str, present: str,
                       diff: str) -> str:
    nb = est.nb
    L, C, F = len(nb.prior), len(nb.prior[0]), len(est.columns)
    FC = F * C

    def table(values, dtype=np.float64) -> np.ndarray:
        return np.asarray(values, dtype=dtype).reshape(L, FC)

    gauss = table(nb.gauss_on, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_n2v = np.where(gauss, 1.0 / table(nb.neg2var), 0.0)
        const = np.where(gauss, -nb.half_log_tau - table(nb.log_sd), 0.0)
    cat = table(nb.cat_on, bool)
    cat_log = np.where(cat, table(nb.cat_log), 0.0)
    is_nb = np.asarray(est.naive_bayes, dtype=bool)
    present_cls = np.where(is_nb[:, None], np.asarray(nb.present, dtype=float), 1.0)

    def pick(t: np.ndarray, hint: str) -> str:  # the leaf's row of a [L, n] table
        return net.inner(e, np.asarray(t, dtype=np.float64).T, hint=hint)

    rep = np.zeros((FC, F))
    rep[np.arange(FC), np.repeat(np.arange(F), C)] = 1.0  # row (j, c) reads column j
    xr, pr = net.inner(x, rep, hint="x_jc"), net.inner(present, rep, hint="present_jc")
    g = pick(gauss, "gauss_on")
    d = net.mul(diff, g)  # x - mu (leaf_differences), 0 off the Gaussians
    t = net.add(net.mul(d, d, pick(inv_n2v, "inv_neg2var")), pick(const, "log_norm"))
    finite = net.greater_equal(t, -FLT_MAX)  # River keeps a log-density only when finite
    gterm = net.mul(net.clip(t), finite, g, pr)
    is_one = net.mul(net.greater_equal(xr, 1.0), net.greater_equal(net.mul(xr, alpha=-1.0), -1.0))
    cterm = net.mul(pick(cat_log, "cat_log"), is_one)
    votes = net.add(pick(nb.prior, "prior"),
                    net.inner(net.add(gterm, cterm), np.tile(np.eye(C), (1, F)), hint="sum"))
    on = pick(present_cls, "class_present")
    masked = net.add(votes, net.linear(on, 1e30, -1e30))  # absent classes take no part
    p_nb = net.mul(net.softmax(masked), on)
    use_nb = net.inner(pick(is_nb[:, None], "use_nb"), np.ones((C, 1)))
    mc = net.mul(pick(est.class_probs, "class_probs"), net.linear(use_nb, -1.0, 1.0))
    return net.add(mc, net.mul(p_nb, use_nb), hint="probabilities")


BLOCK = 16  # model leaves gated per GLMRegressor: weights grow as F · (F + 4·BLOCK) per leaf
KINDS = 3  # per model leaf: how many infinite inputs push its value to +inf, to -inf, to NaN


@register_emitter("coreml", TreeRegressor)
def tree_regressor(est: TreeRegressor, ctx: Context) -> None:
    """value = Σ_l e_l · c_l + Σ over model leaves of e_l · (w_l · x): e is the exact one-hot leaf
    vector (float32 tree on exact 0/1 values), every other stage a float64 classic model.

    Mean leaves: c_l = mean_l in one GLMRegressor over e, exact in double (one non-zero term).
    Model leaves (c_l = b_l): Core ML has no double product of two features, so each model leaf
    gets its own copy of the finite inputs, gated: U_l = (e_l - 1) · -DBL_MAX is -0 for the
    active leaf and DBL_MAX otherwise, and a GLMRegressor gives x_j + 4 · U_l, which is x_j
    exactly for the active leaf and overflows to +inf for every other (with or without fused
    multiply-add: 4 · DBL_MAX + x_j > DBL_MAX for every finite x_j); an Imputer turns +inf into
    0. A GLMRegressor over the gated copies gives each term w_lj · x_j alone (only the active
    leaf's are non-zero), and a chain of two-input GLMRegressors adds them in River's order,
    then b_l: the value is River's to the last bit, whatever order or fused multiply-add Core
    ML's dot product uses.

    Infinite inputs (which would poison a dense GLM: 0 · inf = NaN) are gated as counts: per
    model leaf, how many make its value +inf (w · x = +inf), -inf, or NaN (w = 0); the active
    leaf's counts become +inf / -inf / NaN by Scalers and are added to the finite part."""
    s, x = ctx.stages, ctx.x
    F, L = len(est.columns), est.tree.n_leaves
    model = np.asarray(est.model, dtype=bool)
    means = np.asarray(est.means, dtype=np.float64)
    W = (np.asarray(est.weights, dtype=np.float64).reshape(L, F) if model.any()
         else np.zeros((L, F)))
    b = np.asarray(est.intercepts, dtype=np.float64) if model.any() else np.zeros(L)
    const = np.where(model, b, means)
    if not (np.isfinite(const).all() and np.isfinite(W[model]).all()):
        raise UnsupportedModelError(
            "TreeRegressor", ["TreeRegressor with finite leaves"],
            reason="a leaf mean or leaf model parameter is not finite: a Core ML GLMRegressor "
                   "would turn it into NaN for every leaf (0 · inf)")
    signs, width = split_signs(est.tree, s, x, F)
    s.float32 = True  # the tree ensemble routes in float32 (exactly: see split_signs)
    e = leaf_one_hot(est.tree, s, signs, width)
    if not model.any():
        s.glm(e, const[None, :], [0.0], output="value")
        return
    ms = np.flatnonzero(model)
    Lm = len(ms)
    xi = impute(s, x, F)  # River skips a missing key: NaN → 0
    inf = math.inf
    finite = s.replace(s.replace(xi, F, inf, 0.0, "no_pos_inf"), F, -inf, 0.0, "finite")
    pos = is_infinite(s, s.replace(xi, F, -inf, 0.0, "no_neg_inf"), F, "pos_inf")  # [x_j = +inf]
    neg = is_infinite(s, s.replace(xi, F, inf, 0.0, "no_pos_inf"), F, "neg_inf")  # [x_j = -inf]
    Wm = W[ms]
    up, down, zero = (Wm > 0).astype(float), (Wm < 0).astype(float), (Wm == 0).astype(float)
    counts = np.stack([np.hstack([up, down]), np.hstack([down, up]), np.hstack([zero, zero])],
                      axis=1).reshape(Lm * KINDS, 2 * F)  # row (k, kind) over [pos, neg]
    C = s.glm(s.vectorize([(pos, F), (neg, F)], "inf_inputs"), counts, hint="inf_counts")
    u = e if Lm == L else s.extract(e, L, ms.tolist(), "model_leaf")
    U = s.scaler(u, Lm, -1.0, -DBL_MAX, "gate")  # -0 for the active leaf, DBL_MAX elsewhere
    V = s.vectorize([(finite, F), (C, Lm * KINDS), (U, Lm)], "gate_inputs")
    per = F + KINDS  # gated values per model leaf: the F finite inputs, then the 3 counts
    gated = []
    for k0 in range(0, Lm, BLOCK):
        ks = list(range(k0, min(k0 + BLOCK, Lm)))
        B = len(ks)
        index = (list(range(F)) + [F + k * KINDS + c for k in ks for c in range(KINDS)]
                 + [F + Lm * KINDS + k for k in ks])
        G = np.zeros((B * per, F + B * KINDS + B))
        for i in range(B):
            G[i * per + np.arange(F), np.arange(F)] = 1.0
            G[i * per + F + np.arange(KINDS), F + i * KINDS + np.arange(KINDS)] = 1.0
            G[i * per:(i + 1) * per, F + B * KINDS + i] = 4.0
        block = s.extract(V, F + Lm * (KINDS + 1), index, "gate_block")
        gated.append((s.glm(block, G, hint="gated"), B * per))
    Y = s.replace(s.vectorize(gated, "gated_all"), Lm * per, inf, 0.0, "gated_leaves")
    # T: each leaf term alone (one non-zero product per row, so exact whatever the GLM's order
    # of summation or fused multiply-add): w_j · x_j [F], the constant, then the three counts
    T = np.zeros((F + 1 + KINDS, Lm * per + L))
    for k in range(Lm):
        T[np.arange(F), k * per + np.arange(F)] = Wm[k]
        T[F + 1:, k * per + F:(k + 1) * per] = np.eye(KINDS)
    T[F, Lm * per:] = const
    n = F + 1 + KINDS
    terms = s.glm(s.vectorize([(Y, Lm * per), (e, L)], "leaf_terms"), T, hint="terms")
    # River's order: ((w_0 x_0 + w_1 x_1) + ...) + b, one two-term GLM per addition (a term may
    # be ±inf, and 0 · inf in a wider GLM would be NaN)
    value = s.extract(terms, n, [0], "partial_sum")
    for j in range(1, F + 1):
        pair = s.vectorize([(value, 1), (s.extract(terms, n, [j], "term"), 1)], "pair")
        value = s.glm(pair, np.ones((1, 2)), hint="partial_sum")
    # counts → 0 or ±inf (n · DBL_MAX · 4 overflows for n >= 1), and the NaN count → 0 or NaN
    inf_parts = s.extract(terms, n, list(range(F + 1, n)), "inf_counts")
    inf_parts = s.scaler(inf_parts, KINDS, 0.0, [DBL_MAX, -DBL_MAX, DBL_MAX], "inf_parts")
    inf_parts = s.scaler(inf_parts, KINDS, 0.0, 4.0, "inf_parts")
    inf_parts = s.scaler(inf_parts, KINDS, 0.0, [1.0, 1.0, 0.0], "inf_parts")
    s.glm(s.vectorize([(value, 1), (inf_parts, KINDS)], "value_parts"), np.ones((1, 1 + KINDS)),
          [0.0], output="value")

def is_infinite(s: Stages, x: str, width: int, hint: str) -> str:
    """[width] 1.0 where x is ±inf, 0.0 elsewhere (x has no NaN): x · 0 is NaN only there."""
    return s.replace(s.scaler(x, width, 0.0, 0.0, hint), width, math.nan, 1.0, hint)
