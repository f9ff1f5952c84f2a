"""River `preprocessing` scalers, encoders, imputer, binarizer and normalizer → IR Scale / OneHot /
Ordinal / Fill / Binarize / Normalize."""

from __future__ import annotations

import math
from numbers import Integral, Number, Real

from river import compose, linear_model, preprocessing, stats, tree

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.elementwise import Binarize, Fill, Normalize
from ...ir.features import Ordinal
from ..registry import Case, register_extractor, supported_models
from .base import key_name, numeric_inputs, plain, raw_categories, require_closed


def _numeric_only(s, columns: tuple[str, ...], ctx) -> None:
    """A scaler in front of an encoder sees raw category values in River, which the schema holds
    as one-hot columns: there is no scaled number to give it, so refuse rather than scale 0/1."""
    hit = raw_categories(columns, ctx)
    if hit:
        raise UnsupportedModelError(
            s, supported_models(),
            reason=f"it receives {hit}, which an encoder treats as categories; put the "
            "encoder in front of the scaler, or compose.Select the numeric keys for the scaler "
            "and the string keys for the encoder")


def _scaler_keys(s: preprocessing.StandardScaler) -> dict:
    return numeric_inputs(s.counts)



MIN_MAX_CASES = (Case("minmax|logreg", "Phishing",
                      lambda: preprocessing.MinMaxScaler() | linear_model.LogisticRegression()),)
MAX_ABS_CASES = (Case("maxabs|linreg", "TrumpApproval",
                      lambda: preprocessing.MaxAbsScaler() | linear_model.LinearRegression()),)
PHISHING_DISCRETE = ("empty_server_form_handler", "popup_window", "https", "age_of_domain")
PHISHING_OTHER = ("request_from_other_domain", "anchor_from_other_domain", "is_popular",
                  "long_url", "ip_in_url")


def _coded(coded: tuple[str, ...], scaled: tuple[str, ...], encoder):
    """`coded` keys through the ordinal encoder, `scaled` keys through a StandardScaler (behind
    `compose.Discard`, not `Select`, which raises on a missing key: River answers those probes)."""
    return ((compose.Discard(*scaled) | encoder)
            + (compose.Discard(*coded) | preprocessing.StandardScaler()))


ORDINAL_CASES = (
    Case("union(ordinal,scaler)|scaler|linreg", "ChickWeights",
         lambda: _coded(("chick", "diet"), ("time",), preprocessing.OrdinalEncoder())
         | preprocessing.StandardScaler() | linear_model.LinearRegression()),
    # raw `time` next to the codes: Core ML's Scale multiplies by 1/divisor, which a tree behind
    # a union cannot fold back into River's division (a split one ulp off; not the encoder's)
    Case("union(ordinal(unknown=-1,none=-2),discard)|htr", "ChickWeights",
         lambda: ((compose.Discard("time")
                   | preprocessing.OrdinalEncoder(unknown_value=-1, none_value=-2))
                  + compose.Discard("chick", "diet"))
         | tree.HoeffdingTreeRegressor(grace_period=10, delta=0.5, tau=0.5)),
    Case("union(ordinal,scaler)|logreg", "Phishing",
         lambda: _coded(PHISHING_DISCRETE, PHISHING_OTHER, preprocessing.OrdinalEncoder())
         | linear_model.LogisticRegression()),
)


@register_extractor(preprocessing.StandardScaler, inputs=_scaler_keys, produces=(ir.Scale,),
                    cases=("scaler|logreg", "scaler|linreg"))
def standard_scaler(s: preprocessing.StandardScaler, columns: tuple[str, ...], ctx) -> ir.Scale:
    """(x - mean) / sqrt(var) with population variance; var == 0 or a never-seen key → 0."""
    _numeric_only(s, columns, ctx)
    if s.window_size is not None:
        raise UnsupportedModelError(s, supported_models(), reason="window_size is not supported")
    means = {key_name(k): float(v) for k, v in s.means.items()}
    vars_ = {key_name(k): float(v) for k, v in s.vars.items()} if s.with_std else {}
    offset, divisor = [], []
    for c in columns:
        offset.append(means.get(c, 0.0))
        if s.with_std:
            v = vars_.get(c, 0.0)
            divisor.append(v**0.5 if v else 0.0)
        else:
            divisor.append(1.0)
    return ir.Scale(columns, tuple(offset), tuple(divisor))


def _one_hot_inputs(e: preprocessing.OneHotEncoder) -> dict:
    return {k: set(vals) for k, vals in e.values.items() if vals}


@register_extractor(preprocessing.OneHotEncoder, inputs=_one_hot_inputs, renames=True,
                    produces=(ir.OneHot,), cases=("union(scaler,onehot)|linreg",))
def one_hot(e: preprocessing.OneHotEncoder, columns: tuple[str, ...], ctx) -> ir.OneHot:
    """Every input key becomes `f"{key}_{value}"` columns for the values the encoder knows."""
    if e.drop_first:
        raise UnsupportedModelError(e, supported_models(), reason="drop_first=True is not supported")
    if e.drop_zeros:
        raise UnsupportedModelError(
            e, supported_models(),
            reason="drop_zeros=True learns no vocabulary, so the input categories are unknown")
    if any(isinstance(v, (list, set)) for vals in e.values.values() for v in vals):
        raise UnsupportedModelError(e, supported_models(), reason="list/set values are not supported")
    source, target = [], []
    for feature in ctx.categorical_features_of(columns, e):
        known = {plain(v) for v in e.values.get(feature.key, ())}
        for cat in feature.categories:
            if cat in known:
                source.append(ir.category_column(feature.name, cat))
                target.append(f"{feature.name}_{cat}")
    return ir.OneHot(tuple(source), tuple(target), missing_as_nan=False)



def _min_max_keys(s: preprocessing.MinMaxScaler) -> dict:
    """Keys with a learned min. `transform_one` inserts a fresh `stats.Min` (inf) for every key it
    meets, so keys seen only at predict time are left out: River maps them to NaN, not a number."""
    return numeric_inputs(k for k, m in s.min.items() if m.get() != float("inf"))


@register_extractor(preprocessing.MinMaxScaler, inputs=_min_max_keys, produces=(ir.Scale,),
                    cases=MIN_MAX_CASES)
def min_max_scaler(s: preprocessing.MinMaxScaler, columns: tuple[str, ...], ctx) -> ir.Scale:
    """(x - min) / (max - min), 0.0 where max == min: River's `transform_one` exactly."""
    _numeric_only(s, columns, ctx)
    if s.window_size is not None:
        raise UnsupportedModelError(s, supported_models(), reason="window_size is not supported")
    lows = {key_name(k): float(m.get()) for k, m in s.min.items()}
    highs = {key_name(k): float(m.get()) for k, m in s.max.items()}
    offset, divisor = [], []
    for c in columns:
        lo, hi = lows.get(c, float("inf")), highs.get(c, -float("inf"))
        if lo == float("inf"):
            raise UnsupportedModelError(
                s, supported_models(),
                reason=f"it has never learned {c!r}, which River scales to NaN; put the scaler "
                "in front of every step that sees that key")
        offset.append(lo)
        divisor.append(hi - lo)
    return ir.Scale(columns, tuple(offset), tuple(divisor))


def _max_abs_keys(s: preprocessing.MaxAbsScaler) -> dict:
    """Keys with a non-zero peak: `transform_one` inserts a zero `AbsMax` for every key it meets,
    and a zero peak maps to 0.0 whether or not the key is in the schema."""
    return numeric_inputs(k for k, m in s.abs_max.items() if m.get() != 0)


@register_extractor(preprocessing.MaxAbsScaler, inputs=_max_abs_keys, produces=(ir.Scale,),
                    cases=MAX_ABS_CASES)
def max_abs_scaler(s: preprocessing.MaxAbsScaler, columns: tuple[str, ...], ctx) -> ir.Scale:
    """x / max|x|, 0.0 where the max is 0 (also for a key never learned, as River's defaultdict)."""
    _numeric_only(s, columns, ctx)
    if s.window_size is not None:
        raise UnsupportedModelError(s, supported_models(), reason="window_size is not supported")
    peaks = {key_name(k): float(m.get()) for k, m in s.abs_max.items()}
    return ir.Scale(columns, tuple(0.0 for _ in columns), tuple(peaks.get(c, 0.0) for c in columns))


def _ordinal_inputs(e: preprocessing.OrdinalEncoder) -> dict:
    """Keys with learned categories (`transform_one` leaves empty dicts for keys it only met)."""
    return {k: set(vals) for k, vals in e.values.items() if vals}


def _int_code(e: preprocessing.OrdinalEncoder, what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        reason = (f"{what}={value!r}: River would pass it on as is, which no later step can "
                  "take; use an integer" if value is None else f"{what}={value!r} is not an integer")
        raise UnsupportedModelError(e, supported_models(), reason=reason)
    return int(value)


@register_extractor(preprocessing.OrdinalEncoder, inputs=_ordinal_inputs, produces=(Ordinal,),
                    cases=ORDINAL_CASES)
def ordinal_encoder(e: preprocessing.OrdinalEncoder, columns: tuple[str, ...], ctx) -> Ordinal:
    """Each categorical feature's one-hot columns → its River code: the learned code of a known
    category, `unknown_value` for an unseen one (all columns 0.0), absent (NaN) when the key is.

    River encodes an explicit `None` as `none_value`; estuary's input contract reads `None` as a
    missing key (the row encoder leaves it out), so an artifact gives NaN there, as for an absent
    key. Every key reaching the encoder must be a raw categorical feature: River would code a
    numeric key too, by its exact value.

    >>> ordinal_encoder(encoder, ("diet=1", "diet=2"), ctx).codes
    ((1, 2),)
    """
    unknown = _int_code(e, "unknown_value", e.unknown_value)
    targets, sources, codes = [], [], []
    for feature in ctx.categorical_features_of(columns, e):
        known = {plain(v): code for v, code in e.values.get(feature.key, {}).items()}
        targets.append(feature.name)
        sources.append(feature.columns)
        codes.append(tuple(_int_code(e, f"the code of {feature.name}={cat!r}", known[cat])
                           if cat in known else unknown for cat in feature.categories))
    return Ordinal(tuple(targets), tuple(sources), tuple(codes), unknown)


ROBUST_CASES = (
    Case("robust|logreg", "Phishing",
         lambda: preprocessing.RobustScaler() | linear_model.LogisticRegression()),
    Case("robust(no centering)|htr", "TrumpApproval", lambda: (
        preprocessing.RobustScaler(with_centering=False, q_inf=0.1, q_sup=0.9)
        | tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5))),
)
ADAPTIVE_CASES = (Case("adaptive-scaler|htr", "TrumpApproval", lambda: (
    preprocessing.AdaptiveStandardScaler(fading_factor=0.1)
    | tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5))),)


def _robust_keys(s: preprocessing.RobustScaler) -> dict:
    """Keys with a learned quantile (`transform_one` inserts fresh ones for every key it meets)."""
    stats = s.median if s.with_centering else s.iqr
    return numeric_inputs(k for k, q in stats.items() if q.get() is not None)


@register_extractor(preprocessing.RobustScaler, inputs=_robust_keys, produces=(ir.Scale,),
                    cases=ROBUST_CASES)
def robust_scaler(s: preprocessing.RobustScaler, columns: tuple[str, ...], ctx) -> ir.Scale:
    """River's `transform_one`: x - median (when it has one), then `safe_div` by the IQR (0.0
    where the IQR is 0 or unknown). A key it never learned: no median, IQR None → 0.0."""
    _numeric_only(s, columns, ctx)
    medians = {key_name(k): q.get() for k, q in s.median.items()}
    iqrs = {key_name(k): q.get() for k, q in s.iqr.items()}
    offset, divisor = [], []
    for c in columns:
        median = medians.get(c) if s.with_centering else None
        offset.append(float(median) if median is not None else 0.0)
        if s.with_scaling:
            iqr = iqrs.get(c)
            divisor.append(float(iqr) if iqr else 0.0)
        else:
            divisor.append(1.0)
    return ir.Scale(columns, tuple(offset), tuple(divisor))


@register_extractor(preprocessing.AdaptiveStandardScaler, inputs=lambda s: numeric_inputs(s.means),
                    produces=(ir.Scale,), cases=ADAPTIVE_CASES)
def adaptive_standard_scaler(s: preprocessing.AdaptiveStandardScaler, columns: tuple[str, ...],
                             ctx) -> ir.Scale:
    """River's `transform_one`: `safe_div(x - ewm_mean, ewm_var ** 0.5 if ewm_var > 0 else 0)`,
    the exponentially weighted mean and variance frozen as they are now; a key it never learned
    has mean 0 and variance 0, so it maps to 0.0."""
    _numeric_only(s, columns, ctx)
    means = {key_name(k): float(m.get()) for k, m in s.means.items()}
    variances = {key_name(k): float(v.get()) for k, v in s.vars.items()}
    offset = tuple(means.get(c, 0.0) for c in columns)
    divisor = tuple(variances[c] ** 0.5 if variances.get(c, 0.0) > 0 else 0.0 for c in columns)
    return ir.Scale(columns, offset, divisor)


IMPUTER_CASES = (
    Case("imputer(mean,const)|scaler|logreg", "Phishing", lambda: preprocessing.StatImputer(
        ("long_url", stats.Mean()), ("age_of_domain", -1))
        | preprocessing.StandardScaler() | linear_model.LogisticRegression()),
    Case("imputer(median)|htr", "TrumpApproval", lambda: preprocessing.StatImputer(
        ("ordinal_date", stats.Quantile(0.5)), ("gallup", stats.Mean()))
        | tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5)),
)
BINARIZER_CASES = (
    Case("binarizer|logreg", "Phishing",
         lambda: preprocessing.Binarizer() | linear_model.LogisticRegression()),
    Case("scaler|binarizer(0.5)|linreg", "TrumpApproval",
         lambda: preprocessing.StandardScaler() | preprocessing.Binarizer(threshold=0.5)
         | linear_model.LinearRegression()),
)


def _fill_value(s: preprocessing.StatImputer, key, stat) -> float:
    """The statistic as River would read it now (`stats[i].get()`); None fills nothing (River
    passes the None on, which no later step takes: those rows raise in River)."""
    value = stat.get()
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise UnsupportedModelError(
            s, supported_models(),
            reason=f"it fills {key!r} with {value!r}, which is not a finite number; only "
            "numeric statistics (e.g. stats.Mean, a number) can be filled")
    return float(value)


@register_extractor(preprocessing.StatImputer, inputs=lambda s: numeric_inputs(s.stats),
                    produces=(Fill,), cases=IMPUTER_CASES)
def stat_imputer(s: preprocessing.StatImputer, columns: tuple[str, ...], ctx) -> Fill:
    """River's `transform_one`: a key present with a None value takes its statistic, frozen as
    `stats[key].get()` is now. The input contract reads None as missing (NaN), which is what
    is filled; River raises on an absent key (`x[i]`), so those rows have no reference."""
    kinds = {f.name: f.kind for f in ctx.schema.features}
    hit = sorted(key_name(k) for k in s.stats if kinds.get(key_name(k)) == "categorical")
    if hit:
        raise UnsupportedModelError(s, supported_models(), reason=f"it imputes {hit}, which "
                                    "are categories; only numeric keys can be filled")
    filled = {key_name(k): _fill_value(s, k, stat) for k, stat in s.stats.items()}
    pairs = [(c, filled[c]) for c in columns if not math.isnan(filled.get(c, math.nan))]
    return Fill(tuple(c for c, _ in pairs), tuple(v for _, v in pairs))


@register_extractor(preprocessing.Binarizer, inputs=lambda b: {}, produces=(Binarize,),
                    cases=BINARIZER_CASES)
def binarizer(b: preprocessing.Binarizer, columns: tuple[str, ...], ctx) -> Binarize:
    """River's `transform_one`: every number becomes `dtype(x > threshold)`; a non-number (a
    raw category, i.e. one-hot columns in the schema) passes unchanged; an absent key stays
    absent. `dtype` must give 1 / 0 to the steps that follow (bool, int, float)."""
    if b.dtype not in (bool, int, float):
        raise UnsupportedModelError(b, supported_models(),
                                    reason=f"dtype={b.dtype!r}: use bool, int or float")
    if isinstance(b.threshold, bool) or not isinstance(b.threshold, Number) or not math.isfinite(
            float(b.threshold)):
        raise UnsupportedModelError(b, supported_models(),
                                    reason=f"threshold={b.threshold!r} is not a finite number")
    categorical = {c for f in ctx.schema.features if f.kind == "categorical" for c in f.columns}
    return Binarize(tuple(c for c in columns if c not in categorical), float(b.threshold))


TRUMP = ("gallup", "ipsos", "morning_consult", "ordinal_date", "rasmussen", "you_gov")
PHISHING = (*PHISHING_DISCRETE, *PHISHING_OTHER)
# River's Normalizer raises on a row of zeros (a zero norm): the zeros probe has no reference
NORMALIZER_CASES = (
    Case("select|normalizer|logreg", "Phishing", lambda: compose.Select(*PHISHING)
         | preprocessing.Normalizer() | linear_model.LogisticRegression()),
    Case("select|normalizer|htr", "TrumpApproval", lambda: compose.Select(*TRUMP)
         | preprocessing.Normalizer()
         | tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5)),
    Case("select|normalizer|scaler|softmax", "ImageSegments", lambda: compose.Select(
        "region-centroid-col", "region-centroid-row", "intensity-mean", "hue-mean")
        | preprocessing.Normalizer() | preprocessing.StandardScaler()
        | linear_model.SoftmaxRegression()),
)


@register_extractor(preprocessing.Normalizer, inputs=lambda n: {}, produces=(Normalize,),
                    cases=NORMALIZER_CASES)
def normalizer(n: preprocessing.Normalizer, columns: tuple[str, ...], ctx) -> Normalize:
    """River's `transform_one`: `{i: xi / norm}` with `norm = np.linalg.norm(list(x.values()),
    ord=order)`, over every key of the row: a key the model never learned counts too, so the
    row must reach it closed (a `compose.Select` in front; the steps between keep their keys)."""
    if n.order not in (None, 2):
        raise UnsupportedModelError(n, supported_models(), reason=(
            f"order={n.order!r}: only the L2 norm (order=2, River's default) is supported"))
    require_closed(n, ctx, "River's norm counts every key of the row, also keys the model "
                   "never learned, which an artifact cannot see")
    _numeric_only(n, columns, ctx)
    return Normalize(columns)
