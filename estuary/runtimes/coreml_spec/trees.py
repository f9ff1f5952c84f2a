"""TreeEnsembleRegressor / TreeEnsembleClassifier, evaluated in float32 as Core ML does on device:
the input and each `branchFeatureValue` rounded to float32, leaf `evaluationValue`s added to
`basePredictionValue` in float32, NaN routed by `missingValueTracksTrueChild`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .evaluator import (
    SpecError,
    _as_declared,
    _input,
    _matrix,
    class_labels,
    classifier_outputs,
    evaluates,
)

F32 = np.float32
TESTS = {
    0: np.less_equal,  # BranchOnValueLessThanEqual
    1: np.less,
    2: np.greater_equal,
    3: np.greater,
    4: np.equal,
    5: np.not_equal,
}
LEAF = 6


def ensemble_scores(params: Any, x: np.ndarray) -> np.ndarray:
    """[N, D] float32: base prediction plus every tree's leaf values."""
    D = int(params.numPredictionDimensions)
    base = np.asarray(params.basePredictionValue, dtype=F32)
    if base.shape[0] not in (0, D):
        raise SpecError(f"treeEnsemble: {base.shape[0]} base values for {D} dimensions")
    scores = np.zeros((x.shape[0], D), dtype=F32) + (base if base.size else F32(0))
    with np.errstate(over="ignore"):  # beyond float32 a value is ±inf, as on device
        xf = x.astype(F32)
    trees, children = _trees(params.nodes)
    for tree_id, nodes in sorted(trees.items()):
        roots = [n for n in nodes if (tree_id, n) not in children]
        if len(roots) != 1:
            raise SpecError(f"treeEnsemble: tree {tree_id} has {len(roots)} root nodes, not 1")
        leaves = _route(tree_id, nodes, roots[0], xf)
        _add_leaves(scores, nodes, leaves)
    return scores


def _trees(spec_nodes: Any) -> tuple[dict[int, dict[int, Any]], set[tuple[int, int]]]:
    """The nodes grouped by tree ({tree id: {node id: node}}) and every (tree id, child id)."""
    trees: dict[int, dict[int, Any]] = {}
    children: set[tuple[int, int]] = set()
    for node in spec_nodes:
        trees.setdefault(node.treeId, {})[node.nodeId] = node
        if node.nodeBehavior != LEAF:
            children |= {(node.treeId, node.trueChildNodeId), (node.treeId, node.falseChildNodeId)}
    return trees, children


def _route(tree_id: int, nodes: dict[int, Any], root: int, xf: np.ndarray) -> np.ndarray:
    """The leaf node id each row of `xf` reaches in one tree (a tree deeper than its node count
    has a cycle)."""
    current = np.full(xf.shape[0], root, dtype=np.int64)
    for _ in range(len(nodes) + 1):
        done = True
        for node_id in np.unique(current):  # rows moved in this pass may move again in it
            node = nodes.get(int(node_id))
            if node is None:
                raise SpecError(f"treeEnsemble: tree {tree_id} points at a missing node {node_id}")
            if node.nodeBehavior != LEAF:
                done = False
                _branch(node, node_id, current, xf)
        if done:
            return current
    raise SpecError(f"treeEnsemble: tree {tree_id} has a cycle")


def _branch(node: Any, node_id: int, current: np.ndarray, xf: np.ndarray) -> None:
    """Move the rows at `node_id` to the child its test chooses (NaN: `missingValueTracksTrueChild`)."""
    at = np.flatnonzero(current == node_id)
    if node.branchFeatureIndex >= xf.shape[1]:
        raise SpecError("treeEnsemble: branchFeatureIndex out of range")
    v = xf[at, node.branchFeatureIndex]
    test = TESTS.get(node.nodeBehavior)
    if test is None:
        raise SpecError(f"treeEnsemble: unknown node behaviour {node.nodeBehavior}")
    go_true = np.where(np.isnan(v), node.missingValueTracksTrueChild,
                       test(v, F32(node.branchFeatureValue)))
    current[at] = np.where(go_true, node.trueChildNodeId, node.falseChildNodeId)


def _add_leaves(scores: np.ndarray, nodes: dict[int, Any], leaves: np.ndarray) -> None:
    """Add each leaf's `evaluationValue`s (float32) to the scores of the rows that reached it."""
    for node_id in np.unique(leaves):
        at = np.flatnonzero(leaves == node_id)
        for info in nodes[int(node_id)].evaluationInfo:
            if info.evaluationIndex >= scores.shape[1]:
                raise SpecError("treeEnsemble: evaluationIndex out of range")
            scores[at, info.evaluationIndex] += F32(info.evaluationValue)


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def post_transform(kind: int, s: np.ndarray) -> np.ndarray:
    if kind == 0:  # NoTransform
        return s
    if kind == 1:  # Classification_SoftMax
        return _softmax(s)
    if kind == 2:  # Regression_Logistic
        return 1 / (1 + np.exp(-s))
    if kind == 3:  # Classification_SoftMaxWithZeroClassReference
        return _softmax(np.concatenate([np.zeros_like(s[:, :1]), s], axis=1))
    raise SpecError(f"treeEnsemble: unknown post-evaluation transform {kind}")


@evaluates("treeEnsembleRegressor")
def _tree_regressor(params, description, inputs):
    s = ensemble_scores(params.treeEnsemble, _matrix(_input(description, inputs)))
    y = post_transform(params.postEvaluationTransform, s).astype(np.float64)
    out = description.output[0]
    return {out.name: _as_declared(out, y)}


@evaluates("treeEnsembleClassifier")
def _tree_classifier(params, description, inputs):
    """One dimension for two classes is p(second class); otherwise one score per class. With
    NoTransform the scores are the probabilities as summed (no normalisation: a random forest
    converted by coremltools gives n_trees × its probabilities, apple/coremltools#1541)."""
    labels = class_labels(params)
    s = ensemble_scores(params.treeEnsemble, _matrix(_input(description, inputs)))
    p = post_transform(params.postEvaluationTransform, s)
    if p.shape[1] == 1 and len(labels) == 2:
        p = np.concatenate([1 - p, p], axis=1)
    if p.shape[1] != len(labels):
        raise SpecError(f"treeEnsembleClassifier: {p.shape[1]} scores for {len(labels)} classes")
    return classifier_outputs(description, labels, p.astype(np.float64))
