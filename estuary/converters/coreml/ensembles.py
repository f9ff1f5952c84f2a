"""Core ML for IR ensembles (ARF, bagging). Each member is emitted into the same pipeline (its
own transforms, then its estimator's registered emitter), and its final stage is turned into a
plain array so the members can be combined:

- a classifier member gives its probabilities [C_m]: a majority-class tree as an exact one-hot
  leaf vector times its leaf table (GLMRegressor, float64: exact); a sigmoid linear model as a
  GLMRegressor with the Logit transform p, then 1 - p by a Scaler (float64); any member whose
  emitter ends in a NeuralNetworkClassifier (naive-Bayes leaves, softmax / one-vs-rest linear
  models, naive Bayes) as the same layers in a plain NeuralNetwork (float32);
- a regressor member gives its value (its emitter's last stage, renamed).

Classifiers: each member's probabilities are placed in the ensemble's class order and times its
weight by a GLMRegressor with one non-zero term per row (fl(p · w), as River), and added member
by member with two-input GLMRegressors (River's order, exact in double). Only River's
`proba / total` is left to a NeuralNetworkClassifier (float32: Core ML's classic models cannot
divide, and a classifier's dictionary output only comes from a classifier model).

Regressors, `mean`: fl(y_m · w_m) by Scalers, summed member by member by two-input GLMs (exact
in double), then times fl(1 / divisor): one rounding away from River's division, exact when the
divisor is a power of two. `median`: exact in double. Each value is split into a finite part
and ±inf flags (a dense GLM must never read an infinity: 0 · inf = NaN); the pairwise
differences of the finite parts (float64, exact sign, scaled by 2^1000) and of the flags give
each member's rank in a strict order (equal values ordered by member index) through a float32
tree ensemble of small trees (exact 0/1 counts); a second one turns the ranks into a one-hot of
the middle member(s), whose values are selected by the gating of `trees.tree_regressor`
(x + 4 · U, U = -0 or DBL_MAX, then +inf → 0), their ±inf flags alike, and a NaN member turns
the result into NaN, as numpy's median does. Every GLMRegressor there has at most two non-zero
terms per row (or adds exact zeros and small integers), so neither its order of summation nor fused multiply-add
changes a bit.
"""

from __future__ import annotations

import math

import numpy as np

from ..._coremltools import Model_pb2
from ...errors import UnsupportedModelError
from ...ir.ensembles import EnsembleClassifier, EnsembleRegressor, Member
from ...ir.trees import TreeClassifier
from ..registry import emit, register_emitter
from .builder import DBL_MAX, SPEC_VERSION, Layers, Stages, array_type, describe
from .transforms import Context, emit_transform, take
from .trees import LEAF, LEQ, SIGN_SCALE, is_infinite, leaf_one_hot, split_signs

MEMBER_STAGES = ("treeEnsembleClassifier (majority-class trees)", "glmClassifier (sigmoid)",
                 "neuralNetworkClassifier", "a stage with one output (regressors)")


def _refuse(est, why: str) -> UnsupportedModelError:
    name = est if isinstance(est, str) else type(est).__name__
    return UnsupportedModelError(name, list(MEMBER_STAGES),
                                 reason=f"a Core ML ensemble member {why}")


def _member_input(m: Member, s: Stages, x: str, columns: tuple[str, ...]) -> str:
    xm, cols = emit_transform(m.transform, Context(s, x, columns))
    return take(s, (xm, cols), m.estimator.columns)


def _rename(model, old: str, new: str) -> None:
    """Rename a model's output `old` (and, in a neural network, the blob of that name)."""
    for d in model.description.output:
        if d.name == old:
            d.name = new
    kind = model.WhichOneof("Type")
    if kind.startswith("neuralNetwork"):
        for layer in getattr(model, kind).layers:
            layer.input[:] = [new if n == old else n for n in layer.input]
            layer.output[:] = [new if n == old else n for n in layer.output]


def _neural_probabilities(s: Stages, last, width: int) -> str:
    """A NeuralNetworkClassifier's layers as a plain NeuralNetwork whose output is the array of
    its probability blob."""
    params = last.neuralNetworkClassifier
    probs = params.labelProbabilityLayerName or params.layers[-1].output[0]
    out = s.name("member_probabilities")
    m = Model_pb2.Model(specificationVersion=SPEC_VERSION)
    describe(m.description, [(d.name, d.type) for d in last.description.input],
             [(probs, array_type(width))])
    m.neuralNetwork.layers.extend(params.layers)
    _rename(m, probs, out)
    s.models.append(m)
    return out


def _sigmoid_probabilities(s: Stages, last) -> str:
    """A binary Logit GLMClassifier → [1 - p, p] in float64 (GLMRegressor with Logit, Scaler)."""
    params = last.glmClassifier
    if len(params.weights) != 1 or params.postEvaluationTransform != params.Logit:
        raise _refuse("GLMClassifier", "must be a binary logistic GLMClassifier")
    x = last.description.input[0].name
    width = len(params.weights[0].value)
    p = s.name("member_p")

    def fill(g) -> None:
        for row in params.weights:
            g.weights.add().value.extend(row.value)
        g.offset.extend(params.offset)
        g.postEvaluationTransform = g.Logit

    s.add("glmRegressor", [(x, array_type(width))], [(p, array_type(1))], fill)
    q = s.scaler(p, 1, -1.0, -1.0, "member_1-p")  # -(p - 1) = 1 - p, rounded once as River's
    return s.vectorize([(q, 1), (p, 1)], "member_probabilities")


def member_probabilities(m: Member, w: float, s: Stages, x: str, columns: tuple[str, ...],
                         n_classes: int) -> str:
    """[n_classes] float64: the member's probabilities in the ensemble's class order, times w."""
    est = m.estimator
    xm = _member_input(m, s, x, columns)
    C = len(m.class_index)
    place = np.zeros((n_classes, C))
    place[list(m.class_index), np.arange(C)] = 1.0
    if isinstance(est, TreeClassifier) and not any(est.naive_bayes):
        signs, width = split_signs(est.tree, s, xm, len(est.columns))
        s.float32 = True  # routing only: the one-hot leaf vector is exact
        e = leaf_one_hot(est.tree, s, signs, width)
        table = np.asarray(est.class_probs, dtype=np.float64).reshape(-1, C)  # [L, C]
        W = (place @ table.T) * w  # one non-zero product per entry: fl(p · w) as River
        return s.glm(e, W, hint="member_votes")
    start = len(s.models)
    emit("coreml", est, Context(s, xm, est.columns))
    if len(s.models) == start:
        raise _refuse(est, "added no Core ML stage")
    last = s.models.pop()
    kind = last.WhichOneof("Type")
    if kind == "neuralNetworkClassifier":
        p = _neural_probabilities(s, last, C)
    elif kind == "glmClassifier" and C == 2:
        p = _sigmoid_probabilities(s, last)
    else:
        raise _refuse(est, f"ends in a {kind} stage, which gives no probability array")
    if w == 1.0 and np.array_equal(place, np.eye(n_classes)):
        return p
    return s.glm(p, place * w, hint="member_votes")  # one non-zero term per row: exact


def add_pairwise(s: Stages, parts: list[str], width: int, hint: str) -> str:
    """((a_0 + a_1) + a_2) + ...: one two-input GLMRegressor per addition, each sum rounded once
    (weights 1: the products are exact, so neither order nor fused multiply-add matters)."""
    total = parts[0]
    for part in parts[1:]:
        both = s.vectorize([(total, width), (part, width)], f"{hint}_pair")
        total = s.glm(both, np.hstack([np.eye(width), np.eye(width)]), hint=hint)
    return total


@register_emitter("coreml", EnsembleClassifier)
def ensemble_classifier(est: EnsembleClassifier, ctx: Context) -> None:
    s, x = ctx.stages, ctx.x
    C = est.n_classes
    votes = [member_probabilities(m, w, s, x, est.columns, C)
             for m, w in zip(est.members, est.weights, strict=True)]
    total = add_pairwise(s, votes, C, "votes")
    net = Layers()
    t = net.inner(total, np.ones((1, C)), hint="total")
    none = net.greater_equal(net.mul(t, alpha=-1.0), 0.0)  # total <= 0: every vote is 0
    inverse = net.unary(net.add(t, none), "INVERSE", hint="inverse")  # p as is when 0
    probs = net.mul(total, net.inner(inverse, np.ones((C, 1))), hint="probabilities")
    net.classifier(s, [(total, C)], probs, C)


def member_value(m: Member, s: Stages, x: str, columns: tuple[str, ...]) -> str:
    """[1] float64: the member's value (its emitter's single output, renamed)."""
    est = m.estimator
    xm = _member_input(m, s, x, columns)
    start = len(s.models)
    emit("coreml", est, Context(s, xm, est.columns))
    if len(s.models) == start:
        raise _refuse(est, "added no Core ML stage")
    last = s.models[-1]
    outputs = list(last.description.output)
    if len(outputs) != 1 or last.WhichOneof("Type").endswith("Classifier"):
        raise _refuse(est, f"ends in a {last.WhichOneof('Type')} stage, not one value")
    out = s.name("member_value")
    _rename(last, outputs[0].name, out)
    last.description.output[0].type.CopyFrom(array_type(1))
    last.description.predictedFeatureName = ""
    return out


@register_emitter("coreml", EnsembleRegressor)
def ensemble_regressor(est: EnsembleRegressor, ctx: Context) -> None:
    s, x = ctx.stages, ctx.x
    values = [member_value(m, s, x, est.columns) for m in est.members]
    if est.combine == "median":
        median(s, values)
        return
    terms = [v if w == 1.0 else s.scaler(v, 1, 0.0, w, "weighted")
             for v, w in zip(values, est.weights, strict=True)]
    total = add_pairwise(s, terms, 1, "sum")
    s.glm(total, [[1.0 / est.divisor]], [0.0], output="value")


def _stump_ensemble(p, dims: int, stumps) -> None:
    """Trees of one test `x[f] <= t` each: (feature, threshold, NaN goes true, true leaf
    [(index, value)], false leaf [(index, value)])."""
    ens = p.treeEnsemble
    ens.numPredictionDimensions = dims
    ens.basePredictionValue.extend([0.0] * dims)
    for tree_id, (f, t, nan_true, yes, no) in enumerate(stumps):
        ens.nodes.add(treeId=tree_id, nodeId=0, nodeBehavior=LEQ, branchFeatureIndex=f,
                      branchFeatureValue=float(t), trueChildNodeId=1, falseChildNodeId=2,
                      missingValueTracksTrueChild=nan_true)
        for node_id, leaf in ((1, yes), (2, no)):
            node = ens.nodes.add(treeId=tree_id, nodeId=node_id, nodeBehavior=LEAF)
            for index, value in leaf:
                node.evaluationInfo.add(evaluationIndex=index, evaluationValue=float(value))
    p.postEvaluationTransform = 0


def median(s: Stages, values: list[str]) -> None:
    """numpy's median of the member values, exact in double (see the module docstring)."""
    M = len(values)
    y = s.vectorize([(v, 1) for v in values], "members")
    if M == 1:
        s.glm(y, [[1.0]], [0.0], output="value")
        return
    inf = math.inf
    # values as a finite part and ±inf flags (a dense GLM must never see an infinity: 0 · inf is
    # NaN); a NaN member makes the median NaN
    no_nan = s.replace(y, M, math.nan, 0.0, "no_nan")
    finite = s.replace(s.replace(no_nan, M, inf, 0.0, "no_pos_inf"), M, -inf, 0.0, "finite")
    pos = is_infinite(s, s.replace(no_nan, M, -inf, 0.0, "no_neg_inf"), M, "pos_inf")
    neg = is_infinite(s, s.replace(no_nan, M, inf, 0.0, "no_pos_inf"), M, "neg_inf")
    not_inf = s.replace(s.replace(y, M, inf, 0.0, "no_pos_inf"), M, -inf, 0.0, "no_inf")
    is_nan = s.replace(s.scaler(not_inf, M, 0.0, 0.0, "nan"), M, math.nan, 1.0, "is_nan")
    # y_i <= y_j as (kind_i, finite_i) <= (kind_j, finite_j), kind = [+inf] - [-inf]
    pairs = [(i, j) for i in range(M) for j in range(i + 1, M)]
    P = len(pairs)
    D = np.zeros((P, M))
    for k, (i, j) in enumerate(pairs):
        D[k, i], D[k, j] = 1.0, -1.0
    diff = s.glm(finite, D, hint="finite_differences")  # fl(f_i - f_j): its sign is exact
    signs = s.scaler(diff, P, 0.0, SIGN_SCALE, "difference_sign")
    kinds_diff = s.glm(s.vectorize([(pos, M), (neg, M)], "inf_flags"), np.hstack([D, -D]),
                       hint="kind_differences")  # small integers, exact
    s.float32 = True  # the rank trees run in float32, on exact signs and small integers

    def rank_trees(p) -> None:  # i before j (j's rank grows) iff y_i <= y_j, else j before i
        ens = p.treeEnsemble
        ens.numPredictionDimensions = M
        ens.basePredictionValue.extend([0.0] * M)
        for k, (i, j) in enumerate(pairs):
            nodes = [(0, P + k, -0.5, 3, 1), (1, P + k, 0.5, 2, 4), (2, k, 0.0, 3, 4)]
            for node_id, f, value, yes, no in nodes:
                ens.nodes.add(treeId=k, nodeId=node_id, nodeBehavior=LEQ, branchFeatureIndex=f,
                              branchFeatureValue=value, trueChildNodeId=yes, falseChildNodeId=no)
            for node_id, grows in ((3, j), (4, i)):
                node = ens.nodes.add(treeId=k, nodeId=node_id, nodeBehavior=LEAF)
                node.evaluationInfo.add(evaluationIndex=grows, evaluationValue=1.0)
        p.postEvaluationTransform = 0

    ranks = s.array("treeEnsembleRegressor", s.vectorize([(signs, P), (kinds_diff, P)], "order"),
                    2 * P, M, rank_trees, "rank")
    slots = [M // 2] if M % 2 else [M // 2 - 1, M // 2]
    A = len(slots)
    stumps = []
    for a, r in enumerate(slots):
        for i in range(M):  # rank_i == r: (rank_i <= r + 0.5) - (rank_i <= r - 0.5)
            stumps.append((i, r - 0.5, False, [(a * M + i, -1.0)], []))
            stumps.append((i, r + 0.5, False, [(a * M + i, 1.0)], []))
    chosen = s.array("treeEnsembleRegressor", ranks, M, A * M,
                     lambda p: _stump_ensemble(p, A * M, stumps), "chosen")
    U = s.scaler(chosen, A * M, -1.0, -DBL_MAX, "gate")  # -0 when chosen, DBL_MAX elsewhere
    V = s.vectorize([(finite, M), (pos, M), (neg, M), (U, A * M)], "gate_inputs")
    G = np.zeros((A * 3 * M, 3 * M + A * M))
    for a in range(A):
        for kind in range(3):
            rows = (a * 3 + kind) * M + np.arange(M)
            G[rows, kind * M + np.arange(M)] = 1.0
            G[rows, 3 * M + a * M + np.arange(M)] = 4.0
    gated = s.replace(s.glm(V, G, hint="gated"), A * 3 * M, inf, 0.0, "gated_values")
    picked = s.glm(gated, np.kron(np.eye(A * 3), np.ones((1, M))), hint="picked")  # one term each
    kinds = s.scaler(picked, A * 3, 0.0, [1.0, DBL_MAX, -DBL_MAX] * A, "picked_parts")
    kinds = s.scaler(kinds, A * 3, 0.0, [1.0, 4.0, 4.0] * A, "picked_parts")  # flags → ±inf
    nan_count = s.glm(is_nan, np.ones((1, M)), hint="nan_count")
    nan_part = s.scaler(s.scaler(s.scaler(nan_count, 1, 0.0, DBL_MAX, "nan_part"), 1, 0.0, 4.0,
                                 "nan_part"), 1, 0.0, 0.0, "nan_part")  # 0, or inf · 0 = NaN
    parts = s.vectorize([(kinds, A * 3), (nan_part, 1)], "median_parts")
    if A == 1:
        s.glm(parts, np.ones((1, 4)), [0.0], output="value")
        return
    both = s.glm(parts, np.ones((1, 7)), hint="middle_sum")  # fl(a + b): two non-zero terms
    s.glm(both, [[0.5]], [0.0], output="value")  # numpy: (a + b) / 2
