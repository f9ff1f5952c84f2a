"""River's predict API over any compute backend that runs an artifact's input matrix.

A backend only maps the input matrix [N, F] to output arrays; `LoadedModel` adds what every
runtime shares: dict rows → matrix via the embedded schema, class indices → River's classes,
and the golden-vector check on load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import (
    ArtifactError,
    EstuaryError,
    GoldenCheckError,
    InvalidInputError,
    NoGoldenVectorsError,
    WrongTaskError,
)
from ..ir.artifact import ArtifactMetadata
from ..ir.evaluate import main_matrix
from ..ir.tasks import TASKS
from ..rows import FLOAT32_MAX, FLOAT64_MAX, RowEncoder

# float64: issue 13's 1e-9 (relative above 1); measured worst over the catalogue 1.6e-13 (PMML),
# 9.5e-14 (ONNX), 2.8e-14 (Core ML float64), benchmarks/parity_tolerance.py. float32: the issue's
# 1e-5; what float32 cannot carry within it is rewritten or refused at export (benchmarks/README.md).
TOLERANCE = {"float64": 1e-9, "float32": 1e-5}


@dataclass(frozen=True)
class RuntimeInfo:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Backend(Protocol):
    info: RuntimeInfo

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """The task's outputs (`ir.tasks`) for a float64 matrix: `probabilities` [N, C] and
        `label` [N], `value` [N], `score` [N], `distances` [N, K] and `cluster` [N], ..."""


def read_artifact(path: Path | str) -> bytes:
    """The bytes of the artifact file `path`, or `ArtifactError` saying why they cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ArtifactError(f"cannot read {path}: {e.strerror}") from e


def parse_metadata(text: str | bytes, path: Path | str) -> ArtifactMetadata:
    """The artifact's embedded metadata, or `ArtifactError` saying why it cannot be read."""
    try:
        return ArtifactMetadata.from_json(text)
    except RecursionError as e:
        raise ArtifactError(f"{path}: the estuary metadata is nested too deeply; the artifact is "
                            "corrupt or not an estuary export: re-export it") from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ArtifactError(f"{path}: unreadable estuary metadata ({e}); the artifact is corrupt "
                            "or not an estuary export: re-export it") from e


def within(actual: np.ndarray, expected: np.ndarray, tol: float) -> np.ndarray:
    """Element-wise |a - e| <= tol * max(1, |e|); NaN equals NaN."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    both_nan = np.isnan(actual) & np.isnan(expected)
    with np.errstate(invalid="ignore"):
        ok = np.abs(actual - expected) <= tol * np.maximum(1.0, np.abs(expected))
    return ok | both_nan | (actual == expected)


# (SHA-256 of an artifact's bytes, runtime) → the max golden diff they passed with: verify
# loads the bytes export just checked, and the check (golden rows, labels, integrity digest)
# of the same bytes in the same runtime gives the same answer (`check_golden_once`); a
# backend that exposes no `digest` (every runtime but onnxruntime) is checked every time
_GOLDEN_PASSED: dict[tuple[str, str], float] = {}
MAX_GOLDEN_PASSED = 64


class LoadedModel:
    """An artifact ready to predict like a River model: `predict_one`, `predict_proba_one`, ..."""

    def __init__(self, backend: Backend, metadata: ArtifactMetadata, path: Path, fmt: str):
        self.backend = backend
        self.metadata = metadata
        self.path = Path(path)
        self.format = fmt
        # the range policy (rows.py): a float32 artifact refuses what float32 cannot hold
        self.encoder = RowEncoder(metadata.schema, max_abs=FLOAT32_MAX if
                                  metadata.precision == "float32" else FLOAT64_MAX)
        self.classes = metadata.classes
        self.task = TASKS[metadata.task]
        self.is_classifier = metadata.task == "classification"

    @property
    def runtime(self) -> RuntimeInfo:
        return self.backend.info

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """The backend's outputs for a float64 matrix, checked against the artifact contract:
        whatever a corrupt artifact makes the runtime do, the caller sees an `ArtifactError`."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        try:
            out = self.backend.run(X)
        except EstuaryError:
            raise
        except Exception as e:  # runtimes raise their own untyped errors on a broken graph
            raise ArtifactError(
                f"{self.path} fails to run in {self.runtime} ({type(e).__name__}: "
                f"{str(e)[:200]}); the artifact is corrupt: re-export it") from e
        return self._checked(out, X.shape[0])

    def _checked(self, out: Any, n: int) -> dict[str, np.ndarray]:
        spec = self.task
        if spec.per_target:
            return self._checked_targets(out, n)
        wanted = spec.outputs
        if not isinstance(out, dict) or not all(k in out for k in wanted):
            got = sorted(out) if isinstance(out, dict) else type(out).__name__
            raise ArtifactError(f"{self.path}: outputs {got} are not the estuary contract "
                                f"({list(wanted)}); the artifact is corrupt: re-export it")
        c = len(self.classes)
        try:
            if not spec.per_class:
                checked = {spec.output: _shaped(out[spec.output], (n,))}
            else:
                checked = {spec.output: _shaped(out[spec.output], (n, c))}
                checked[spec.index_output] = self._index(
                    _shaped(out[spec.index_output], (n,), keep_int=True), c)
            for name in spec.optional:
                if name in out:
                    checked[name] = self._flag(_shaped(out[name], (n,), keep_int=True), name)
        except ValueError as e:
            raise ArtifactError(f"{self.path}: {e} for {n} rows of {c or 1} "
                                "outputs; the artifact is corrupt: re-export it") from e
        return checked

    def _checked_targets(self, out: Any, n: int) -> dict[str, np.ndarray]:
        """A per-target task's outputs (`Task.target_outputs`), each of its contract's shape."""
        wanted = self.task.target_outputs(self.classes)
        if not isinstance(out, dict) or not all(name in out for name, _, _ in wanted):
            got = sorted(out) if isinstance(out, dict) else type(out).__name__
            raise ArtifactError(f"{self.path}: outputs {got} are not the estuary contract "
                                f"({[name for name, _, _ in wanted]}); the artifact is corrupt: "
                                "re-export it")
        checked = {}
        try:
            for name, what, _ in wanted:
                if what == "label":
                    checked[name] = self._index(_shaped(out[name], (n,), keep_int=True), 2)
                elif what == "probabilities":
                    checked[name] = _shaped(out[name], (n, 2))
                else:
                    checked[name] = _shaped(out[name], (n,))
        except ValueError as e:
            raise ArtifactError(f"{self.path}: {e} for {n} rows; the artifact is corrupt: "
                                "re-export it") from e
        return checked

    def _main(self, out: dict[str, np.ndarray]) -> np.ndarray:
        """The task's main output as [N, width] (per-target tasks: every target's side by side,
        as golden rows hold them)."""
        return main_matrix(self.task, out, self.classes)

    def _index(self, label: np.ndarray, c: int) -> np.ndarray:
        """Class (or cluster) indices as int64 within 0..c-1, else `ArtifactError`."""
        if label.dtype.kind != "i":
            with np.errstate(invalid="ignore"):
                whole = np.isfinite(label).all() and (label == np.floor(label)).all()
            if not whole:
                raise ArtifactError(f"{self.path}: a label that is not a class index; the "
                                    "artifact is corrupt: re-export it")
            label = label.astype(np.int64)
        if label.size and (label.view(np.uint64).max() >= c if label.dtype == np.int64
                           else label.min() < 0 or label.max() >= c):  # negative: >= 2**63
            raise ArtifactError(f"{self.path}: a label index outside 0..{c - 1}; the artifact "
                                "is corrupt: re-export it")
        return label

    def _flag(self, flag: np.ndarray, name: str) -> np.ndarray:
        """A 0/1 output (`is_anomaly`) as int64, else `ArtifactError`."""
        if not np.isin(flag, (0, 1)).all():
            raise ArtifactError(f"{self.path}: {name} holds values other than 0 and 1; the "
                                "artifact is corrupt: re-export it")
        return flag.astype(np.int64)

    def predict_proba_many(self, rows: Iterable[Mapping] | Any,
                           columns: Sequence[str] | None = None) -> np.ndarray:
        """Dict rows, or columns: a pandas DataFrame, a numpy structured array (or a 2-D array
        named by `columns`), an Arrow Table/RecordBatch (`estuary.columnar`)."""
        self._need("classification", "predict_proba_many")
        return self.run(self.encoder.encode_many(rows, columns))["probabilities"]

    def predict_many(self, rows: Iterable[Mapping] | Any,
                     columns: Sequence[str] | None = None) -> list[Any]:
        """River's `predict_one` on each row (dict rows or columns, as `predict_proba_many`):
        a class, a value, or a cluster id."""
        self._need(("classification", "regression", "cluster", "reco", "multilabel",
                    "multitarget"), "predict_many")
        out = self.run(self.encoder.encode_many(rows, columns))
        if self.task.per_target:
            return self._per_target(out)
        if not self.task.index:
            return out[self.task.output].tolist()
        return [self.classes[i] for i in out[self.task.index_output]]

    def _per_target(self, out: dict[str, np.ndarray]) -> list[dict]:
        """River's multi-output `predict_one` per row: {target: label or value}."""
        n = len(next(iter(out.values())))
        rows: list[dict] = [{} for _ in range(n)]
        for (name, what, _), target in zip(
                [o for o in self.task.target_outputs(self.classes) if o[1] != "probabilities"],
                self.classes):
            for i, v in enumerate(out[name].tolist()):
                rows[i][target] = bool(v) if what == "label" else v
        return rows

    def predict_one(self, x: Any, *reco: Any) -> Any:
        """River's `predict_one(x)`; a recommender's is `predict_one(user, item, x=None)`."""
        if self.metadata.task == "reco":
            if not reco:
                raise InvalidInputError("<item>", "a recommender scores a user and an item: "
                                        "call predict_one(user, item) or predict_one(user, item, "
                                        "x)")
            context = reco[1] if len(reco) > 1 and reco[1] else {}
            return self.predict_many([{**context, "user": x, "item": reco[0]}])[0]
        return self.predict_many([x])[0]

    def rank(self, user: Any, items: Iterable[Any], x: Mapping | None = None) -> list[Any]:
        """River's `Ranker.rank`: the items by decreasing score for `user` (stable on ties)."""
        self._need("reco", "rank")
        items = list(items)
        scores = self.predict_many([{**(x or {}), "user": user, "item": i} for i in items])
        return [items[k] for k in sorted(range(len(items)), key=lambda k: -scores[k])]

    def predict_proba_one(self, x: Mapping) -> dict[Any, Any]:
        """River's `predict_proba_one`; a multi-label classifier's is {target: {False: p,
        True: q}}."""
        if self.metadata.task == "multilabel":
            out = self.run(self.encoder.encode_many([x]))
            return {t: {False: float(out[f"probabilities.{t}"][0, 0]),
                        True: float(out[f"probabilities.{t}"][0, 1])} for t in self.classes}
        proba = self.predict_proba_many([x])[0]
        return {c: float(p) for c, p in zip(self.classes, proba)}

    def score_many(self, rows: Iterable[Mapping]) -> np.ndarray:
        """River's `score_one` on each row (anomaly detectors)."""
        self._need("anomaly", "score_many")
        return self.run(self.encoder.encode_many(rows))["score"]

    def score_one(self, x: Mapping) -> float:
        return float(self.score_many([x])[0])

    def classify_one(self, x: Mapping) -> bool:
        """An anomaly filter's verdict on `x` (River's `classify(score_one(x))`)."""
        self._need("anomaly", "classify_one")
        out = self.run(self.encoder.encode_many([x]))
        if "is_anomaly" not in out:
            raise WrongTaskError(f"{self.path} scores anomalies but has no threshold: wrap the "
                                 "detector in anomaly.ThresholdFilter or QuantileFilter")
        return bool(out["is_anomaly"][0])

    def distances_many(self, rows: Iterable[Mapping]) -> np.ndarray:
        """Distance from each row to each centre, columns in `classes` (cluster id) order."""
        self._need("cluster", "distances_many")
        return self.run(self.encoder.encode_many(rows))["distances"]

    def forecast(self, horizon: int, xs: list[Mapping] | None = None) -> list[float]:
        """River's `forecast(horizon, xs)`: one row per step ahead, `step` = 1..horizon."""
        self._need("forecast", "forecast")
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise InvalidInputError(f"horizon must be a whole number >= 1, not {horizon!r}")
        if xs is not None and len(xs) != horizon:
            raise InvalidInputError(f"xs has {len(xs)} rows for a horizon of {horizon}: give "
                                    "one row of exogenous features per step")
        rows = [{**(xs[i] if xs else {}), "step": i + 1} for i in range(horizon)]
        out = self.run(self.encoder.encode_many(rows))["forecast"]
        if horizon > 1 and np.isnan(out[-1]) and not np.isnan(out[0]):
            # a forecast unrolled at export (SNARIMAX) has no step beyond its horizon: NaN there
            unrolled = int(np.argmax(np.isnan(out)))
            raise InvalidInputError("horizon", f"{horizon} steps asked; this artifact forecasts "
                                    f"{unrolled} steps ahead at most (the horizon unrolled at "
                                    "export): ask for fewer")
        return out.tolist()

    def _need(self, tasks: str | tuple[str, ...], what: str) -> None:
        tasks = (tasks,) if isinstance(tasks, str) else tasks
        if self.metadata.task not in tasks:
            raise WrongTaskError(f"{what} is for {' or '.join(tasks)} models; this artifact is "
                                 f"a {self.metadata.task} model: use {self.task.api}")

    def outputs_matrix(self, X: np.ndarray) -> np.ndarray:
        """The task's main output as [N, width]: the shape golden vectors use."""
        return self._main(self.run(X))

    def check_golden(self, require: bool = True) -> float:
        """Re-run the golden vectors; raise `GoldenCheckError` if they do not reproduce (labels
        included), `NoGoldenVectorsError` if there are none and `require` is set."""
        meta = self.metadata
        if not meta.golden_inputs:
            if require:
                raise NoGoldenVectorsError(
                    f"{self.path} embeds no golden vectors, so nothing shows that it computes "
                    "what was exported (they may have been removed): re-export it, or load it "
                    "with estuary.load(path, require_golden=False) if you trust its origin")
            self.check_integrity()
            return 0.0
        X = np.array([[np.nan if v is None else v for v in r] for r in meta.golden_inputs],
                     dtype=np.float64)
        expected = np.array(meta.golden_outputs, dtype=np.float64)
        out = self.run(X)
        got = self._main(out)
        tol = TOLERANCE[meta.precision]
        if got.shape != expected.shape or not within(got, expected, tol).all():
            diff = np.nanmax(np.abs(got - expected)) if got.shape == expected.shape else "shape"
            raise GoldenCheckError(
                f"{self.path}: the embedded golden vectors do not reproduce in {self.runtime} "
                f"(max diff {diff}, tolerance {tol}); " + _why_not_golden(X, meta.precision))
        if self.task.index:
            self._check_golden_labels(out[self.task.index_output], expected, tol)
        self.check_integrity()
        worst = float(np.nanmax(np.abs(got - expected))) if got.size else 0.0
        digest = getattr(self.backend, "digest", None)  # SHA-256 of the bytes it runs
        if digest:
            _GOLDEN_PASSED[(digest, str(self.runtime))] = worst
            while len(_GOLDEN_PASSED) > MAX_GOLDEN_PASSED:  # oldest first; threads may race
                try:
                    _GOLDEN_PASSED.pop(next(iter(_GOLDEN_PASSED)), None)
                except (StopIteration, RuntimeError):
                    break
        return worst

    def check_golden_once(self, require: bool = True) -> float:
        """`check_golden`, unless these exact bytes (the backend's SHA-256) passed it in this
        runtime in this process already: verify right after export's check of the same file."""
        digest = getattr(self.backend, "digest", None)
        passed = _GOLDEN_PASSED.get((digest, str(self.runtime))) if digest else None
        return self.check_golden(require) if passed is None else passed

    def check_integrity(self) -> bool:
        """The artifact's bytes against the SHA-256 its metadata embeds (`IntegrityError` if
        they differ); False when it embeds none (older exports, scikit-learn exports)."""
        from ..integrity import check

        return check(self.path, self.metadata.integrity)

    def _check_golden_labels(self, labels: np.ndarray, expected: np.ndarray, tol: float) -> None:
        """Each label the runtime gives is River's own (`golden_labels`), except on rows whose
        top two probabilities tie within the format's tolerance (a float32 format may then
        break the tie the other way)."""
        wanted = self.metadata.golden_labels
        for i, index in enumerate(labels.tolist()):
            river = wanted[i] if wanted else None
            got = self.classes[index]
            scores = expected[i] if self.task.index == "argmax" else -expected[i]
            top = np.sort(scores)[-2:]
            if _near_tie(top, tol):
                continue
            if river is None:  # older and scikit-learn exports: the arg-max of the outputs
                river = self.classes[int(np.argmax(scores))]
            if got != river or isinstance(got, bool) != isinstance(river, bool):
                raise GoldenCheckError(
                    f"{self.path}: golden row {i} gives the label {got!r} in {self.runtime} "
                    f"where River predicted {river!r}; the artifact's labels or classes were "
                    "altered: do not serve it, re-export it")


FLOAT32_OVERFLOW = 1.8e19  # a float32 product of two values this large is infinite


def _why_not_golden(X: np.ndarray, precision: str) -> str:
    """What to do about golden vectors that do not reproduce: a float32 artifact whose golden
    rows hold values its arithmetic overflows on (an input near 1e150) is not corrupt."""
    with np.errstate(invalid="ignore"):
        big = np.nanmax(np.abs(X)) if X.size and not np.isnan(X).all() else 0.0
    if precision == "float32" and big > FLOAT32_OVERFLOW:
        return (f"a golden input of {big:.3g} overflows float32, which this format computes in "
                f"(±3.4e38; a product past ~{FLOAT32_OVERFLOW:.2g}): it cannot follow River "
                "on such rows. Export a float64 format (ONNX, PMML) for them, or sample rows "
                "within float32's range")
    return ("the artifact is corrupt or the runtime computes differently: do not serve it, "
            "re-export it")


def _near_tie(top: np.ndarray, tol: float) -> bool:
    return top.size >= 2 and abs(top[-1] - top[-2]) <= tol * max(1.0, abs(top[-1]))


def _shaped(values: Any, shape: tuple[int, ...], keep_int: bool = False) -> np.ndarray:
    """`values` as a float64 (or int64 labels) array of `shape` (a [N, 1] column counts as
    [N]); the common case, already right, costs two attribute reads."""
    if isinstance(values, np.ndarray) and values.shape == shape and (
            values.dtype == np.float64 or keep_int and values.dtype == np.int64):
        return values
    arr = np.asarray(values)
    if not (keep_int and arr.dtype == np.int64):
        arr = arr.astype(np.float64)
    if arr.shape != shape and arr.size == int(np.prod(shape)) and len(shape) == 1:
        arr = arr.reshape(shape)
    if arr.shape != shape:
        raise ValueError(f"an output of shape {arr.shape}, not {shape}")
    return arr
