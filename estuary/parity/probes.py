"""Probe rows: the user's rows plus generated adversarial rows that catch conversion bugs.

Generated: every split threshold exactly and one ulp either side (mapped back through scalers
to raw inputs), each feature missing in turn, no features at all, an unseen key, unseen and
every known category, zeros, and very large and very small magnitudes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ir.evaluate import gather
from ..ir.evaluate import transform as ir_transform
from ..rows import RowEncoder

UNSEEN_KEY = "__estuary_unseen_key__"
UNSEEN_CATEGORY = "__estuary_unseen_category__"
EXTREMES = (0.0, -0.0, 1e300, -1e300, 1e-300, -1e-300, 1e9, -1e9)


@dataclass(frozen=True)
class Probe:
    row: dict
    tag: str  # "sample", "threshold", "missing", "unseen", "category", "zeros", "extreme"


def raw_column_map(model: ir.Model) -> dict[str, tuple[str, float, float]]:
    """Estimator column → (raw feature name, offset, divisor) where the column is a raw numeric
    input reached only through Select / Scale steps (so a raw value can hit a threshold)."""
    numeric = {f.name for f in model.schema.features if f.kind == "numeric"}
    mapping = {c: (c, 0.0, 1.0) for c in numeric}

    def walk(step: ir.Transform, cols: dict) -> dict:
        if isinstance(step, ir.Chain):
            for s in step.steps:
                cols = walk(s, cols)
            return cols
        if isinstance(step, ir.Select):
            return {c: cols[c] for c in step.columns if c in cols}
        if isinstance(step, ir.Scale):
            out = {}
            for c, o, d in zip(step.columns, step.offset, step.divisor):
                if c in cols and d != 0:
                    raw, o0, d0 = cols[c]
                    out[c] = (raw, o0 + o * d0, d * d0)  # scale of a scale: compose
            return out
        if isinstance(step, ir.Union):
            out: dict = {}
            for b in step.branches:
                for c, v in walk(b, cols).items():
                    out.setdefault(c, v)
            return out
        return {}

    return walk(model.transform, mapping)


def _ulps(value: float) -> list[float]:
    return [float(np.nextafter(value, -np.inf)), float(value), float(np.nextafter(value, np.inf))]


def threshold_values(model: ir.Model) -> dict[str, list[float]]:
    """Raw feature → values that land on (or one ulp around) the estimator's split thresholds."""
    thresholds = getattr(model.estimator, "thresholds", None)
    if thresholds is None:
        return {}
    mapping = raw_column_map(model)
    out: dict[str, list[float]] = {}
    for column, values in thresholds().items():
        if column not in mapping:
            continue
        raw, offset, divisor = mapping[column]
        for t in values:
            out.setdefault(raw, []).extend(_ulps(t * divisor + offset))
    return out


MAX_REACH_ROWS = 2000


def split_probe_rows(model: ir.Model, sample: Sequence[Mapping],
                     bases: list[dict]) -> list[Probe] | None:
    """For trees: per numeric split, a sample row that reaches it, moved onto the threshold and one
    ulp either side (through the scalers in front). None when the estimator has no splits API."""
    split_probes = getattr(model.estimator, "split_probes", None)
    if split_probes is None:
        return None
    reach = [dict(r) for r in sample[:MAX_REACH_ROWS]]
    X = RowEncoder(model.schema).encode_many(reach) if reach else np.empty((0, 0))
    if reach:
        block = ir_transform(model.transform, (X, model.schema.columns))
        Z = gather(block, model.estimator.columns)
    else:
        Z = np.empty((0, len(model.estimator.columns)))
    mapping = raw_column_map(model)
    probes = []
    for column, t, row in split_probes(Z):
        if column not in mapping:
            continue
        raw, offset, divisor = mapping[column]
        key = model.schema.feature(raw).key
        base = reach[row] if row >= 0 else bases[0]
        probes += [Probe({**base, key: v}, "threshold") for v in _ulps(t * divisor + offset)]
    return probes


def _base_rows(model: ir.Model, sample: Sequence[Mapping]) -> list[dict]:
    if sample:
        return [dict(r) for r in sample[:3]]
    row: dict = {}
    for f in model.schema.features:
        row[f.key] = f.categories[0] if f.kind == "categorical" else 0.0
    return [row]


def probe_rows(model: ir.Model, sample: Sequence[Mapping] = (), max_missing: int = 20) -> list[Probe]:
    """The user's rows followed by generated adversarial rows."""
    probes = [Probe(dict(r), "sample") for r in sample]
    if model.task == "forecast":
        return probes + forecast_probes(model)
    if model.task == "reco":
        probes += reco_probes(model)
    bases = _base_rows(model, sample)
    features = model.schema.features
    reached = split_probe_rows(model, sample, bases)
    if reached is not None:
        probes += reached
    else:
        for raw, values in threshold_values(model).items():
            key = model.schema.feature(raw).key
            for base in bases:
                probes += [Probe({**base, key: v}, "threshold") for v in values]
    return probes + structural_probes(features, bases, list(sample[:max_missing]) or bases)


def structural_probes(features: Sequence[ir.Feature], bases: list[dict],
                      missing_bases: Sequence[Mapping]) -> list[Probe]:
    """Rows that test the input contract whatever the model: each feature missing in turn (from
    `missing_bases`), no features at all, an unseen key, unseen and every known category, zeros,
    and very large and very small magnitudes (from `bases`)."""
    probes = []
    for base in missing_bases:
        for f in features:
            probes.append(Probe({k: v for k, v in base.items() if k != f.key}, "missing"))
    probes.append(Probe({}, "missing"))
    for base in bases:
        probes.append(Probe({**base, UNSEEN_KEY: 1.0}, "unseen"))
        for f in features:
            if f.kind == "categorical":
                probes.append(Probe({**base, f.key: UNSEEN_CATEGORY}, "unseen"))
                probes += [Probe({**base, f.key: c}, "category") for c in f.categories]
    zeros = {**bases[0], **{f.key: 0.0 for f in features if f.kind == "numeric"}}
    probes.append(Probe(zeros, "zeros"))
    for f in features:
        if f.kind == "numeric":
            probes += [Probe({**bases[0], f.key: v}, "extreme") for v in EXTREMES]
    return probes


def forecast_probes(model: ir.Model) -> list[Probe]:
    """A forecaster's rows are steps ahead: the estimator's own horizons (1, a season, three
    seasons and one more, ...; the largest tagged "extreme"), and steps River refuses (0, -1,
    1.5, missing), which the report lists as skipped."""
    steps = sorted(set(getattr(model.estimator, "probe_steps", lambda: (1,))()))
    probes = [Probe({"step": float(s)}, "horizon") for s in steps[:-1]]
    probes.append(Probe({"step": float(steps[-1])}, "extreme"))
    probes += [Probe({"step": v}, "zeros" if v == 0 else "extreme") for v in (0.0, -1.0, 1.5)]
    return probes + [Probe({}, "missing")]


N_EXTREME_PAIRS = 5
MAX_PAIRS = 100_000


def reco_probes(model: ir.Model) -> list[Probe]:
    """A recommender's most extreme scores: the user-item pairs the model scores highest and
    lowest (found by the numpy evaluator over every known pair), tagged "extreme"."""
    users, items = model.schema.feature("user"), model.schema.feature("item")
    pairs = [{"user": u, "item": i} for u in users.categories for i in items.categories]
    if not pairs or len(pairs) > MAX_PAIRS:
        return []
    from ..ir.evaluate import evaluate

    out = evaluate(model, RowEncoder(model.schema).encode_many(pairs))
    scores = next(iter(v for v in out.values() if v.ndim == 1))
    order = np.argsort(scores, kind="stable")
    picked = sorted(set(order[:N_EXTREME_PAIRS].tolist()) | set(order[-N_EXTREME_PAIRS:].tolist()))
    return [Probe(dict(pairs[k]), "extreme") for k in picked]
