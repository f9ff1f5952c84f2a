"""The `NearestCentre` IR estimator and its numpy evaluation: a clusterer whose `predict_one`
is the nearest of frozen centres (River's `cluster.KMeans`, `STREAMKMeans`, `DBSTREAM`,
`DenStream`). The arithmetic is `ir.arithmetic.centre_distances`; the output stage takes the
first minimum (River's `min` over its centres' dict order, or a strict `<` scan)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .evaluate import evaluates
from .nodes import Estimator, IRError, ir_node


@ir_node
@dataclass(frozen=True)
class NearestCentre(Estimator):
    """Distances [N, K] from the row to each centre: Σ_j |c_kj - x_j|^p over `columns` in
    order, a missing x_j as 0.0; with `root` (p = 2 only) their square root. `centres` [K][F]
    are in River's dict order (the model's `classes` hold their ids). With `fallback_first`,
    a leading column is +inf for every row: River answers its id (the model's first class)
    when no centre is nearer than +inf (DenStream's -1 when every distance overflows).

    >>> NearestCentre(("x", "y"), ((0.0, 0.0), (1.0, 1.0)), p=2, root=False)
    """

    columns: tuple[str, ...]
    centres: tuple[tuple[float, ...], ...]
    p: int = 2
    root: bool = False
    fallback_first: bool = False

    def __post_init__(self) -> None:
        if not self.columns or not self.centres:
            raise IRError("NearestCentre needs at least one column and one centre")
        if any(len(c) != len(self.columns) for c in self.centres):
            raise IRError("NearestCentre: a centre does not match the columns")
        if not all(math.isfinite(v) for c in self.centres for v in c):
            raise IRError("NearestCentre: centres must be finite")
        if isinstance(self.p, bool) or not isinstance(self.p, int) or self.p < 1:
            raise IRError(f"NearestCentre: p must be a whole number >= 1, not {self.p!r}")
        if self.root and self.p != 2:
            raise IRError("NearestCentre: a root is taken of Euclidean (p = 2) sums only")

    def table(self) -> np.ndarray:
        """centres [K, F] (float64)."""
        return np.asarray(self.centres, dtype=np.float64).reshape(len(self.centres), -1)


def distances(o: arithmetic.Ops, est: NearestCentre, x) -> object:
    """[N, K] (plus the leading +inf column with `fallback_first`) on the estimator's columns."""
    d = arithmetic.centre_distances(o, x, est.table(), est.p, est.root)
    if not est.fallback_first:
        return d
    d = o.keep(d, "distances")
    inf = o.const(math.inf)
    first = o.column(d, 0)  # a [N, 1] column of +inf, whatever the row holds
    return o.concat_classes([o.where(o.is_nan(first), inf, inf), d])


@evaluates(NearestCentre)
def _nearest_centre(est: NearestCentre, Z: np.ndarray) -> np.ndarray:
    return distances(NUMPY, est, Z)
