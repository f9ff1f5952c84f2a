"""Core ML for IR GaussianNB: which keys are present comes from a TreeEnsembleRegressor (exact
0/1, NaN routed to the false child), missing values are imputed to 0, and a
NeuralNetworkClassifier (float32) computes per (class, column)
term = ln(eps + e^(-z²/2) / (√(2π) σ)) with z = (x - μ) / σ, masked to 0 for an absent key,
summed with the log prior into jll, then the softmax. An unusable Gaussian (variance 0) gives
ln(eps), as in River.

BernoulliNB: each column's test x_j > threshold is exact (the sign of (x_j - t) · 2^1000 from a
float64 Scaler, as tree splits are made exact; NaN counts as "off"), routed by a float32 tree
ensemble into an exact 0/1 vector h; a GLMRegressor (float64) gives every difference of joint
log-likelihoods jll_j - jll_k = b_jk + Σ_i h_i · w_jki, and a NeuralNetworkClassifier (float32)
the softmax as p_k = 1 / Σ_j e^(jll_j - jll_k), as the linear softmax does.
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from ...ir.arithmetic import SQRT_TAU
from ...ir.naive_bayes import BernoulliNB, GaussianNB, gaussian_nb_arrays
from ..registry import register_emitter
from .builder import Layers, Stages
from .linear import pairwise_differences, softmax_of_differences
from .transforms import Context, impute


def presence(s: Stages, x: str, width: int) -> str:
    """[F] 1.0 where the column is a number (any, ±inf included), 0.0 where it is NaN."""

    def tree(ens, j: int) -> None:
        ens.nodes.add(treeId=j, nodeId=3, nodeBehavior=6)  # NaN: <= 0 and > 0 both false
        one = ens.nodes.add(treeId=j, nodeId=2, nodeBehavior=6)
        one.evaluationInfo.add(evaluationIndex=j, evaluationValue=1.0)
        ens.nodes.add(treeId=j, nodeId=0, nodeBehavior=0, branchFeatureIndex=j,
                      branchFeatureValue=0.0, trueChildNodeId=2, falseChildNodeId=1)
        ens.nodes.add(treeId=j, nodeId=1, nodeBehavior=3, branchFeatureIndex=j,
                      branchFeatureValue=0.0, trueChildNodeId=2, falseChildNodeId=3)

    return _per_column(s, x, width, tree, "present")


def _per_column(s: Stages, x: str, width: int, tree, name: str) -> str:
    """[F] from a float32 tree ensemble of one tree per column j, output j (`tree(ens, j)`
    adds its nodes), base 0 and no post-transform."""

    def fill(p) -> None:
        ens = p.treeEnsemble
        ens.numPredictionDimensions = width
        ens.basePredictionValue.extend([0.0] * width)
        for j in range(width):
            tree(ens, j)
        p.postEvaluationTransform = 0

    out = s.array("treeEnsembleRegressor", x, width, width, fill, name)
    s.float32 = True
    return out


@register_emitter("coreml", GaussianNB)
def gaussian_nb(est: GaussianNB, ctx: Context) -> None:
    s, x = ctx.stages, ctx.x
    C, F = len(est.log_priors), len(est.columns)
    means, sigmas, usable = gaussian_nb_arrays(est)
    present = presence(s, x, F)
    xi = impute(s, x, F)
    net = Layers()
    # row (c, j) of the [C·F] blobs
    pick = np.zeros((C * F, F))
    pick[np.arange(C * F), np.tile(np.arange(F), C)] = 1.0
    inv_sigma = np.where(usable, 1.0 / sigmas, 0.0).reshape(-1)
    xc = net.clip(xi)  # beyond float32 a value is inf, and inf · 0 in the product would be NaN
    z = net.inner(xc, pick * inv_sigma[:, None], -(np.where(usable, means / sigmas, 0.0)).ravel(),
                  hint="z")
    e = net.unary(net.mul(z, z), "EXP", scale=-0.5, hint="gauss")
    k = np.where(usable, 1.0 / (SQRT_TAU * sigmas), 0.0).reshape(-1)
    term = net.unary(net.inner(e, np.diag(k), np.full(C * F, est.epsilon)), "LOG", hint="term")
    term = net.mul(term, net.inner(present, pick), hint="present_term")
    jll = net.inner(term, np.kron(np.eye(C), np.ones((1, F))), np.asarray(est.log_priors),
                    hint="jll")
    net.classifier(s, [(xi, F), (present, F)], net.softmax(jll), C)



def above(s: Stages, x: str, width: int, threshold: float) -> str:
    """[F] exact 1.0 where x_j > threshold, 0.0 where not or NaN (River: a missing key is
    "off"). The signs come from `trees.split_signs` (exact, and folded into a preceding Scale);
    a one-stump-per-column float32 tree ensemble turns them into 0/1."""
    from ...ir.trees import TreeStructure
    from .trees import LEAF, LEQ, split_signs

    # a comb whose branches are the columns in order: only their feature / threshold are read
    comb = TreeStructure(
        feature=tuple(range(width)) + (0,) * (width + 1), threshold=(float(threshold),) * (2 * width + 1),
        left=tuple(width + j for j in range(width)) + (-1,) * (width + 1),
        right=tuple(j + 1 if j + 1 < width else 2 * width for j in range(width)) + (-1,) * (width + 1),
        missing_left=(True,) * (2 * width + 1), leaf=(-1,) * width + tuple(range(width + 1)),
        onehot=(False,) * (2 * width + 1))
    signs, _ = split_signs(comb, s, x, width)

    def tree(ens, j: int) -> None:
        ens.nodes.add(treeId=j, nodeId=0, nodeBehavior=LEQ, branchFeatureIndex=j,
                      branchFeatureValue=0.0, trueChildNodeId=1, falseChildNodeId=2,
                      missingValueTracksTrueChild=True)
        ens.nodes.add(treeId=j, nodeId=1, nodeBehavior=LEAF)
        hit = ens.nodes.add(treeId=j, nodeId=2, nodeBehavior=LEAF)
        hit.evaluationInfo.add(evaluationIndex=j, evaluationValue=1.0)

    return _per_column(s, signs, width, tree, "above")


@register_emitter("coreml", BernoulliNB)
def bernoulli_nb(est: BernoulliNB, ctx: Context) -> None:
    s, x = ctx.stages, ctx.x
    C, F = len(est.log_priors), len(est.columns)
    on = np.asarray(est.log_on, dtype=np.float64).reshape(C, F)
    off = np.asarray(est.log_off, dtype=np.float64).reshape(C, F)
    W = on - off  # jll_c = (log_prior_c + Σ_j off_cj) + Σ_j h_j · (on_cj - off_cj)
    b = np.asarray(est.log_priors, dtype=np.float64) + off.sum(axis=1)
    Wd, bd = pairwise_differences(W, b)  # row (k, j): jll_j - jll_k
    if not F:
        raise UnsupportedModelError("BernoulliNB", ["BernoulliNB with at least one column"],
                                    reason="no columns: a Core ML model needs an input to read")
    d = s.glm(above(s, x, F, est.threshold), Wd, bd, hint="jll_differences")
    softmax_of_differences(s, d, C)
