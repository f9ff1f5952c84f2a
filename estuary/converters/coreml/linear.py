"""Core ML for IR Linear. Missing values → 0.0 by an Imputer (an absent key adds nothing), then:

- identity: GLMRegressor (float64) → `value`.
- sigmoid: GLMClassifier, one weight row, Logit: p = 1/(1+e^-z) in float64; River clamps |z| > SIGMOID_CLAMP
  to exactly 0 / 1, which differs from the logistic by less than 1e-13.
- softmax: GLMRegressor of every difference z_j - z_k [K·K] (float64: exact even where z itself
  is beyond float32's range), then a NeuralNetworkClassifier (float32) with p_k = 1 / Σ_j e^(z_j - z_k).
- ovr_sigmoid: GLMRegressor z [K] (float64), then a NeuralNetworkClassifier (float32): clamped
  sigmoids (0 below -SIGMOID_CLAMP, as River) normalised by their sum, uniform when every one is 0.
"""

from __future__ import annotations

import numpy as np

from ... import ir
from ...ir.arithmetic import SIGMOID_CLAMP
from ..registry import register_emitter
from .builder import Layers, Stages, array_type, double_type, int64_type, scores_type
from .transforms import Context, impute


def _glm(p, W: np.ndarray, b) -> None:
    for row in W:
        p.weights.add().value.extend(row.tolist())
    p.offset.extend(float(v) for v in b)


def _value(s: Stages, x: str, W: np.ndarray, b: np.ndarray) -> None:
    s.add("glmRegressor", [(x, array_type(W.shape[1]))], [("value", double_type())],
          lambda p: _glm(p, W, b))


def _binary(s: Stages, x: str, W: np.ndarray, b: np.ndarray) -> None:
    """Core ML's Logit in float64; River's clamp changes it by less than 1e-13."""
    def fill(p) -> None:
        _glm(p, W, b)
        p.postEvaluationTransform = p.Logit
        p.classEncoding = p.OneVsRest
        p.int64ClassLabels.vector.extend([0, 1])

    s.add("glmClassifier", [(x, array_type(W.shape[1]))],
          [("label", int64_type()), ("probabilities", scores_type())], fill, classifier=True)


def _softmax(s: Stages, x: str, W: np.ndarray, b: np.ndarray) -> None:
    """A float32 rewrite of `arithmetic.softmax_link`: p_k = 1 / Σ_j e^(z_j - z_k), the
    differences computed in float64 (exact even where z is beyond float32's range)."""
    K, F = W.shape
    Wd, bd = pairwise_differences(W, b)
    d = s.array("glmRegressor", x, F, K * K, lambda p: _glm(p, Wd, bd), "z_differences")
    softmax_of_differences(s, d, K)


def pairwise_differences(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row (k, j) of the affine map z_j - z_k, in float64."""
    K, F = W.shape
    return ((W[None, :, :] - W[:, None, :]).reshape(K * K, F),
            (b[None, :] - b[:, None]).reshape(K * K))


def softmax_of_differences(s: Stages, d: str, K: int) -> None:
    """The classifier stage of a float32 softmax from float64 differences d [(k, j)] = z_j - z_k:
    p_k = 1 / Σ_j e^(d_kj). e^88 < FLT_MAX: no inf reaches the sum, where 0 · inf gives NaN."""
    net = Layers()
    e = net.unary(net.clip(d, hi=88.0), "EXP", hint="exp")
    sums = net.inner(e, np.kron(np.eye(K), np.ones((1, K))))
    net.classifier(s, [(d, K * K)], net.unary(sums, "INVERSE", hint="probabilities"), K)


def _one_vs_rest(s: Stages, x: str, W: np.ndarray, b: np.ndarray) -> None:
    K, F = W.shape
    net = Layers()
    z = s.array("glmRegressor", x, F, K, lambda p: _glm(p, W, b), "z")
    zc = net.clip(z)  # float32 overflow → ±FLT_MAX rather than inf
    net.classifier(s, [(z, K)], ovr_normalised(net, zc, K), K)


LINKS = {"identity": _value, "sigmoid": _binary, "softmax": _softmax, "ovr_sigmoid": _one_vs_rest}


@register_emitter("coreml", ir.Linear)
def linear(est: ir.Linear, ctx: Context) -> None:
    s, x = ctx.stages, ctx.x
    if est.link not in LINKS:
        raise ValueError(f"Core ML has no rule for the link {est.link!r}; it knows {sorted(LINKS)}")
    F, K = len(est.columns), len(est.intercepts)
    W = np.asarray(est.weights, dtype=np.float64).reshape(K, F)
    LINKS[est.link](s, impute(s, x, F), W, np.asarray(est.intercepts, dtype=np.float64))


def ovr_normalised(net: Layers, z: str, K: int) -> str:
    """A float32 rewrite of `arithmetic.ovr_link` in layers that have no `where`: masks
    multiply, and `none` (1 when every sigmoid is 0) adds the uniform 1/K."""
    p = net.mul(net.sigmoid(z), net.greater_equal(z, -SIGMOID_CLAMP))  # River: exactly 0 there
    total = net.inner(p, np.ones((1, K)), hint="total")
    positive = net.greater_equal(total, 1e-30)  # a clamped sigmoid is 0 or > 9e-14
    none = net.linear(positive, -1.0, 1.0)  # 1 when every sigmoid is 0
    numerator = net.add(p, net.inner(none, np.full((K, 1), 1.0 / K)))
    inverse = net.unary(net.add(total, none), "INVERSE", hint="inverse")
    return net.mul(numerator, net.inner(inverse, np.ones((K, 1))), hint="probabilities")
