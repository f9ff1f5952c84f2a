"""Run an artifact in its real runtime on probe rows and compare with the River model itself."""

from __future__ import annotations

import operator
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import ir
from ..converters.registry import qualname
from ..converters.river_to_ir.reuse import ir_of
from ..errors import InvalidInputError, OutOfRangeError, WrongTaskError
from ..ir.evaluate import main_matrix
from ..rows import RowEncoder
from ..runtimes import LoadedModel, load
from ..runtimes.base import TOLERANCE, within
from .handoff import river_outputs_reusing
from .probes import Probe, probe_rows
from .reference import Reference
from .report import DIFF_DECADES, ParityReport, WorstRow

N_WORST = 5
FLOAT32_MAX = float(np.finfo(np.float32).max)


def beyond_float32(got: np.ndarray, expected: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Rows a float32 format cannot hold: River's value is beyond ±3.4e38 and the artifact says
    ±inf with River's sign (every other value of the row within tolerance)."""
    with np.errstate(invalid="ignore"):
        huge = (np.abs(expected) > FLOAT32_MAX) & (got == np.sign(expected) * np.inf)
    return huge.any(axis=1) & (huge | ok).all(axis=1)


def float32_ties(distances: np.ndarray, chosen: np.ndarray, tol: float) -> np.ndarray:
    """Rows where a float32 clusterer chose a centre whose River distance is within the float32
    tolerance of River's nearest: the two are one number in float32, which cannot break River's
    float64 tie (or near tie) River's way.

    >>> float32_ties(np.array([[1e9, 1e9 + 1.0]]), np.array([1]), 1e-5)
    array([ True])
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.size == 0:
        return np.zeros(len(chosen), bool)
    at = d[np.arange(len(chosen)), np.asarray(chosen, dtype=np.int64)]
    return within(at, d.min(axis=1), tol)


def _encode(loaded: LoadedModel, probes: Sequence[Probe]
            ) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(matrix, whether the encoder refused each row, rows the range policy refuses: rows.py)."""
    refused = np.zeros(len(probes), bool)
    X = _plain_matrix(loaded.encoder, [p.row for p in probes])
    if X is not None:
        return X, refused, {}
    X = np.full((len(probes), loaded.encoder.n_columns), np.nan)
    policy: dict[int, str] = {}
    encode_into = loaded.encoder.encode_into  # into the matrix: no array per probe row
    for i, p in enumerate(probes):
        try:
            encode_into(p.row, X[i])
        except OutOfRangeError as e:  # beyond what this format holds: refused, not compared
            X[i] = np.nan
            policy[i] = f"refused by the input range policy ({e})"
        except InvalidInputError:
            X[i] = np.nan  # as if never written: a row the encoder refuses stays missing
            refused[i] = True
    return X, refused, policy


_ENCODED: list[tuple] = []  # [(rows, schema, max_abs, matrix)]: the last plain probe matrix


def _plain_matrix(encoder: RowEncoder, rows: list[dict]) -> np.ndarray | None:
    """`encoder.encode_plain(rows)` (all rows in one pass), reused (read-only) when the rows are
    the very objects encoded last for an equal schema and range: a re-verify of an unchanged
    state gets the probe row objects remembered on its IR (`probes.probe_rows`)."""
    held = _ENCODED[0] if _ENCODED else None
    if (held is not None and len(held[0]) == len(rows) and all(map(operator.is_, held[0], rows))
            and held[2] == encoder.max_abs and held[1] == encoder.schema):
        return held[3]
    X = encoder.encode_plain(rows)  # all at once when all are plain
    if X is not None:
        X.flags.writeable = False
        _ENCODED[:] = [(rows, encoder.schema, encoder.max_abs, X)]
    return X


def _skip_nan_on_unknown_keys(ref, probes: Sequence[Probe], schema: ir.FeatureSchema) -> None:
    """River answers NaN for some rows with a key it never learned (MinMaxScaler scales such a key
    to NaN, and NaN reaches the model's dot product). The artifact contract ignores unknown keys,
    so such a row has no River answer to match: report it as skipped, like a row River rejects."""
    if not len(ref.outputs):
        return
    nan_rows = np.flatnonzero(np.isnan(ref.outputs).any(axis=1))  # one pass, not one per row
    known = {f.key for f in schema.features} | {f.name for f in schema.features}
    for i in nan_rows.tolist():
        if ref.errors[i] is None:
            unknown = sorted(str(k) for k in probes[i].row if k not in known)
            if unknown:
                ref.errors[i] = (f"River returns NaN for a row with keys it never learned "
                                 f"({', '.join(unknown)}); the artifact ignores unknown keys")


def not_a_distribution(outputs: np.ndarray) -> np.ndarray:
    """Rows of River probabilities that sum to more than 1: River's log-sum-exp absorbs
    log(2) when two classes' joint log-likelihoods are equal past ~1e16 (naive Bayes at
    |x| ≈ 1e9), and says 1 and 1. Policy (issue 18): such a row is no reference to match (a
    float32 format cannot follow it, ONNX does by accident): parity skips it, golden vectors
    leave it out. River's empty answer (all 0) stays a reference."""
    with np.errstate(invalid="ignore"):
        return np.asarray(outputs, dtype=np.float64).sum(axis=1) > 1.0 + 1e-6


def _skip_non_distributions(ref, task: str) -> None:
    if task != "classification" or not len(ref.outputs):
        return
    for i in np.flatnonzero(not_a_distribution(ref.outputs)):
        if ref.errors[i] is None:
            ref.errors[i] = (f"River's probabilities sum to {ref.outputs[i].sum():.3g}, not 1 "
                             "(its log-sum-exp absorbs at this magnitude): not a distribution "
                             "to match")


def target_labels(loaded: LoadedModel, X: np.ndarray, river: list,
                  out: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Per row: whether every target's `label.<t>` (1 = True) is River's `predict_one` label
    for that target (River's dict, its keys matched to `classes` by name); `out`: the
    runtime's outputs on `X` when the caller has them already."""
    out = loaded.run(X) if out is None else out
    ok = np.ones(len(X), bool)
    for (name, _, _), target in zip(
            [o for o in loaded.task.target_outputs(loaded.classes) if o[1] == "label"],
            loaded.classes):
        got = out[name]
        for i, labels in enumerate(river):
            by_name = {str(k): v for k, v in (labels or {}).items()}
            ok[i] &= str(target) in by_name and bool(got[i]) == bool(by_name[str(target)])
    return ok


def compare(model: Any, loaded: LoadedModel, probes: Sequence[Probe], ir_hash: str = "",
            progress: Callable[[int, int], None] | None = None,
            reference: Reference | None = None) -> ParityReport:
    """Parity of `loaded` (an artifact in its runtime) against the River `model` on `probes`,
    or against River's answers taken earlier on the same probes (`reference`, aligned with
    `probes`: a worker's model has learned since the snapshot)."""
    start = time.perf_counter()
    meta = loaded.metadata
    if reference is None:
        # River once per row: answers export took on this same state are reused (handoff.py)
        # and what River answers here is held for a re-verify of this state
        ref = river_outputs_reusing(model, [p.row for p in probes], meta.task, meta.classes,
                                    progress, hold=True)
    else:
        if len(reference.errors) != len(probes):
            raise ValueError(f"{len(reference.errors)} reference rows for {len(probes)} probes")
        ref = Reference(reference.outputs, list(reference.labels), list(reference.errors))
    _skip_nan_on_unknown_keys(ref, probes, meta.schema)
    _skip_non_distributions(ref, meta.task)
    X, refused, policy = _encode(loaded, probes)
    for i, why in policy.items():  # skipped as a row River refuses is skipped
        ref.errors[i] = ref.errors[i] or why
    keep = [i for i, e in enumerate(ref.errors) if e is None]
    # River answers these rows, the artifact's input contract refuses them: counted against
    # `passed`, listed with the encoder's message, never compared with an answer the artifact
    # would give for a row it never read
    contract = [i for i in keep if refused[i]] if refused.any() else []
    if contract:
        keep = [i for i in keep if not refused[i]]
    at = np.array(keep, np.intp)  # indexes the arrays below: one conversion of the list
    out = loaded.run(X[at]) if keep else {}  # one run gives every output compared below
    got = main_matrix(loaded.task, out, loaded.classes) if keep else np.empty(
        (0, ref.outputs.shape[1]))
    index = loaded.task.index_output
    labels = out[index] if (keep and index) else None
    expected = ref.outputs[at]
    tol = TOLERANCE[meta.precision]
    elem_ok = within(got, expected, tol) if keep else np.ones((0, 1), bool)
    ok = elem_ok.all(axis=1)
    beyond = (beyond_float32(got, expected, elem_ok) if meta.precision == "float32"
              else np.zeros(len(keep), bool))
    ok |= beyond
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(same, 0.0, np.abs(got - expected))
        scaled = np.where(same, 0.0, diff / np.maximum(1.0, np.abs(expected)))
    diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only: as bad as it gets
    scaled = np.where(np.isnan(scaled), np.inf, scaled)
    row_diff = np.where(beyond, 0.0, diff.max(axis=1)) if keep else np.zeros(0)
    row_scaled = np.where(beyond, 0.0, scaled.max(axis=1)) if keep else np.zeros(0)
    label_ok = np.ones(len(keep), bool)
    if labels is not None:
        label_ok = np.array(list(map(operator.eq, map(meta.classes.__getitem__, labels.tolist()),
                                     map(ref.labels.__getitem__, keep))), dtype=bool)
    flags = out.get("is_anomaly") if (keep and meta.task == "anomaly") else None
    if flags is not None:  # a filter's is_anomaly: River's classify(score), 100 % equal
        label_ok = np.array([ref.labels[i] is not None and bool(f) == ref.labels[i]
                             for i, f in zip(keep, flags)])
    targets = target_labels(loaded, X[at], [ref.labels[i] for i in keep], out) if (
        keep and meta.task == "multilabel") else None
    if targets is not None:  # every target's label.<t>: River's predict_one, 100 % equal
        label_ok = targets
    tie = (float32_ties(expected, labels, tol) if (labels is not None and loaded.task.index ==
           "argmin" and meta.precision == "float32") else np.zeros(len(keep), bool))
    ok &= label_ok | tie  # a float32 tie still counts against agreement
    badness = np.where(~label_ok, np.inf, row_diff)
    order = np.argsort(-badness, kind="stable")
    worst = tuple(
        WorstRow(keep[k], probes[keep[k]].tag, dict(probes[keep[k]].row), expected[k].tolist(),
                 got[k].tolist(), float(row_diff[k]), bool(label_ok[k]))
        for k in order[:N_WORST])
    if contract:  # listed first, with the encoder's message
        worst = (_refused_rows(loaded, probes, contract, ref.outputs) + worst)[:N_WORST]
    skipped = [e for e in ref.errors if e is not None]
    return ParityReport(
        format=loaded.format,
        artifact=str(loaded.path),
        runtime=str(loaded.runtime),
        model=meta.source,
        ir_hash=ir_hash or meta.ir_hash,
        task=meta.task,
        n_rows=len(keep),
        label_agreement=(float(label_ok.mean()) if ((index or flags is not None
                                                      or targets is not None) and keep)
                         else None),
        max_abs_diff=float(row_diff.max()) if keep else 0.0,
        max_scaled_diff=float(row_scaled.max()) if keep else 0.0,
        tolerance=tol,
        precision=meta.precision,
        passed=bool(ok.all()) and bool(keep) and not contract,
        n_skipped=len(skipped),
        rows_by_tag=dict(Counter(probes[i].tag for i in keep)),
        worst_rows=worst,
        skipped_examples=tuple(sorted(set(skipped))[:3]),
        seconds=time.perf_counter() - start,
        artifact_ir_hash=meta.ir_hash,
        n_beyond_float32=int(beyond.sum()),
        diff_counts=diff_histogram(diff.max(axis=1) if keep else np.zeros(0)),
        n_refused=len(contract),
    )


def _refused_rows(loaded: LoadedModel, probes: Sequence[Probe], contract: list[int],
                  reference: np.ndarray) -> tuple[WorstRow, ...]:
    """The first rows the artifact's input encoder refuses, as worst rows with the encoder's
    message (encoded again here, for these few rows only: `_encode` keeps no messages) and no
    artifact answer."""
    listed = []
    for i in contract[:N_WORST]:
        try:
            loaded.encoder.encode(probes[i].row)
            why = "refused by the artifact's input encoder"  # not expected: it refused before
        except InvalidInputError as e:
            why = str(e)
        listed.append(WorstRow(i, probes[i].tag, dict(probes[i].row), reference[i].tolist(), [],
                               float("nan"), False, refused=why))
    return tuple(listed)


def diff_histogram(row_diff: np.ndarray) -> tuple[int, ...]:
    """Rows per bin of report.DIFF_BIN_LABELS: exactly 0, < 1e-16, a decade each, >= 1.

    >>> diff_histogram(np.array([0.0, 3e-17, 2e-16, 5.0]))[:4]
    (1, 1, 1, 0)
    """
    d = np.asarray(row_diff, dtype=np.float64)
    positive = d[d > 0]  # NaN is inf here already (compare): >= 1
    bins = np.searchsorted(np.array(DIFF_DECADES), positive, side="right")
    return (int((d == 0).sum()),
            *(int(n) for n in np.bincount(bins, minlength=len(DIFF_DECADES) + 1)))


def verify(model: Any, path: str | Path, rows: Sequence[Mapping] = (), *,
           adversarial: bool = True,
           progress: Callable[[int, int], None] | None = None) -> ParityReport:
    """Load the artifact in its real runtime and compare it with `model` on `rows` + probes.

    >>> report = verify(model, "model.onnx", rows); report.passed
    """
    loaded = load(path, check=False)
    loaded.check_golden_once(require=False)  # the model itself is the reference here
    model_ir = ir_of(model)  # export just froze this state: its IR (and hash) is reused
    if loaded.metadata.task != model_ir.task:  # no row could compare: say why, not FAIL
        raise WrongTaskError(f"{path} holds a {loaded.metadata.task} model "
                             f"({loaded.metadata.source}) and the model is a {model_ir.task} "
                             f"model ({qualname(type(model))}): verify an artifact against the "
                             "model it was exported from")
    rows = list(rows)
    probes = probe_rows(model_ir, rows) if adversarial else [Probe(dict(r), "sample") for r in rows]
    return compare(model, loaded, probes, ir_hash=ir.content_hash(model_ir), progress=progress)
