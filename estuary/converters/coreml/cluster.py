"""Core ML for IR NearestCentre (River's KMeans, STREAMKMeans, DBSTREAM): float32
neural-network layers, as TF.js (precision float32; the metadata says so).

A missing value becomes 0.0 in a float64 Imputer (River's `x.get(k, 0)`); then, in float32:
- `distances`: every x_j - c_kj by one inner product (x · e_j is x_j exactly; the input is
  clipped to ±3.4e38 first, so a huge value elsewhere cannot make 0 · inf = NaN), squared,
  summed per centre by a second inner product, and square-rooted for the Euclidean models; a
  square beyond float32 makes its centre's distance inf (River's float64 square of a value
  beyond ~1.8e19 is finite: such rows differ, as in TF.js);
- `cluster`: the label of a NeuralNetworkClassifier over the score -(Σ c² - 2 x · c), the rank
  TF.js uses (tfjs/cluster.py): River's order of the centres without the row's own Σ x², so a
  row 1e9 away still gets River's cluster where every float32 distance is the same number. A
  row holding a value beyond float32 (1e300 → inf) scores (1, 0, ..., 0): the first centre,
  as River's `min` over distances that all overflow to inf.
Refused: Manhattan KMeans (p = 1: no exact rank in these layers, and float32 distances of a far
row tie) and DenStream's -1 (a pseudo-centre at the largest double, beyond float32). A rank
beyond ±1e30 (a value beyond ~1e29 in the row) is clipped there and ties.
"""

from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from ...ir.cluster import NearestCentre, NearestCentreOrElse
from ..registry import EMITTERS, register_emitter, register_refusal
from .builder import FLT_MAX, Layers, array_type, int64_type
from .transforms import Context, impute

RANK_CLIP = 1e30  # ranks are clipped here before they are multiplied by 0 or 1


@register_emitter("coreml", NearestCentre)
def nearest_centre(est: NearestCentre, ctx: Context) -> None:
    if est.p != 2:
        have = sorted(t.__name__ for f, t in EMITTERS if f == "coreml")
        raise UnsupportedModelError("NearestCentre", have, reason=(
            f"coreml: a Minkowski power p={est.p} has no exact rank in Core ML's float32 layers "
            "(a far row's distances tie); export to ONNX, PMML or TF.js"))
    s = ctx.stages
    C = est.table()
    K, F = C.shape
    x = impute(s, ctx.x, F)
    net = Layers()
    xc = net.clip(x)
    diff = net.inner(xc, np.tile(np.eye(F), (K, 1)), -C.ravel(), hint="diff")
    # squares clipped to 3.4e38, so that the per-centre sum's zero weights never meet inf;
    # a centre with a clipped square then gets + 2 · 3.4e38, which is inf, as River's overflow
    square = net.clip(net.mul(diff, diff, hint="square"), 0.0, FLT_MAX)
    per_centre = np.kron(np.eye(K), np.ones((1, F)))
    sums = net.inner(square, per_centre, hint="sum")
    overflowed = net.clip(net.inner(net.greater_equal(square, FLT_MAX), per_centre,
                                    hint="overflowed"), 0.0, 1.0)
    huge = net.mul(overflowed, alpha=FLT_MAX, hint="huge")
    sums = net.add(sums, huge, huge, hint="sums")
    distances = net.unary(sums, "SQRT", hint="distances") if est.root else sums
    rank = net.inner(xc, -2.0 * C, (C * C).sum(axis=1), hint="rank")
    overflow = net.clip(net.inner(net.greater_equal(net.unary(x, "ABS", hint="size"), FLT_MAX),
                                  np.ones((1, F)), hint="overflows"), 0.0, 1.0)
    kept = net.mul(net.clip(rank, -RANK_CLIP, RANK_CLIP), net.linear(overflow, -1.0, 1.0),
                   hint="kept")
    first = net.inner(overflow, np.eye(K, 1), hint="first")
    score = net.add(net.linear(kept, -1.0, 0.0), first, hint="score")
    _classifier(net, s, x, F, score, distances, K)


def _classifier(net: Layers, s, x: str, F: int, score: str, distances: str, K: int) -> None:
    """A NeuralNetworkClassifier stage: `cluster` (the first highest score's index) and the
    blob `distances` as a second output."""
    for layer in net.layers:
        if layer.output[0] == distances:
            layer.output[0] = "distances"

    def fill(p) -> None:
        p.layers.extend(net.layers)
        p.labelProbabilityLayerName = score
        p.int64ClassLabels.vector.extend(range(K))

    m = s.add("neuralNetworkClassifier", [(x, array_type(F))],
              [("cluster", int64_type()), ("distances", array_type(K))], fill)
    m.description.predictedFeatureName = "cluster"
    s.float32 = True


register_refusal("coreml", NearestCentreOrElse, "River's answer when no centre is nearer than "
                 "+inf (DenStream's -1) is a pseudo-centre at the largest double, which Core "
                 "ML's float32 layers cannot hold; export to ONNX or PMML (float64)")
