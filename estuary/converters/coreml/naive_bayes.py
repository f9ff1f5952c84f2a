"""Core ML for IR GaussianNB: which keys are present comes from a TreeEnsembleRegressor (exact
0/1, NaN routed to the false child), missing values are imputed to 0, and a
NeuralNetworkClassifier (float32) computes per (class, column)
term = ln(eps + e^(-z²/2) / (√(2π) σ)) with z = (x - μ) / σ, masked to 0 for an absent key,
summed with the log prior into jll, then the softmax. An unusable Gaussian (variance 0) gives
ln(eps), as in River.
"""

from __future__ import annotations

import numpy as np

from ...ir.naive_bayes import SQRT_TAU, GaussianNB, gaussian_nb_arrays
from ..registry import register_emitter
from .builder import Layers, Stages
from .transforms import impute


def presence(s: Stages, x: str, width: int) -> str:
    """[F] 1.0 where the column is a number (any, ±inf included), 0.0 where it is NaN."""

    def fill(p) -> None:
        ens = p.treeEnsemble
        ens.numPredictionDimensions = width
        ens.basePredictionValue.extend([0.0] * width)
        for j in range(width):
            ens.nodes.add(treeId=j, nodeId=3, nodeBehavior=6)  # NaN: <= 0 and > 0 both false
            one = ens.nodes.add(treeId=j, nodeId=2, nodeBehavior=6)
            one.evaluationInfo.add(evaluationIndex=j, evaluationValue=1.0)
            ens.nodes.add(treeId=j, nodeId=0, nodeBehavior=0, branchFeatureIndex=j,
                          branchFeatureValue=0.0, trueChildNodeId=2, falseChildNodeId=1)
            ens.nodes.add(treeId=j, nodeId=1, nodeBehavior=3, branchFeatureIndex=j,
                          branchFeatureValue=0.0, trueChildNodeId=2, falseChildNodeId=3)
        p.postEvaluationTransform = 0

    out = s.array("treeEnsembleRegressor", x, width, width, fill, "present")
    s.float32 = True
    return out


@register_emitter("coreml", GaussianNB)
def gaussian_nb(est: GaussianNB, s: Stages, x: str) -> None:
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

