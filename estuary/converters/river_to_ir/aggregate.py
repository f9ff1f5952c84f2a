"""River `feature_extraction.Agg` and `TargetAgg` → IR `Lookup`: each group's statistic as it is
at snapshot time, looked up by the row's group (one categorical key)."""

from __future__ import annotations

import copy
import math
from numbers import Real

from river import compose, feature_extraction, linear_model, stats

from ...errors import UnsupportedModelError
from ...ir.lookup import Lookup
from ..registry import Case, register_extractor, supported_models
from .base import plain


def _chick(agg):
    return lambda: (compose.Select("time") + agg()) | linear_model.LinearRegression()


AGG_CASES = (
    Case("union(select,agg(mean by diet))|linreg", "ChickWeights",
         _chick(lambda: feature_extraction.Agg(on="time", by="diet", how=stats.Mean()))),
    Case("union(select,agg(var by diet))|linreg", "ChickWeights",
         _chick(lambda: feature_extraction.Agg(on="time", by="diet", how=stats.Var()))),
)
TARGET_AGG_CASES = (
    Case("union(select,target-agg(mean by diet))|linreg", "ChickWeights",
         _chick(lambda: feature_extraction.TargetAgg(by="diet", how=stats.Mean()))),
)


def _inputs(a: feature_extraction.Agg) -> dict:
    """The group key, categorical, with the groups River has met (a key None: no group)."""
    if not a.by or len(a.by) != 1:
        return {}
    return {a.by[0]: {key[0] for key in a._groups}} if a._groups else {}


def _number(a, value, what: str) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, Real) \
            or not math.isfinite(value):
        raise UnsupportedModelError(a, supported_models(), reason=(
            f"{what} is {value!r}, not a finite number"))
    return float(value)


def aggregate(a: feature_extraction.Agg, columns: tuple[str, ...], ctx) -> Lookup:
    """River's `transform_one`: `{name: groups[(x[by],)].get()}`; a group it has not met gets a
    fresh copy of `how` (so its `get()` of nothing); a missing group key raises in River."""
    if not a.by or len(a.by) != 1:
        raise UnsupportedModelError(a, supported_models(), reason=(
            f"by={a.by!r}: only one group key is supported (no key: a constant; several: "
            "a tuple of categories)"))
    feature = next((f for f in ctx.schema.features if f.key == a.by[0] or f.name == a.by[0]),
                   None)
    if feature is None or feature.kind != "categorical":
        raise UnsupportedModelError(a, supported_models(), reason=(
            f"its group key {a.by[0]!r} is not a raw categorical input here"))
    groups = {plain(key[0]): stat for key, stat in a._groups.items()}
    values = []
    for cat in feature.categories:
        stat = groups.get(cat)
        values.append(_number(a, (stat if stat is not None else copy.deepcopy(a.how)).get(),
                              f"the statistic of group {cat!r}"))
    default = _number(a, copy.deepcopy(a.how).get(), "a fresh statistic")
    return Lookup(a._feature_name, feature.columns, tuple(values), default)


register_extractor(feature_extraction.Agg, inputs=_inputs, renames=True, produces=(Lookup,),
                   cases=AGG_CASES)(aggregate)
register_extractor(feature_extraction.TargetAgg, inputs=_inputs, renames=True,
                   produces=(Lookup,), cases=TARGET_AGG_CASES)(aggregate)
