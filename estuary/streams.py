"""Streams for the tasks River bundles no offline dataset for.

River's recommender data (MovieLens100K) and multi-output data (Music, Yeast) are downloads:
tests and demos use `Ratings` (a seeded synthetic stream of user-item ratings from a hidden
low-rank model) and `MultiLabelPhishing` / `MultiTargetTrump` (River's bundled Phishing and
TrumpApproval with two input keys turned into extra targets). All are deterministic.

River's `learn_one` per task: `converters.river_to_ir.learning.learn`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from river import datasets


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
