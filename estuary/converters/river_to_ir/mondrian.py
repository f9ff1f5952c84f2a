"""River `forest.AMFClassifier` / `AMFRegressor` → IR tree ensembles, over existing IR nodes.

River 0.26.1 (forest/aggregated_mondrian_forest.py, tree/mondrian/*, the Rust `find_leaf`,
`predict_proba_upward`, `predict_one_regressor`): a row walks a Mondrian tree to a leaf
(`x <= threshold` left; an absent key takes `most_common_path`, the child of larger `weight`,
the left one on a tie), then River aggregates the predictions of the nodes on the path from that
leaf up to the root, each weighted by exp(weight - log_weight_tree) of a node on the path. Every
weight depends on the path alone, never on x: the aggregated prediction is one constant per
leaf. So each leaf holds River's own aggregate (the classifier's computed by River's Rust
function on the leaf itself; the regressor's by the same loop, operation for operation), and the
forest is an ensemble of plain trees: the classifier sums p / n_estimators per tree (River
divides each tree's probability before adding), the regressor sums and divides by the count.
"""

from __future__ import annotations

import math
from typing import Any

from river import forest
from river._river_rust.tree import predict_proba_upward, predict_scores

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.ensembles import EnsembleClassifier, EnsembleRegressor, Member
from ...ir.trees import TreeClassifier, TreeRegressor, TreeStructure
from ..registry import Case, register_extractor, supported_models
from .base import EstimatorIR, key_name, numeric_inputs, plain, require_learned

CLASSIFIER_CASES = (
    Case("amf5-phishing", "Phishing", lambda: forest.AMFClassifier(n_estimators=5, seed=1)),
    Case("amf3-image-segments", "ImageSegments", lambda: forest.AMFClassifier(
        n_estimators=3, dirichlet=0.1, max_nodes=200, seed=2)),
    Case("amf4-bananas-no-aggregation", "Bananas", lambda: forest.AMFClassifier(
        n_estimators=4, use_aggregation=False, max_nodes=200, seed=3)),
)
REGRESSOR_CASES = (
    # every TrumpApproval row would be a leaf of its own: max_nodes keeps the suite's trees small
    Case("amf-reg5-trump", "TrumpApproval", lambda: forest.AMFRegressor(
        n_estimators=5, max_nodes=150, seed=1)),
    Case("amf-reg3-trump-no-aggregation", "TrumpApproval", lambda: forest.AMFRegressor(
        n_estimators=3, use_aggregation=False, max_nodes=150, seed=2)),
)


def _nodes(root: Any) -> list[Any]:
    """Every node, parents before children (depth first, left first)."""
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        if not node.is_leaf:
            stack.extend(reversed(node.children))
    return out


def _inputs(m: Any) -> dict:
    keys = {n.feature for t in m for n in _nodes(t._root) if not n.is_leaf}
    return numeric_inputs(sorted(keys, key=key_name))


def _structure(m: Any, tree: Any, columns: tuple[str, ...]) -> tuple[TreeStructure, list]:
    """The flat tree and its leaf nodes, in leaf-index order."""
    nodes = _nodes(tree._root)
    index = {id(n): i for i, n in enumerate(nodes)}
    position = {c: j for j, c in enumerate(columns)}
    feature, threshold, left, right, missing_left, leaf, leaves = [], [], [], [], [], [], []
    for node in nodes:
        if node.is_leaf:
            feature.append(0), threshold.append(0.0), left.append(-1), right.append(-1)
            missing_left.append(True), leaf.append(len(leaves))
            leaves.append(node)
            continue
        name = key_name(node.feature)
        if name not in position or not math.isfinite(node.threshold):
            raise UnsupportedModelError(m, supported_models(), reason=(
                f"a split on {name!r} that the artifact's columns do not hold"))
        feature.append(position[name]), threshold.append(float(node.threshold))
        left.append(index[id(node.children[0])]), right.append(index[id(node.children[1])])
        missing_left.append(node.most_common_path()[0] == 0), leaf.append(-1)
    n = len(nodes)
    return TreeStructure(tuple(feature), tuple(threshold), tuple(left), tuple(right),
                         tuple(missing_left), tuple(leaf), (False,) * n), leaves


def _regressor_leaf(leaf: Any, use_aggregation: bool) -> float:
    """River's `predict_one_regressor` from this leaf: the same loop, the same operations."""
    prediction = leaf._mean.get()
    if not use_aggregation:
        return prediction
    node = leaf.parent
    while node is not None:
        half_w = 0.5 * math.exp(node.weight - node.log_weight_tree)
        prediction = half_w * node._mean.get() + (1.0 - half_w) * prediction
        node = node.parent
    return prediction


@register_extractor(forest.AMFClassifier, inputs=_inputs, kind="estimator",
                    produces=(EnsembleClassifier, TreeClassifier), cases=CLASSIFIER_CASES)
def amf_classifier(m: forest.AMFClassifier, columns, ctx) -> EstimatorIR:
    """`predict_proba_one`: Σ over trees of (tree probability / n_estimators), in River's
    `_classes` order (a set: its iteration order is the dict's, so the labels' tie-break)."""
    require_learned(m._is_initialized, "AMFClassifier")
    classes = tuple(m._classes)
    if len(classes) < 2:
        raise UnsupportedModelError(m, supported_models(), reason=(
            "it has seen one class only: learn a second class before export"))
    members = []
    for tree in m:
        structure, leaves = _structure(m, tree, columns)
        n_classes = len(tree._classes)
        probs = []
        for leaf in leaves:
            if tree.use_aggregation:
                scores = predict_proba_upward(leaf, n_classes, tree.dirichlet)
            else:
                scores = predict_scores(leaf.counts, len(leaf.counts), n_classes,
                                        tree.dirichlet, leaf.n_samples)
            by_class = {tree._idx_to_class[i]: scores[i] for i in range(n_classes)}
            probs.append(tuple(by_class[c] / m.n_estimators for c in classes))
        est = TreeClassifier(columns, structure, tuple(probs), (False,) * len(leaves))
        members.append(Member(ir.Chain(()), est, tuple(range(len(classes)))))
    ensemble = EnsembleClassifier(columns, tuple(members), (1.0,) * len(members), len(classes))
    return EstimatorIR(ensemble, "classification", tuple(plain(c) for c in classes))


@register_extractor(forest.AMFRegressor, inputs=_inputs, kind="estimator",
                    produces=(EnsembleRegressor, TreeRegressor), cases=REGRESSOR_CASES)
def amf_regressor(m: forest.AMFRegressor, columns, ctx) -> EstimatorIR:
    """`predict_one`: (Σ over trees of the tree's aggregate) / n_estimators."""
    require_learned(m._is_initialized, "AMFRegressor")
    members = []
    for tree in m:
        structure, leaves = _structure(m, tree, columns)
        means = tuple(float(_regressor_leaf(leaf, m.use_aggregation)) for leaf in leaves)
        est = TreeRegressor(columns, structure, means, (False,) * len(leaves))
        members.append(Member(ir.Chain(()), est))
    ensemble = EnsembleRegressor(columns, tuple(members), (1.0,) * len(members),
                                 float(m.n_estimators))
    return EstimatorIR(ensemble, "regression")
