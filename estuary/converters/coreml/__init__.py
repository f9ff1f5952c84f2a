"""IR Snapshot → Core ML model spec (`.mlmodel`), built with coremltools' protobuf classes only.

Artifact contract: input `input`, a DOUBLE multiArray [F] in schema column order (NaN =
missing). Classifiers are a PipelineClassifier whose outputs are `label` (int64: the index of
the class in the metadata's `classes`) and `probabilities` (a dictionary int64 → double over
the same indices: Core ML classifiers return dictionaries); regressors are a PipelineRegressor
with output `value` (double; `score` / `forecast` for anomaly detectors, recommenders and
forecasters); multi-label / multi-target chains a plain Pipeline with `label.<t>`,
`probabilities.<t>` [2] or `value.<t>` [1] per target. `user_defined_metadata["estuary"]` holds
the artifact metadata.

Precision: transforms and linear models are classic Core ML models holding doubles (Scaler,
Imputer, GLMRegressor, GLMClassifier): float64. Tree ensembles and neural-network layers
compute in float32 on device: an artifact that uses them says `precision: float32`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ... import ir
from ..._coremltools import Model_pb2
from ...ir.artifact import METADATA_KEY, ArtifactMetadata
from ...ir.tasks import TASKS
from ..registry import emit, register_format
from . import (  # noqa: F401  (registration)
    anomaly,
    cluster,
    elementwise,
    ensembles,
    features,
    forecast,
    linear,
    lookup,
    multioutput,
    naive_bayes,
    neighbors,
    probit,
    projection,
    reco,
    trees,
    votes,
)
from .builder import (
    SPEC_VERSION,
    Stages,
    array_type,
    describe,
    double_type,
    int64_type,
    scores_type,
)
from .ensembles import _rename
from .transforms import Context, emit_transform, take

INPUT = "input"


def to_coreml(snapshot: ir.Snapshot) -> Model_pb2.Model:
    """The Core ML spec of a snapshot (a Pipeline(Classifier|Regressor) of classic models)."""
    model = snapshot.model
    columns = model.schema.columns
    s = Stages()
    x, cols = emit_transform(model.transform, Context(s, INPUT, columns))
    x = take(s, (x, cols), model.estimator.columns)
    emit("coreml", model.estimator, Context(s, x, model.estimator.columns))

    spec = Model_pb2.Model(specificationVersion=SPEC_VERSION)
    if model.task == "cluster":  # the emitter's NeuralNetworkClassifier names both outputs
        return _finish(spec, snapshot, s, _cluster_interface(spec, len(columns),
                                                             len(model.classes)))
    if TASKS[model.task].per_target:
        return _finish(spec, snapshot, s, _targets_interface(spec, len(columns), model))
    classifier = model.task == "classification"
    name = TASKS[model.task].output  # value, score or forecast (`ir.tasks`)
    if not classifier and name != "value":  # every value emitter's last stage writes `value`
        _rename(s.models[-1], "value", name)
    outputs = ([("label", int64_type()), ("probabilities", scores_type())] if classifier
               else [(name, double_type())])
    describe(spec.description, [(INPUT, array_type(len(columns)))], outputs, classifier)
    if not classifier:
        spec.description.predictedFeatureName = name
    pipeline = (spec.pipelineClassifier if classifier else spec.pipelineRegressor).pipeline
    return _finish(spec, snapshot, s, pipeline)


def _cluster_interface(spec: Model_pb2.Model, n_columns: int, n_centres: int) -> Any:
    """`cluster` (int64, the first minimum's index) and `distances` [K]: a PipelineClassifier."""
    describe(spec.description, [(INPUT, array_type(n_columns))],
             [("cluster", int64_type()), ("distances", array_type(n_centres))])
    spec.description.predictedFeatureName = "cluster"
    return spec.pipelineClassifier.pipeline


def _targets_interface(spec: Model_pb2.Model, n_columns: int, model: ir.Model) -> Any:
    """`label.<t>` (int64) and `probabilities.<t>` [2], or `value.<t>` [1], per target: a plain
    Pipeline (the emitter names its stages' outputs so)."""
    types = {"label": int64_type(), "probabilities": array_type(2), "value": array_type(1)}
    outputs = [(name, types[what]) for name, what, _ in
               TASKS[model.task].target_outputs(tuple(model.classes))]
    describe(spec.description, [(INPUT, array_type(n_columns))], outputs)
    return spec.pipeline


def _finish(spec: Model_pb2.Model, snapshot: ir.Snapshot, s: Stages, pipeline: Any
            ) -> Model_pb2.Model:
    """The stages into the pipeline, and the metadata."""
    model = snapshot.model
    pipeline.models.extend(s.models)
    pipeline.names.extend(f"stage_{i}_{m.WhichOneof('Type')}" for i, m in enumerate(s.models))

    meta = ArtifactMetadata.from_snapshot(snapshot, "float32" if s.float32 else "float64")
    info = spec.description.metadata
    info.shortDescription = f"{model.source} exported by estuary"
    info.versionString = snapshot.provenance.estuary_version
    info.author = "estuary"
    info.userDefined[METADATA_KEY] = meta.to_json()
    info.userDefined["estuary.ir_hash"] = meta.ir_hash
    info.userDefined["estuary.precision"] = meta.precision
    return spec


def write_coreml(snapshot: ir.Snapshot, path: str | Path) -> Path:
    """Write `snapshot` to `path` as a Core ML `.mlmodel`; the bytes depend only on the snapshot.

    >>> write_coreml(take_snapshot(model, rows), "model.mlmodel")
    """
    data = to_coreml(snapshot).SerializeToString(deterministic=True)
    path = Path(path)
    path.write_bytes(data)
    return path


register_format("coreml", suffixes=(".mlmodel",), writer=write_coreml, runtimes=("coreml",),
                precision="float64 (tree ensembles and neural-network layers: float32)",
                extra="coreml",
                describe="Core ML .mlmodel (Core ML on Apple platforms; spec evaluator elsewhere)")
