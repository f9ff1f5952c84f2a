"""IR Snapshot → ONNX model (ai.onnx opset 21 + ai.onnx.ml opset 5, IR version 10).

Artifact contract: input `input` double [N, F] in schema column order (NaN = missing);
classifiers output `label` int64 [N] (index into the classes in the metadata) and
`probabilities` double [N, C]; regressors output `value` double [N]. Tensors only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from ... import ir
from ...ir.artifact import METADATA_KEY, ArtifactMetadata
from ..registry import Format, emitter_for, register_format
from . import ensembles, features, linear, naive_bayes, trees  # noqa: F401  (registration)
from .graph import DOUBLE, INT64, ML_DOMAIN, Graph
from .transforms import emit_transform

OPSET = 21
ML_OPSET = 5
IR_VERSION = 10
INPUT = "input"


def to_onnx(snapshot: ir.Snapshot) -> onnx.ModelProto:
    """Build the ONNX model of a snapshot; `onnx.checker` passes with full_check."""
    model = snapshot.model
    g = Graph()
    x, columns = emit_transform(model.transform, g, INPUT, model.schema.columns)
    pos = {c: i for i, c in enumerate(columns)}
    wanted = model.estimator.columns
    if wanted != columns:
        x = g.gather_columns(x, [pos[c] for c in wanted])
    outs = emitter_for("onnx", model.estimator)(model.estimator, g, x)
    n_features = len(model.schema.columns)
    if model.task == "regression":
        g.nodes.append(helper.make_node("Reshape", [outs["value"], g.const([-1], np.int64)],
                                        ["value"], name="n_value"))
        outputs = [helper.make_tensor_value_info("value", DOUBLE, ["N"])]
    else:
        g.nodes.append(helper.make_node("Identity", [outs["probabilities"]], ["probabilities"],
                                        name="n_probabilities"))
        g.nodes.append(helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1,
                                        keepdims=0, select_last_index=0, name="n_label"))
        outputs = [
            helper.make_tensor_value_info("label", INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", DOUBLE, ["N", len(model.classes)]),
        ]
    graph = helper.make_graph(
        g.nodes, "estuary", [helper.make_tensor_value_info(INPUT, DOUBLE, ["N", n_features])],
        outputs, initializer=g.initializers,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(ML_DOMAIN, ML_OPSET)],
        ir_version=IR_VERSION,
        producer_name="estuary",
        producer_version=snapshot.provenance.estuary_version,
        doc_string=f"{model.source} exported by estuary",
    )
    meta = ArtifactMetadata.from_snapshot(snapshot)
    helper.set_model_props(proto, {METADATA_KEY: meta.to_json(), "estuary.ir_hash": meta.ir_hash})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def write_onnx(snapshot: ir.Snapshot, path: str | Path) -> Path:
    """Write `snapshot` to `path` as ONNX; the bytes depend only on the snapshot."""
    path = Path(path)
    path.write_bytes(to_onnx(snapshot).SerializeToString(deterministic=True))
    return path


register_format(Format("onnx", ".onnx", write_onnx, "ONNX (onnxruntime, onnxruntime-web)"))
