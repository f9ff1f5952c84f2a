"""The `NearestCentre` IR estimator and its numpy evaluation: a clusterer whose `predict_one`
is the nearest of frozen centres (River's `cluster.KMeans`, `STREAMKMeans`, `DBSTREAM`,
`DenStream`). The arithmetic is `ir.arithmetic.centre_distances`; the output stage takes the
first minimum (River's `min` over its centres' dict order, or a strict `<` scan)."""

from __future__ import annotations

import math
import sys
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
    are in River's dict order (the model's `classes` hold their ids).

    >>> NearestCentre(("x", "y"), ((0.0, 0.0), (1.0, 1.0)), p=2, root=False)
    """

    columns: tuple[str, ...]
    centres: tuple[tuple[float, ...], ...]
    p: int = 2
    root: bool = False

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

    def probe_points(self) -> list[tuple[str, tuple[float, ...], tuple[int, ...]]]:
        """Rows in the estimator's columns that test the assignment, as (tag, point, pair): each
        centre itself ("centre"), the midpoint of each pair of consecutive centres ("tie",
        equidistant from both when the midpoint is exact: the first must win, as River's
        `min`; `pair` names them), and the first centre moved 1e6 along every column
        ("extreme")."""
        C = self.table()
        out = [("centre", tuple(c), ()) for c in C.tolist()]
        out += [("tie", tuple(((C[k] + C[k + 1]) / 2).tolist()), (k, k + 1))
                for k in range(len(C) - 1)]
        return out + [("extreme", tuple((C[0] + 1e6).tolist()), ())]

    def table(self) -> np.ndarray:
        """centres [K, F] (float64)."""
        return np.asarray(self.centres, dtype=np.float64).reshape(len(self.centres), -1)


@ir_node
@dataclass(frozen=True)
class NearestCentreOrElse(NearestCentre):
    """A NearestCentre whose model answers its first class (DenStream's -1) when no centre is
    nearer than +inf (every distance overflowed): a leading pseudo-centre at the largest double,
    the first minimum exactly when every real distance is +inf (a real distance of exactly
    1.8e308 would lose the tie to it, where River would pick that centre)."""


FARTHEST = sys.float_info.max  # the pseudo-centre's distance: finite, so golden rows hold it


def distances(o: arithmetic.Ops, est: NearestCentre, x) -> object:
    """[N, K] on the estimator's columns (and the leading pseudo-centre of NearestCentreOrElse)."""
    d = arithmetic.centre_distances(o, x, est.table(), est.p, est.root)
    if not isinstance(est, NearestCentreOrElse):
        return d
    d = o.keep(d, "distances")
    far = o.const(FARTHEST)
    first = o.column(d, 0)  # a [N, 1] column of the largest double, whatever the row holds
    return o.concat_classes([o.where(o.is_nan(first), far, far), d])


@evaluates(NearestCentre)
def _nearest_centre(est: NearestCentre, Z: np.ndarray) -> np.ndarray:
    return distances(NUMPY, est, Z)


evaluates(NearestCentreOrElse)(_nearest_centre)
