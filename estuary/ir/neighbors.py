"""The `NearestNeighbors` IR estimator and its numpy evaluation: River's `neighbors.KNNClassifier`
and `KNNRegressor` over an exact search (LazySearch, or SWINN before its graph is built). The
search window is data: the stored points and their targets, frozen at snapshot time. The
arithmetic is `ir.arithmetic.knn_distances` and `knn_outputs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import evaluates
from .nodes import Estimator, IRError, ir_node

AGGREGATIONS = ("normalise", "softmax", "mean")


@ir_node
@dataclass(frozen=True)
class NearestNeighbors(Estimator):
    """The k stored points nearest to the row (Euclidean, absent = 0.0; ties to the older
    point), their targets aggregated as River does (`arithmetic.knn_outputs`). `points` [W][F]
    in window order (oldest first), an absent key 0.0; `targets` [W][C]: one-hot classes in the
    model's class order, or (value,) for a regressor; `k` is River's n_neighbors capped at W.

    >>> NearestNeighbors(("x",), ((0.0,), (1.0,)), ((1.0, 0.0), (0.0, 1.0)), 1, True, "normalise")
    """

    columns: tuple[str, ...]
    points: tuple[tuple[float, ...], ...]
    targets: tuple[tuple[float, ...], ...]
    k: int
    weighted: bool
    aggregation: str

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise IRError(f"NearestNeighbors.aggregation must be one of {AGGREGATIONS}")
        if not self.points or len(self.points) != len(self.targets):
            raise IRError("NearestNeighbors: points and targets differ in length (or are empty)")
        if any(len(p) != len(self.columns) for p in self.points):
            raise IRError("NearestNeighbors: a point does not match the columns")
        if len({len(t) for t in self.targets}) != 1:
            raise IRError("NearestNeighbors: targets differ in width")
        if not 1 <= self.k <= len(self.points):
            raise IRError("NearestNeighbors: k must be between 1 and the number of points")
        values = (v for row in (*self.points, *self.targets) for v in row)
        if not all(math.isfinite(v) for v in values):
            raise IRError("NearestNeighbors: points and targets must be finite")

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """points [W, F] and targets [W, C] (float64)."""
        return (np.asarray(self.points, dtype=np.float64).reshape(len(self.points), -1),
                np.asarray(self.targets, dtype=np.float64))


def outputs(o: arithmetic.Ops, est: NearestNeighbors, x) -> object:
    """Probabilities [N, C] or values [N, 1] on the estimator's columns x."""
    points, targets = est.tables()
    d = arithmetic.knn_distances(o, x, points)
    return arithmetic.knn_outputs(o, d, targets, est.k, est.weighted, est.aggregation)


@evaluates(NearestNeighbors)
def _nearest_neighbors(est: NearestNeighbors, Z: np.ndarray) -> np.ndarray:
    return outputs(NUMPY, est, Z)
