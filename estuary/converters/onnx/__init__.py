"""IR Snapshot → ONNX model (ai.onnx opset 21 + ai.onnx.ml opset 5 by default; the options
`opset` (17 and up) and `ml_opset` choose others; the IR version is the lowest those need).

Artifact contract: input `input` double [N, F] in schema column order (NaN = missing);
the outputs are the task's (`ir.tasks`): classifiers output `label` int64 [N] (index into the
classes in the metadata) and `probabilities` double [N, C]; regressors output `value` double
[N]; anomaly detectors `score` [N] (filters also `is_anomaly` int64 [N]); clusterers `cluster`
int64 [N] and `distances` [N, K]; forecasters `forecast` [N]. Tensors only.
"""

from __future__ import annotations

import dataclasses
import weakref
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from ... import ir
from ..._atomic import write_staged
from ...errors import InvalidOptionError
from ...ir.artifact import METADATA_KEY, ArtifactMetadata
from ...ir.tasks import TASKS, Task
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
    structure,
    trees,
    votes,
)
from .broadcast import inferred_shapes, prebroadcast
from .graph import DEFAULT_OPSET, DOUBLE, INT64, ML_DOMAIN, Graph
from .transforms import Context, emit_transform, take

DEFAULT_ML_OPSET = 5
MIN_OPSET = 17  # the oldest ai.onnx opset the emitters are written (and tested) for
MIN_ML_OPSET = 5  # TreeEnsemble with float64 thresholds and leaf weights
INPUT = "input"


def to_onnx(snapshot: ir.Snapshot, opset: int = DEFAULT_OPSET,
            ml_opset: int = DEFAULT_ML_OPSET) -> onnx.ModelProto:
    """Build the ONNX model of a snapshot; `onnx.checker` passes with full_check.

    >>> to_onnx(snapshot, opset=17).opset_import[0].version
    17
    """
    _check_opsets(opset, ml_opset)
    model = snapshot.model
    g = Graph(opset)
    x, columns = emit_transform(model.transform, Context(g, INPUT, model.schema.columns))
    wanted = model.estimator.columns
    outs = emit("onnx", model.estimator, Context(g, take(g, x, columns, wanted), wanted))
    n_features = len(model.schema.columns)
    spec = TASKS[model.task]
    outputs = (_target_outputs(g, spec, outs, model.classes) if spec.per_target
               else _output_stage(g, spec, outs, len(model.classes)))
    graph = helper.make_graph(
        g.nodes, "estuary", [helper.make_tensor_value_info(INPUT, DOUBLE, ["N", n_features])],
        outputs, initializer=g.used_initializers(),
    )
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid(ML_DOMAIN, ml_opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="estuary",
        producer_version=snapshot.provenance.estuary_version,
        doc_string=f"{model.source} exported by estuary",
    )
    # shapes and the checker's pass of a graph of this structure (a learning model's last
    # snapshot): both depend on the structure only (structure.py)
    digest = structure.key(proto)
    known = structure.known(digest)
    shapes = inferred_shapes(proto) if known is None else known.shapes
    prebroadcast(proto, shapes)
    meta = ArtifactMetadata.from_snapshot(snapshot)
    helper.set_model_props(proto, {METADATA_KEY: meta.to_json(), "estuary.ir_hash": meta.ir_hash})
    if known is None or not known.checked:
        onnx.checker.check_model(proto, full_check=True)
    structure.remember(digest, shapes, checked=True)
    return proto


def _output_stage(g: Graph, spec: Task, outs: dict[str, str], n_classes: int) -> list:
    """Name the estimator's outputs as the task's contract does (`ir.tasks`): the main output,
    its arg-max/arg-min index (first extremum, River's max/min) and any optional outputs."""
    main = outs[spec.kind]
    if spec.per_class:
        if not g.rename(main, spec.output):
            g.nodes.append(helper.make_node("Identity", [main], [spec.output],
                                            name=f"n_{spec.output}"))
        op = "ArgMax" if spec.index == "argmax" else "ArgMin"
        g.nodes.append(helper.make_node(op, [spec.output], [spec.index_output], axis=1,
                                        keepdims=0, select_last_index=0,
                                        name=f"n_{spec.index_output}"))
        outputs = [helper.make_tensor_value_info(spec.index_output, INT64, ["N"]),
                   helper.make_tensor_value_info(spec.output, DOUBLE, ["N", n_classes])]
    else:
        g.nodes.append(helper.make_node("Reshape", [main, g.const([-1], np.int64)],
                                        [spec.output], name=f"n_{spec.output}"))
        outputs = [helper.make_tensor_value_info(spec.output, DOUBLE, ["N"])]
    for name in spec.optional:
        if name in outs:
            g.nodes.append(helper.make_node("Cast", [outs[name]], [name], to=TensorProto.INT64,
                                            name=f"n_{name}"))
            outputs.append(helper.make_tensor_value_info(name, INT64, ["N"]))
    return outputs


def _target_outputs(g: Graph, spec: Task, outs: dict[str, str], targets: tuple) -> list:
    """A per-target task's outputs (`Task.target_outputs`): each target's columns of the
    estimator's side-by-side output, and for labels their arg-max (first maximum: False on a
    tie, as River's `max` over {False: .., True: ..})."""
    main, outputs = outs[spec.kind], []
    for name, what, start in spec.target_outputs(targets):
        columns = g.gather_columns(main, list(range(start, start + spec.target_width)))
        if what == "label":
            g.nodes.append(helper.make_node("ArgMax", [columns], [name], axis=1, keepdims=0,
                                            select_last_index=0, name=g.name("n_label")))
            outputs.append(helper.make_tensor_value_info(name, INT64, ["N"]))
        elif what == "probabilities":
            if not g.rename(columns, name):
                g.nodes.append(helper.make_node("Identity", [columns], [name],
                                                name=g.name("n_p")))
            outputs.append(helper.make_tensor_value_info(name, DOUBLE, ["N", 2]))
        else:
            g.nodes.append(helper.make_node("Reshape", [columns, g.const([-1], np.int64)],
                                            [name], name=g.name("n_value")))
            outputs.append(helper.make_tensor_value_info(name, DOUBLE, ["N"]))
    return outputs


def _check_opsets(opset: int, ml_opset: int) -> None:
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise InvalidOptionError(f"ONNX option opset={opset}: estuary writes ai.onnx opsets "
                                 f"{MIN_OPSET} to {newest} (this onnx package's newest)")
    if ml_opset < MIN_ML_OPSET:
        raise InvalidOptionError(f"ONNX option ml_opset={ml_opset}: trees need ai.onnx.ml "
                                 f"{MIN_ML_OPSET} or later (float64 TreeEnsemble)")


def write_onnx(snapshot: ir.Snapshot, path: str | Path, opset: int = DEFAULT_OPSET,
               ml_opset: int = DEFAULT_ML_OPSET) -> Path:
    """Write `snapshot` to `path` as ONNX; the bytes depend only on the snapshot and the opsets.

    >>> write_onnx(take_snapshot(model, rows), "model.onnx", opset=17)
    """
    path = Path(path)
    key = _snapshot_key(snapshot, opset, ml_opset)
    held = _WRITTEN.get(id(snapshot.model))
    if key is not None and held is not None and held[0]() is snapshot.model and held[1] == key:
        data = held[2]  # this very IR with equal golden rows and provenance: the same bytes
    else:
        data = to_onnx(snapshot, opset, ml_opset).SerializeToString(deterministic=True)
        if key is not None:
            if len(_WRITTEN) >= MAX_WRITTEN:
                _WRITTEN.clear()
            _WRITTEN[id(snapshot.model)] = (weakref.ref(snapshot.model), key, data)
    write_staged(path, data)
    return path


# id(IR model) → (a weak reference to it, `_snapshot_key`, the bytes written): a re-export of
# an unchanged state (the same IR object, `river_to_ir.reuse`) writes the bytes it wrote,
# without building the graph again (~2 ms for a linear model, ~8 ms for an 861-node tree)
_WRITTEN: dict[int, tuple] = {}
MAX_WRITTEN = 8


def _snapshot_key(snapshot: ir.Snapshot, opset: int, ml_opset: int) -> bytes | None:
    """Everything of the snapshot but its IR, exactly (`ir.exact_key`), with the opsets; None
    when a value is not one marshal writes."""
    p = snapshot.provenance
    return ir.exact_key((snapshot.golden_inputs, snapshot.golden_outputs, snapshot.notes,
                         snapshot.golden_labels,
                         tuple(getattr(p, f.name) for f in dataclasses.fields(p)),
                         opset, ml_opset))


register_format("onnx", suffixes=(".onnx",), writer=write_onnx,
                runtimes=("onnxruntime", "onnxruntime-web-node"), precision="float64",
                extra="core", options={"opset": DEFAULT_OPSET, "ml_opset": DEFAULT_ML_OPSET},
                describe="ONNX (onnxruntime, onnxruntime-web)")
