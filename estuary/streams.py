"""Streams for the tasks River bundles no offline dataset for, and River's learn call per task.

River's recommender data (MovieLens100K) and multi-output data (Music, Yeast) are downloads:
tests and demos use `Ratings` (a seeded synthetic stream of user-item ratings from a hidden
low-rank model) and `MultiLabelPhishing` / `MultiTargetTrump` (River's bundled Phishing and
TrumpApproval with two input keys turned into extra targets). All are deterministic.

`learn_one(model, x, y)` calls River's `learn_one` as the model's task takes it: a forecaster
`learn_one(y)`, a recommender `learn_one(user, item, y, x)`, an anomaly detector `learn_one(x)`,
everything else `learn_one(x, y)`. `sample_rows(model, rows)` gives the rows an export is
checked on: the steps ahead for a forecaster, the rows themselves otherwise.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

from river import anomaly, datasets, reco, time_series

N_STEPS = 36  # steps ahead a forecaster's export is checked on (three monthly seasons)


class Ratings:
    """`n` ratings of `n_items` items by `n_users` users: a seeded rank-2 model plus noise, as
    (`{"user": "u<k>", "item": "i<k>"}`, rating) pairs; every user and item appears."""

    def __init__(self, n: int = 1500, n_users: int = 40, n_items: int = 25, seed: int = 42):
        self.n, self.n_users, self.n_items, self.seed = n, n_users, n_items, seed

    def __iter__(self) -> Iterator[tuple[dict, float]]:
        rng = random.Random(self.seed)
        users = [(rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 0.5)) for _ in range(self.n_users)]
        items = [(rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 0.5)) for _ in range(self.n_items)]
        for k in range(self.n):
            u = k % self.n_users if k < self.n_users else rng.randrange(self.n_users)
            i = k % self.n_items if k < self.n_items else rng.randrange(self.n_items)
            (a, b, bu), (c, d, bi) = users[u], items[i]
            rating = 3.0 + bu + bi + a * c + b * d + rng.gauss(0, 0.3)
            yield {"user": f"u{u}", "item": f"i{i}"}, round(rating, 3)


class MultiLabelPhishing:
    """River's Phishing with `popup_window` and `ip_in_url` moved into the targets: three
    boolean labels per row (`phishing`, `popup`, `ip`)."""

    def __iter__(self) -> Iterator[tuple[dict, dict]]:
        for x, y in datasets.Phishing():
            x = dict(x)
            popup, ip = x.pop("popup_window"), x.pop("ip_in_url")
            yield x, {"phishing": bool(y), "popup": popup > 0, "ip": bool(ip)}


class MultiTargetTrump:
    """River's TrumpApproval with `gallup` moved into the targets: (`approval`, `gallup`)."""

    def __iter__(self) -> Iterator[tuple[dict, dict]]:
        for x, y in datasets.TrumpApproval():
            x = dict(x)
            gallup = x.pop("gallup")
            yield x, {"approval": float(y), "gallup": float(gallup)}


def _last(model: Any) -> Any:
    """A pipeline's final step (the one whose task decides), the model itself otherwise."""
    steps = getattr(model, "steps", None)
    return list(steps.values())[-1] if isinstance(steps, dict) and steps else model


def learn_one(model: Any, x: dict, y: Any) -> None:
    """River's `learn_one` as the model's task takes it (see the module docstring)."""
    if isinstance(model, time_series.base.Forecaster):
        model.learn_one(y)
    elif isinstance(model, reco.base.Ranker):
        x = dict(x)
        model.learn_one(x.pop("user"), x.pop("item"), y, x or None)
    elif isinstance(_last(model), anomaly.base.AnomalyDetector):
        model.learn_one(x)
    else:
        model.learn_one(x, y)


def sample_rows(model: Any, rows: Sequence[dict]) -> list[dict]:
    """The rows an export of `model` is checked on: `{"step": 1..N_STEPS}` for a forecaster (its
    rows are steps ahead, not the series), copies of `rows` otherwise."""
    if isinstance(model, time_series.base.Forecaster):
        return [{"step": s} for s in range(1, N_STEPS + 1)]
    return [dict(r) for r in rows]
