"""River `reco` recommenders → IR (task `reco`): the artifact's row holds `user` and `item`
(categorical inputs: one-hot columns of the users and items River has met) and its output
`score` is River's `predict_one(user, item)`.

Unknown users and items: River's tables are `defaultdict`s, so `predict_one` on a user it has
not met *stores* a fresh entry from the initialiser (a state change) and scores with it. With a
constant initialiser (River's default `Zeros` for biases) that entry is known in advance and the
artifact gives exactly River's score. With a random one (BiasedMF's and FunkMF's default
`Normal` latent vectors) River's score is a random draw: the artifact scores the unknown user or
item with the draw's mean (a zero vector), and the parity reference skips those rows (saying
why) instead of asking River, which would also change the model it checks.
`reco.RandomNormal` draws every score at random: refused.
"""

from __future__ import annotations

import copy
from typing import Any

from river import optim, reco

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.lookup import Lookup
from ...ir.reco import MatrixFactorization
from ...parity.reference import RECO_ANSWERS
from ..registry import Case, register_extractor, supported_models
from .base import EstimatorIR, plain, require_learned

USER, ITEM = "user", "item"

BASELINE_CASES = (Case("reco-baseline", "Ratings", lambda: reco.Baseline(
    optimizer=optim.SGD(0.05))),)
BIASED_MF_CASES = (
    Case("reco-biased-mf", "Ratings", lambda: reco.BiasedMF(
        n_factors=8, bias_optimizer=optim.SGD(0.05), latent_optimizer=optim.SGD(0.05),
        l2_latent=0.01, seed=7)),
    Case("reco-biased-mf(zeros)", "Ratings", lambda: reco.BiasedMF(
        n_factors=4, bias_optimizer=optim.SGD(0.05), latent_optimizer=optim.SGD(0.05),
        latent_initializer=optim.initializers.Constant(0.1), seed=7)),
)
FUNK_MF_CASES = (Case("reco-funk-mf", "Ratings", lambda: reco.FunkMF(
    n_factors=8, optimizer=optim.SGD(0.05), l2=0.01, seed=7)),)
RANDOM_NORMAL_CASES = (Case("reco-random-normal", "Ratings", lambda: reco.RandomNormal(seed=7)),)
RANDOM_NORMAL_REFUSAL = ("RandomNormal's predict_one draws every score from a Gaussian "
                         "(random.gauss): no artifact can reproduce River's draws")


def _refuse(m: Any, reason: str) -> UnsupportedModelError:
    return UnsupportedModelError(m, supported_models(), reason=reason)


def _tables(m: Any) -> tuple[dict, dict]:
    """(user table, item table) River keeps: biases for Baseline, latent vectors otherwise."""
    if isinstance(m, reco.Baseline):
        return m.u_biases, m.i_biases
    return m.u_latents, m.i_latents


def _inputs(m: Any) -> dict:
    users, items = _tables(m)
    return {USER: {plain(u) for u in users}, ITEM: {plain(i) for i in items}}


def constant(init: Any) -> float | None:
    """The value a constant initialiser gives every entry (Zeros: 0.0), None for a random one."""
    return float(init.value) if isinstance(init, optim.initializers.Constant) else None


def _columns(ctx, key: str) -> tuple[ir.Feature, dict]:
    feature = ctx.schema.feature(key)
    return feature, dict(zip(feature.categories, feature.columns, strict=True))


def _bias_lookup(target: str, feature: ir.Feature, table: dict, default: float) -> Lookup:
    by_key = {plain(k): float(v) for k, v in table.items()}
    return Lookup(target, feature.columns, tuple(by_key[c] for c in feature.categories), default)


@register_extractor(reco.Baseline, inputs=_inputs, kind="estimator",
                    produces=(ir.Union, Lookup, ir.Linear), cases=BASELINE_CASES)
def baseline(m: reco.Baseline, columns, ctx) -> tuple[ir.Chain, EstimatorIR]:
    """River's `global_mean + u_biases[user] + i_biases[item]`: the biases as two `Lookup`s (a
    user or item not met: the initialiser's constant) summed by a `Linear` whose intercept is
    the global mean (the same three numbers, added in another order: an ulp at most)."""
    require_learned(m.global_mean.n > 0, "Baseline")
    default = constant(m.initializer)
    if default is None:
        raise _refuse(m, "its bias initialiser is random: River's score for a user or item it "
                      "has not met is a random draw")
    users, items = ctx.schema.feature(USER), ctx.schema.feature(ITEM)
    lookups = (ir.Chain((_bias_lookup("__user_bias", users, m.u_biases, default),)),
               ir.Chain((_bias_lookup("__item_bias", items, m.i_biases, default),)))
    est = ir.Linear(("__user_bias", "__item_bias"), ((1.0, 1.0),), (float(m.global_mean.get()),),
                    "identity")
    return ir.Chain((ir.Union(lookups),)), EstimatorIR(est, "reco")


def _latents(feature: ir.Feature, table: dict, n_factors: int) -> tuple:
    by_key = {plain(k): tuple(float(v) for v in vec) for k, vec in table.items()}
    rows = tuple(by_key[c] for c in feature.categories)
    if any(len(r) != n_factors for r in rows):
        raise UnsupportedModelError("a latent vector", supported_models(),
                                    reason=f"it does not hold n_factors={n_factors} values")
    return rows


def _factorization(m: Any, ctx, biased: bool) -> EstimatorIR:
    users, items = ctx.schema.feature(USER), ctx.schema.feature(ITEM)
    latent_default = constant(m.latent_initializer if biased else m.initializer)
    if biased:
        bias_default = constant(m.weight_initializer)
        if bias_default is None:
            raise _refuse(m, "its bias initialiser is random: River's score for a user or item "
                          "it has not met is a random draw")
        ub = {plain(k): float(v) for k, v in m.u_biases.items()}
        ib = {plain(k): float(v) for k, v in m.i_biases.items()}
        user_bias = tuple(ub.get(c, bias_default) for c in users.categories)
        item_bias = tuple(ib.get(c, bias_default) for c in items.categories)
        mean = float(m.global_mean.get())
    else:
        bias_default, user_bias, item_bias, mean = 0.0, (), (), 0.0
    est = MatrixFactorization(
        users.columns + items.columns, users.columns, items.columns, biased, mean,
        user_bias, bias_default, item_bias, bias_default,
        _latents(users, m.u_latents, m.n_factors), latent_default or 0.0,
        _latents(items, m.i_latents, m.n_factors), latent_default or 0.0)
    return EstimatorIR(est, "reco")


@register_extractor(reco.BiasedMF, inputs=_inputs, kind="estimator",
                    produces=(MatrixFactorization,), cases=BIASED_MF_CASES)
def biased_mf(m: reco.BiasedMF, columns, ctx) -> EstimatorIR:
    require_learned(m.global_mean.n > 0, "BiasedMF")
    return _factorization(m, ctx, biased=True)


@register_extractor(reco.FunkMF, inputs=_inputs, kind="estimator",
                    produces=(MatrixFactorization,), cases=FUNK_MF_CASES)
def funk_mf(m: reco.FunkMF, columns, ctx) -> EstimatorIR:
    require_learned(bool(m.u_latents), "FunkMF")
    return _factorization(m, ctx, biased=False)


@register_extractor(reco.RandomNormal, inputs=lambda m: {}, kind="estimator",
                    refusal=RANDOM_NORMAL_REFUSAL, cases=RANDOM_NORMAL_CASES)
def random_normal(m: reco.RandomNormal, columns, ctx) -> EstimatorIR:
    raise _refuse(m, RANDOM_NORMAL_REFUSAL)


# ------------------------------------------------------------------------------ the reference


def _random_for_unknown(m: Any) -> bool:
    """Whether River draws at random for a user or item it has not met."""
    if isinstance(m, reco.Baseline):
        return constant(m.initializer) is None
    if isinstance(m, reco.BiasedMF):
        return constant(m.weight_initializer) is None or constant(m.latent_initializer) is None
    return constant(m.initializer) is None


def river_score(m: Any, user: Any, item: Any, x: dict | None) -> float:
    """River's `predict_one(user, item, x)` without changing `m`: a user or item it has not met
    is scored on a copy (River stores a fresh entry); where that entry is a random draw, a
    ValueError says so (the harness reports the row as skipped)."""
    users, items = _tables(m)
    if user in users and item in items:
        return float(m.predict_one(user, item, x))
    if _random_for_unknown(m):
        raise ValueError(f"{type(m).__name__} draws a random vector for a user or item it has "
                         "not met (and stores it): no artifact can reproduce the draw")
    return float(copy.deepcopy(m).predict_one(user, item, x))


for _cls in (reco.Baseline, reco.BiasedMF, reco.FunkMF):
    RECO_ANSWERS[_cls.__name__] = river_score
