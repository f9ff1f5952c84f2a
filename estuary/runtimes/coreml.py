"""Core ML backend: `coremltools.models.MLModel(...).predict` on macOS, and everywhere else the
spec evaluator (`coreml_spec`), which interprets the saved protobuf spec in numpy following
Apple's Core ML specification (not the IR: it would run any `.mlmodel` of the types it knows).

Artifact contract read here: input `input`, a DOUBLE multiArray [F] in schema column order
(NaN = missing); classifiers output `label` (int64, the index into the metadata's classes) and
`probabilities` (a dictionary int64 → double over the same indices); regressors output `value`
(double), anomaly detectors `score`, forecasters `forecast`, recommenders `score`, clusterers
`cluster` and `distances`; multi-label / multi-target models (a plain Pipeline) `label.<t>`
(int64), `probabilities.<t>` [2] or `value.<t>` [1] per target (`ir.tasks`).
`user_defined_metadata["estuary"]` holds the artifact metadata JSON.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArtifactError, EstuaryError
from ..ir.artifact import METADATA_KEY, ArtifactMetadata
from ..ir.tasks import TASKS
from .base import LoadedModel, RuntimeInfo, parse_metadata, read_artifact

INPUT = "input"
PIP_HINT = "the Core ML runtime needs its extra: pip install 'estuary-ml[coreml]'"
RUNTIME_NAME = "coreml"  # reports read "coreml spec-evaluator ..." or "coreml native ..."


def _proto():
    try:
        from .._coremltools import Model_pb2
    except ImportError as e:
        raise EstuaryError(f"{PIP_HINT} ({e})") from e
    return Model_pb2


def read_spec(path: Path) -> Any:
    """Parse a `.mlmodel` file into a `Model_pb2.Model`; ArtifactError if it is not one."""
    from google.protobuf.message import DecodeError

    data = read_artifact(path)
    if not data:
        raise ArtifactError(f"{path} is empty: not a Core ML model")
    spec = _proto().Model()
    try:
        spec.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ArtifactError(f"{path} is not a Core ML model spec ({e}); it may be truncated or "
                            "corrupt: re-export it") from e
    if spec.WhichOneof("Type") is None or spec.specificationVersion <= 0:
        raise ArtifactError(f"{path} is not a Core ML model spec (no model type or version); it "
                            "may be truncated or corrupt: re-export it")
    return spec


def read_metadata(spec: Any, path: Path) -> ArtifactMetadata:
    props = spec.description.metadata.userDefined
    if METADATA_KEY not in props:
        raise ArtifactError(f"{path} has no estuary metadata (user_defined_metadata["
                            f"{METADATA_KEY!r}]): export it with `estuary export`")
    return parse_metadata(props[METADATA_KEY], path)


def _check_interface(spec: Any, meta: ArtifactMetadata, path: Path) -> None:
    inputs = [d.name for d in spec.description.input]
    outputs = {d.name for d in spec.description.output}
    spec_task = TASKS[meta.task]
    wanted = set(spec_task.outputs) | {  # label + probabilities, cluster + distances, value
        name for name, _, _ in (spec_task.target_outputs(tuple(meta.classes))
                                if spec_task.per_target else ())}
    if inputs != [INPUT] or not wanted <= outputs:
        raise ArtifactError(f"{path}: inputs {inputs} / outputs {sorted(outputs)} are not the "
                            f"estuary contract ({INPUT!r} → {sorted(wanted)}): re-export it")


class SpecEvaluatorBackend:
    """Interprets the spec in numpy; evaluates a whole matrix per call."""

    def __init__(self, spec: Any, meta: ArtifactMetadata, path: Path):
        from .coreml_spec import evaluate

        self.spec, self.metadata, self.path = spec, meta, path
        self._evaluate = evaluate
        self.info = RuntimeInfo(RUNTIME_NAME, f"spec-evaluator (estuary numpy, coremltools {_ct_version()} proto)")

    def outputs(self, X: np.ndarray) -> dict[str, Any]:
        from .coreml_spec import SpecError

        try:
            return self._evaluate(self.spec, {INPUT: X})
        except SpecError as e:
            raise ArtifactError(f"{self.path}: the Core ML spec cannot be evaluated ({e})") from e

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        out = self.outputs(np.asarray(X, dtype=np.float64))
        name = TASKS[self.metadata.task].output
        if TASKS[self.metadata.task].per_target:
            return per_target(self.metadata, out, len(X))
        if self.metadata.task == "cluster":
            return {"distances": np.asarray(out["distances"], dtype=np.float64).reshape(len(X), -1),
                    "cluster": np.asarray(out["cluster"], dtype=np.int64)}
        if self.metadata.task != "classification":  # value, score or forecast
            return {name: np.asarray(out[name], dtype=np.float64).reshape(-1)}
        scores = out["probabilities"]
        order = [list(scores.keys).index(k) for k in range(len(self.metadata.classes))]
        return {"probabilities": scores.scores[:, order],
                "label": np.asarray(out["label"], dtype=np.int64)}


class NativeBackend:
    """Core ML itself (macOS only), one prediction per row as `MLModel.predict` takes them."""

    def __init__(self, path: Path, meta: ArtifactMetadata):
        import coremltools as ct

        self.metadata = meta
        try:
            self.model = ct.models.MLModel(str(path))
        except Exception as e:  # Core ML reports compile errors with its own exceptions
            raise ArtifactError(f"{path} does not load in Core ML ({e})") from e
        self.info = RuntimeInfo(RUNTIME_NAME, f"native macOS {platform.mac_ver()[0]} (coremltools {ct.__version__})")

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        C = len(self.metadata.classes)
        outs = [self.model.predict({INPUT: row}) for row in np.asarray(X, dtype=np.float64)]
        name = TASKS[self.metadata.task].output
        if TASKS[self.metadata.task].per_target:
            return per_target(self.metadata, {name: [o[name] for o in outs] for name in outs[0]}
                              if outs else {}, len(outs))
        if self.metadata.task == "cluster":
            return {"distances": np.array([np.ravel(o["distances"]) for o in outs], np.float64
                                          ).reshape(len(outs), -1),
                    "cluster": np.array([o["cluster"] for o in outs], np.int64)}
        if self.metadata.task != "classification":  # value, score or forecast
            return {name: np.array([o[name] for o in outs], dtype=np.float64)}
        probs = np.array([[o["probabilities"][k] for k in range(C)] for o in outs]).reshape(-1, C)
        return {"probabilities": probs, "label": np.array([o["label"] for o in outs], np.int64)}


def per_target(meta: ArtifactMetadata, out: dict[str, Any], n: int) -> dict[str, np.ndarray]:
    """A multi-label / multi-target model's outputs (`label.<t>` int64, `probabilities.<t>`
    [N, 2], `value.<t>` [N]) from Core ML's per-row or per-batch values."""
    got = {}
    for name, what, _ in TASKS[meta.task].target_outputs(tuple(meta.classes)):
        if name not in out:
            continue  # LoadedModel reports the missing output
        if what == "label":
            got[name] = np.asarray(out[name], dtype=np.int64).reshape(n)
        else:
            got[name] = np.asarray(out[name], dtype=np.float64).reshape(n, -1 if what ==
                                                                          "probabilities" else 1)
            if what == "value":
                got[name] = got[name].reshape(n)
    return got


def _ct_version() -> str:
    try:
        return metadata.version("coremltools")
    except metadata.PackageNotFoundError:
        return "?"


def load_coreml(path: Path, native: bool | None = None) -> LoadedModel:
    """River's predict API over Core ML (macOS) or the spec evaluator (elsewhere).

    >>> load_coreml(Path("model.mlmodel")).predict_one({"x": 1.0})
    """
    path = Path(path)
    spec = read_spec(path)
    meta = read_metadata(spec, path)
    _check_interface(spec, meta, path)
    if native is None:
        native = platform.system() == "Darwin"
    backend = NativeBackend(path, meta) if native else SpecEvaluatorBackend(spec, meta, path)
    return LoadedModel(backend, meta, path, "coreml")
