"""River `cluster` → IR NearestCentre: the assignment `predict_one` makes from the centres frozen
at snapshot time.

River 0.26.1 (cluster/k_means.py, streamkmeans.py; the Rust `euclidean_distance_dict`):
- `KMeans.predict_one` = `min(centers, key=Σ |center[k] - x.get(k, 0)| ** p over the union of
  keys)`, no root; `min` keeps the first of equal distances (dict order). A centre is a
  `defaultdict` that draws a random Gaussian coordinate for a key it has not seen, and keeps it:
  a row with a key the centres never saw changes River's model. The artifact's schema is the
  centres' keys and ignores any other key (the parity harness reports such rows as skipped).
- `STREAMKMeans.predict_one` = `min(centers, key=euclidean_distance_dict(center, x))`: sqrt of
  the squared differences summed over the centre's keys in dict order (a missing x is 0.0),
  then over x's other keys (their squares: the artifact ignores unknown keys, skipped likewise).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from river import cluster, compose, preprocessing
from river.utils.vectordict import euclidean_distance_dict

from ...errors import UnsupportedModelError
from ...ir.cluster import FARTHEST, NearestCentre, NearestCentreOrElse
from ...parity.reference import CLUSTER_DISTANCES
from ..registry import Case, register_extractor, supported_models
from .base import EstimatorIR, key_name, plain, require_learned

# TrumpApproval's polls, without ordinal_date (~737k, 0.06 apart in float32: 2e-4 once scaled;
# TF.js now takes x - c at float64 precision from its keys input, tfjs/cluster.py, and the
# `scaler|kmeans` case keeps ordinal_date)
POLLS = ("gallup", "ipsos", "morning_consult", "rasmussen", "you_gov")

KMEANS_CASES = (
    Case("kmeans", "Phishing", lambda: cluster.KMeans(n_clusters=4, halflife=0.3, seed=7)),
    Case("scaler|kmeans", "TrumpApproval", lambda: preprocessing.StandardScaler()
         | cluster.KMeans(n_clusters=5, seed=3)),
)
STREAMKMEANS_CASES = (
    Case("streamkmeans", "Phishing", lambda: cluster.STREAMKMeans(
        chunk_size=10, n_clusters=3, halflife=0.3, seed=1, mu=0.5, sigma=0.2)),
    Case("select(polls)|scaler|streamkmeans", "TrumpApproval", lambda: compose.Select(*POLLS)
         | preprocessing.StandardScaler()
         | cluster.STREAMKMeans(chunk_size=50, n_clusters=4, seed=2)),
)


def _centre_keys(centres: Mapping) -> dict:
    """Every key the centres hold, in the first centre's order, then any other."""
    keys: dict = {}
    for c in centres.values():
        keys.update(dict.fromkeys(c))
    return keys


def _centre_inputs(m: Any) -> dict:
    return {k: None for k in _centre_keys(m.centers)}


def _frozen(m: Any, columns: tuple[str, ...], p: int, root: bool,
            what: str) -> EstimatorIR:
    """The centres of `m` as a NearestCentre over their keys (in the first centre's order)."""
    keys = _centre_keys(m.centers)
    require_learned(bool(keys), what)
    names = [key_name(k) for k in keys]
    unreachable = sorted(set(names) - set(columns))
    if unreachable:
        raise UnsupportedModelError(m, supported_models(), reason=(
            f"its centres hold keys {unreachable} that no step in front of it produces"))
    centres = tuple(tuple(float(c[k]) if k in c else 0.0 for k in keys)
                    for c in m.centers.values())
    est = NearestCentre(tuple(names), centres, p=p, root=root)
    return EstimatorIR(est, "cluster", tuple(plain(i) for i in m.centers))


def _whole_p(m: Any) -> int:
    p = m.p
    if isinstance(p, bool) or not isinstance(p, int | float) or p != int(p) or p < 1:
        raise UnsupportedModelError(m, supported_models(), reason=(
            f"p={p!r}: estuary exports a Minkowski power that is a whole number >= 1"))
    return int(p)


@register_extractor(cluster.KMeans, inputs=_centre_inputs, kind="estimator",
                    produces=(NearestCentre,), cases=KMEANS_CASES)
def kmeans(m: cluster.KMeans, columns, ctx) -> EstimatorIR:
    """Σ |c - x| ** p to each centre, no root; every centre must hold every key (River draws a
    random coordinate the first time a row holds a key a centre lacks)."""
    keys = _centre_keys(m.centers)
    lacking = [i for i, c in m.centers.items() if set(c) != set(keys)]
    if keys and lacking:
        raise UnsupportedModelError(m, supported_models(), reason=(
            f"centres {lacking} lack keys the others hold: River draws a random coordinate for "
            "such a key the first time a row holds it, which no artifact can reproduce"))
    return _frozen(m, columns, _whole_p(m), False, "KMeans")


@register_extractor(cluster.STREAMKMeans, inputs=_centre_inputs, kind="estimator",
                    produces=(NearestCentre,), cases=STREAMKMEANS_CASES)
def streamkmeans(m: cluster.STREAMKMeans, columns, ctx) -> EstimatorIR:
    """Euclidean distance (with its root) to the centres of its inner KMeans, which it forms
    after `chunk_size` rows (before that River has no centres, or centres without keys)."""
    return _frozen(m, columns, 2, True, f"STREAMKMeans (it forms centres every {m.chunk_size} "
                   "rows)")


DBSTREAM_CASES = (
    Case("dbstream", "Phishing", lambda: cluster.DBSTREAM()),
    Case("select(polls)|scaler|dbstream", "TrumpApproval", lambda: compose.Select(*POLLS)
         | preprocessing.StandardScaler() | cluster.DBSTREAM(clustering_threshold=1.5, fading_factor=0.05, cleanup_interval=4,
                            intersection_factor=0.5, minimum_weight=1)),
)
DENSTREAM_CASES = (
    Case("denstream", "Bananas", lambda: cluster.DenStream(
        decaying_factor=0.01, beta=0.5, mu=2.5, epsilon=0.8, n_samples_init=200)),
)


def _dbstream_inputs(m: cluster.DBSTREAM) -> dict:
    return {k: None for k in _centre_keys(m.centers)}  # `centers` reclusters, as predict does


@register_extractor(cluster.DBSTREAM, inputs=_dbstream_inputs, kind="estimator",
                    produces=(NearestCentre,), cases=DBSTREAM_CASES)
def dbstream(m: cluster.DBSTREAM, columns, ctx) -> EstimatorIR:
    """`predict_one` reclusters (deterministic from the state), then scans the macro-cluster
    centres with a strict `<` from +inf, answering 0 when none is nearer (every distance
    overflowed): the first centre, whose id is 0 (refused otherwise)."""
    centres = m.centers
    require_learned(bool(centres), "DBSTREAM (it has formed no macro-cluster yet; River "
                    "answers 0 for every row)")
    ir_ = _frozen(m, columns, 2, True, "DBSTREAM")
    if ir_.classes[0] != 0:
        raise UnsupportedModelError(m, supported_models(), reason=(
            "River answers 0 for a row no centre is nearer than +inf to, and cluster 0 is not "
            "its first centre: the first minimum cannot say that"))
    return ir_


class _Clusters:
    """DenStream's macro clusters as `centers` (what `_frozen` reads)."""

    def __init__(self, clusters: Mapping):
        self.centers = {k: c.center for k, c in clusters.items()}


def _denstream_clusters(m: cluster.DenStream) -> Mapping:
    """The clusters `predict_one` builds from the p-micro-clusters, built on a copy (River's
    merge of two micro-clusters writes into the first one's sums: refused below)."""
    if not m.initialized:
        return {}
    probe = copy.deepcopy(m)
    probe.predict_one({})
    if probe.n_clusters != len(m.p_micro_clusters):
        raise UnsupportedModelError(m, supported_models(), reason=(
            "two of its p-micro-clusters are density-reachable: River's predict_one merges them "
            "into a shallow copy (copy.copy), adding to the first one's sums on every call, so "
            "its answers drift from call to call"))
    return probe.clusters


@register_extractor(cluster.DenStream, inputs=lambda m: {
        k: None for k in _centre_keys(_Clusters(_denstream_clusters(m)).centers)},
    kind="estimator", produces=(NearestCentreOrElse,), cases=DENSTREAM_CASES)
def denstream(m: cluster.DenStream, columns, ctx) -> EstimatorIR:
    """Euclidean distance to each cluster's centre (linear sum / N), first of equal distances;
    -1 (a pseudo-centre in front, `NearestCentreOrElse`) when none is nearer than +inf."""
    clusters = _denstream_clusters(m)
    require_learned(bool(clusters), "DenStream (before its initial DBSCAN River answers 0, "
                    "without p-micro-clusters -1, for every row)")
    e = _frozen(_Clusters(clusters), columns, 2, True, "DenStream")
    return EstimatorIR(NearestCentreOrElse(e.estimator.columns, e.estimator.centres, 2, True),
                       "cluster", (-1, *e.classes))


CLUSTREAM_REFUSAL = (
    "River's CluStream.predict_one answers the k-means cluster of the nearest micro-cluster "
    "(first of equal distances in micro-cluster order): a two-level assignment that one "
    "distance per cluster id cannot order the same way when micro-clusters of two clusters "
    "tie, and it answers 0 until its first k-means")


@register_extractor(cluster.CluStream, inputs=lambda m: {}, kind="estimator",
                    refusal=CLUSTREAM_REFUSAL, cases=(Case("clustream", "Phishing", lambda: (
                        cluster.CluStream(max_micro_clusters=10, time_gap=50,
                                          n_macro_clusters=3, seed=1))),))
def clustream(m: cluster.CluStream, columns, ctx) -> EstimatorIR:
    raise UnsupportedModelError(m, supported_models(), reason=CLUSTREAM_REFUSAL)


# ------------------------------------------------------------------ the parity reference


def _no_unknown_keys(x: Mapping, centres: Mapping, behaviour: str) -> None:
    known = _centre_keys(centres)
    unknown = sorted(str(k) for k in x if k not in known)
    if unknown:
        raise ValueError(f"keys no centre holds ({', '.join(unknown)}): {behaviour}; the "
                         "artifact ignores unknown keys")


def _kmeans_distances(m: cluster.KMeans, x: Mapping, classes: Sequence) -> list[float]:
    """River's `get_distance` for each centre, without its random draw for an unknown key."""
    _no_unknown_keys(x, m.centers, "River's KMeans draws a random centre coordinate for such a "
                     "key and keeps it")
    return [sum(abs(c[k] - x.get(k, 0)) ** m.p for k in {*c.keys(), *x.keys()})
            for c in (m.centers[i] for i in classes)]


def _euclidean_distances(m: Any, x: Mapping, classes: Sequence) -> list[float]:
    _no_unknown_keys(x, m.centers, "River adds their squares to every distance")
    return [euclidean_distance_dict(m.centers[i], dict(x)) for i in classes]


def _denstream_distances(m: cluster.DenStream, x: Mapping, classes: Sequence) -> list[float]:
    """The pseudo-centre's largest double for the -1 in front, then each cluster's distance
    (`predict_one` rebuilds the clusters)."""
    m.predict_one(dict(x))
    centres = {k: c.center for k, c in m.clusters.items()}
    _no_unknown_keys(x, centres, "River adds their squares to every distance")
    return [FARTHEST, *(euclidean_distance_dict(centres[i], dict(x)) for i in classes[1:])]


CLUSTER_DISTANCES["KMeans"] = _kmeans_distances
CLUSTER_DISTANCES["STREAMKMeans"] = _euclidean_distances
CLUSTER_DISTANCES["DBSTREAM"] = _euclidean_distances
CLUSTER_DISTANCES["DenStream"] = _denstream_distances


def _pipeline_distances(m: compose.Pipeline, x: Mapping, classes: Sequence) -> list[float]:
    """A pipeline's clusterer measures the row its transformers hand it (River's own
    `_transform_one`, which learns nothing outside `learn_during_predict`)."""
    z, last = m._transform_one(dict(x))
    measure = CLUSTER_DISTANCES.get(type(last).__name__)
    if measure is None:
        raise TypeError(f"no distance reference for {type(last).__name__}")
    return measure(last, z, classes)


CLUSTER_DISTANCES.setdefault("Pipeline", _pipeline_distances)
