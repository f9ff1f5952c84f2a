"""Probe rows: the user's rows plus generated adversarial rows that catch conversion bugs.

Generated: every split threshold exactly and one ulp either side (mapped back through scalers
to raw inputs), a row inside each tree leaf's region, each feature missing in turn, no features at all, an unseen key, unseen and
every known category, zeros, and very large and very small magnitudes.
"""

from __future__ import annotations

import dataclasses
import math
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
    tag: str  # "sample", "threshold", "leaf", "missing", "unseen", "category", "zeros", "extreme"


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


MAX_LEAF_ROWS = 256  # golden rows for leaves: past this many, the first trees' leaves only
LEAF_MARGIN = 1e-6  # relative distance of a leaf row from its box's bounds: ~17 float32 ulps


def _trees(est: object, columns: tuple[str, ...]) -> list[tuple[object, tuple[int, ...]]]:
    """(TreeStructure, index in `columns` of each column it reads) of every tree that reads the
    estimator's columns directly: a tree, or the members of an ensemble without own transforms."""
    if hasattr(est, "tree") and hasattr(est, "columns"):
        if not all(c in columns for c in est.columns):
            return []
        return [(est.tree, tuple(columns.index(c) for c in est.columns))]
    out = []
    for m in getattr(est, "members", ()):
        if not m.transform.steps:
            out += _trees(m.estimator, columns)
    return out


def _inside(lo: float, hi: float) -> float | None:
    """A value in (lo, hi], LEAF_MARGIN away from finite bounds (float32 formats then route it
    as float64 ones do), or None when the box is too narrow for that."""
    if np.isfinite(lo) and np.isfinite(hi):
        z = lo + (hi - lo) / 2
    elif np.isfinite(hi):
        z = hi - max(1.0, abs(hi))
    elif np.isfinite(lo):
        z = lo + max(1.0, abs(lo))
    else:
        return None
    far = all(abs(z - b) > LEAF_MARGIN * max(1.0, abs(b)) for b in (lo, hi) if np.isfinite(b))
    return float(z) if far and lo < z <= hi else None


def _leaf_row(box: dict, index: tuple[int, ...], columns: tuple[str, ...], model: ir.Model,
              mapping: dict, base: dict) -> dict | None:
    """A raw row whose values lie in the box (a tree's column → (lo, hi)), or None."""
    row = dict(base)
    for f, (lo, hi) in box.items():
        column = columns[index[f]]
        if column in mapping:
            raw, offset, divisor = mapping[column]
            z = _inside(lo, hi)
            if z is None or not divisor > 0:
                return None
            row[model.schema.feature(raw).key] = z * divisor + offset
        elif not _set_category(row, column, lo, hi, model.schema):
            return None
    return row


def _set_category(row: dict, column: str, lo: float, hi: float, schema: ir.FeatureSchema) -> bool:
    """One-hot column `column` > 0.5 (lo >= 0.5): the row takes its category; <= 0.5: the row
    keeps a category other than it (an unseen one if it has that very one)."""
    for f in schema.features:
        if f.kind != "categorical" or column not in f.columns:
            continue
        category = f.categories[f.columns.index(column)]
        if lo >= 0.5:
            row[f.key] = category
        elif hi <= 0.5 and row.get(f.key) == category:
            row[f.key] = UNSEEN_CATEGORY
        return True
    return False


def leaf_probes(model: ir.Model, bases: list[dict]) -> list[Probe]:
    """One row per tree leaf (up to MAX_LEAF_ROWS), built from the split thresholds on its path
    and checked with the IR evaluator to land in that leaf: golden rows from these cover every
    threshold and leaf value, so an edit anywhere in an exported tree fails the check on load."""
    from ..ir.trees import leaf_boxes, leaf_index

    est, schema = model.estimator, model.schema
    columns = tuple(getattr(est, "columns", ()))
    trees = _trees(est, columns)
    if not trees:
        return []
    mapping = raw_column_map(model)
    wanted: list[tuple[object, tuple[int, ...], int, dict]] = []
    for tree, index in trees:
        for leaf, box in leaf_boxes(tree):
            row = _leaf_row(box, index, columns, model, mapping, bases[0])
            if row is not None and len(wanted) < MAX_LEAF_ROWS:
                wanted.append((tree, index, leaf, row))
    if not wanted:
        return []
    X = RowEncoder(schema).encode_many([w[3] for w in wanted])
    Z = gather(ir_transform(model.transform, (X, schema.columns)), columns)
    lands = np.zeros(len(wanted), dtype=bool)
    for tree, index in trees:  # one walk per tree for all its rows (a walk per row was ~0.5 ms)
        mine = [i for i, w in enumerate(wanted) if w[0] is tree]
        if mine:
            got = leaf_index(tree, Z[np.ix_(mine, list(index))])
            lands[mine] = got == np.array([wanted[i][2] for i in mine])
    return [Probe(w[3], "leaf") for i, w in enumerate(wanted) if lands[i]]


def _memo_leaf_probes(model: ir.Model, bases: list[dict]) -> list[Probe]:
    """`leaf_probes`, remembered on the (immutable) IR node for the same first base row: export
    and verify of one state then share the rows (~10 ms for an 861-node tree) and the very row
    objects, whose River answers export took verify reuses (parity/handoff.py)."""
    held = getattr(model, "_leaf_probes", None)
    if held is not None and same_row(held[0], bases[0]):
        return list(held[1])
    probes = leaf_probes(model, bases)
    if dataclasses.is_dataclass(model):
        object.__setattr__(model, "_leaf_probes", (dict(bases[0]), tuple(probes)))
    return probes


def same_row(a: Mapping, b: Mapping) -> bool:
    """The same keys with the same values of the same types, floats bit for bit (0.0 is not
    -0.0 here, NaN is NaN): rows River could answer differently are never the same row."""
    if a.keys() != b.keys():
        return False
    for k, v in a.items():
        w = b[k]
        if type(v) is not type(w):
            return False
        if isinstance(v, float):
            if not (v == w and math.copysign(1.0, v) == math.copysign(1.0, w)
                    or v != v and w != w):
                return False
        elif v != w:
            return False
    return True


def _base_rows(model: ir.Model, sample: Sequence[Mapping]) -> list[dict]:
    if sample:
        return [dict(r) for r in sample[:3]]
    row: dict = {}
    for f in model.schema.features:
        row[f.key] = f.categories[0] if f.kind == "categorical" else 0.0
    return [row]


def probe_rows(model: ir.Model, sample: Sequence[Mapping] = (), max_missing: int = 20) -> list[Probe]:
    """The user's rows followed by generated adversarial rows; remembered on the (immutable)
    IR node for sample rows of the same content (`sample_key`), so export and verify of one
    state, and a re-export, share the very row objects whose River answers are handed over
    (parity/handoff.py) instead of building them again (~5 ms for an 861-node tree)."""
    key = sample_key(sample) if dataclasses.is_dataclass(model) else None
    if key is None:
        return _probe_rows(model, sample, max_missing)
    held = model.__dict__.setdefault("_probe_rows", {})  # frozen: not a field, not hashed
    found = held.get((len(sample), max_missing))
    if found is not None and found[0] == key:
        return list(found[1])
    probes = _structural_memo(model, sample, max_missing, key)
    if len(held) >= MAX_HELD_SAMPLES:
        held.clear()
    held[(len(sample), max_missing)] = (key, tuple(probes))
    return probes


MAX_HELD_SAMPLES = 4  # sample lengths held per IR (export's golden sample is its first 8 rows)

# (features' exact key, sample key, its length, max_missing) → probes, for models whose probe
# rows follow from their schema and the sample alone (`structural_only`): held across states
_STRUCTURAL: dict[tuple, tuple[Probe, ...]] = {}
MAX_STRUCTURAL = 8
# estimator attributes some probes are made from (splits, thresholds, trees, ensemble members,
# centres): an estimator with any of them is not `structural_only`
ESTIMATOR_PROBES = ("split_probes", "thresholds", "tree", "members", "probe_points")


def structural_only(model: ir.Model) -> bool:
    """True when `_probe_rows` reads nothing of `model` but its schema's features (key, kind,
    categories): no estimator attribute probes are made from, not a forecaster or recommender.
    A linear model's next snapshot then gets the very probe rows of its last one."""
    est = getattr(model, "estimator", None)
    return (model.task not in ("forecast", "reco") and est is not None
            and not any(hasattr(est, a) for a in ESTIMATOR_PROBES))


def _structural_memo(model: ir.Model, sample: Sequence[Mapping], max_missing: int,
                     key: bytes) -> list[Probe]:
    """`_probe_rows`, held across IR objects (states of a learning model) while the schema's
    features and the sample's content are the same, for `structural_only` models: the same rows
    (row objects too: River's answers are still asked per state, parity/handoff.py, and the
    encoded probe matrix, which depends on the rows and schema only, is reused)."""
    if not structural_only(model):
        return _probe_rows(model, sample, max_missing)
    features = ir.exact_key([(f.name, f.key, f.kind, f.categories)
                             for f in model.schema.features])
    if features is None:
        return _probe_rows(model, sample, max_missing)
    memo = (features, key, len(sample), max_missing)
    found = _STRUCTURAL.get(memo)
    if found is None:
        if len(_STRUCTURAL) >= MAX_STRUCTURAL:
            _STRUCTURAL.clear()
        found = _STRUCTURAL[memo] = tuple(_probe_rows(model, sample, max_missing))
    return list(found)


def sample_key(sample: Sequence[Mapping]) -> bytes | None:
    """The sample's exact content as bytes (`ir.exact_key`), or None (rows that are not dicts,
    values marshal cannot write): then nothing is remembered."""
    if any(type(r) is not dict for r in sample):
        return None
    return ir.exact_key(list(sample))


def _probe_rows(model: ir.Model, sample: Sequence[Mapping], max_missing: int) -> list[Probe]:
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
    probes += _memo_leaf_probes(model, bases)
    probes += centre_probes(model, bases[0])
    return probes + structural_probes(features, bases, list(sample[:max_missing]) or bases)


def centre_probes(model: ir.Model, base: dict) -> list[Probe]:
    """For clusterers (`estimator.probe_points`): the points the estimator names, mapped back to
    raw values through the scalers in front. A "tie" point is kept only when, through the
    model's own transforms, it is exactly as far from both centres coordinate by coordinate:
    then River's distances to them are equal and its `min` keeps the first."""
    points = getattr(model.estimator, "probe_points", None)
    if points is None:
        return []
    mapping = raw_column_map(model)
    centres = model.estimator.table()
    out = []
    for tag, point, pair in points():
        row = dict(base)
        for column, v in zip(model.estimator.columns, point):
            if column not in mapping:
                break
            raw, offset, divisor = mapping[column]
            row[model.schema.feature(raw).key] = float(v * divisor + offset)
        else:
            if not pair or _exact_tie(model, row, centres[list(pair)]):
                out.append(Probe(row, tag))
    return out


def _exact_tie(model: ir.Model, row: dict, two: np.ndarray) -> bool:
    X = RowEncoder(model.schema).encode_many([row])
    z = gather(ir_transform(model.transform, (X, model.schema.columns)),
               model.estimator.columns)[0]
    return bool(np.array_equal(np.abs(two[0] - z), np.abs(two[1] - z)))


def structural_probes(features: Sequence[ir.Feature], bases: list[dict],
                      missing_bases: Sequence[Mapping]) -> list[Probe]:
    """Rows that test the input contract whatever the model: each feature missing in turn (from
    `missing_bases`), no features at all, an unseen key, unseen and every known category, zeros,
    and very large and very small magnitudes (from `bases`)."""
    probes = []
    for base in missing_bases:
        for f in features:
            probes.append(Probe(_without(base, f.key), "missing"))
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


def _without(base: Mapping, key: object) -> dict:
    """A copy of `base` without `key`, its other keys in their order (a dict's copy and one
    `del`: ~3x faster than a comprehension over its items, 180 rows per linear verify)."""
    if type(base) is not dict:
        return {k: v for k, v in base.items() if k != key}
    row = base.copy()
    row.pop(key, None)
    return row


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
    if getattr(model, "estimator", None) is None:  # the online freeze's estimator-less probes
        return []
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
