"""scikit-learn → ONNX through skl2onnx, wrapped to estuary's artifact contract.

skl2onnx builds the compute graph; estuary then (1) puts a double `input` [N, F] in front
(cast to float for tree models: skl2onnx's double trees do not load in onnxruntime 1.32, and
scikit-learn itself compares tree thresholds on float32 inputs), (2) zeroes missing one-hot
columns (scikit-learn's OneHotEncoder(handle_unknown="ignore") gives zeros for them), (3) maps
outputs to `label` (index into the classes) + `probabilities` double, or `value` double [N],
(4) sets `nodes_missing_value_tracks_true` from each fitted tree's `missing_go_to_left`, which
skl2onnx 1.20 leaves out (NaN would take the wrong branch), and (5) embeds the metadata.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import EstuaryError, UnsupportedModelError
from ..ir.artifact import METADATA_KEY, ArtifactMetadata
from .model import SklearnModel, supported

OPSET = {"": 21, "ai.onnx.ml": 3}
INPUT = "input"
SK_INPUT = "sk_input"


def precision(sk: SklearnModel) -> str:
    return "float32" if sk.is_tree else "float64"


def convert(sk: SklearnModel, meta: ArtifactMetadata) -> onnx.ModelProto:
    """The ONNX model; `onnx.checker` passes on it."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = len(sk.schema.columns)
    tensor_type = FloatTensorType if sk.is_tree else DoubleTensorType
    options = {id(sk.final): {"zipmap": False}} if sk.task == "classification" else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proto = to_onnx(sk.flat, initial_types=[(SK_INPUT, tensor_type([None, n]))],
                            options=options, target_opset=OPSET)
    except Exception as e:  # skl2onnx raises many types for what it cannot convert
        raise UnsupportedModelError(sk.original, supported(),
                                    f"skl2onnx: {type(e).__name__}: {str(e)[:200]}") from e
    _set_missing_routes(proto.graph, sk)
    _wrap(proto.graph, sk, n, float_input=sk.is_tree)
    proto.producer_name = "estuary (skl2onnx)"
    del proto.metadata_props[:]
    proto.metadata_props.append(onnx.StringStringEntryProto(key=METADATA_KEY,
                                                            value=meta.to_json()))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def tree_list(final: Any) -> list:
    """The fitted `tree_` objects in the order converters enumerate them."""
    if hasattr(final, "tree_"):
        return [final.tree_]
    return [e.tree_ for e in np.asarray(final.estimators_, dtype=object).ravel()]


def _set_missing_routes(graph: onnx.GraphProto, sk: SklearnModel) -> None:
    if not sk.is_tree:
        return
    trees = tree_list(sk.final)
    ensembles = [nd for nd in graph.node if nd.op_type.startswith("TreeEnsemble")]
    if len(ensembles) != 1:
        raise EstuaryError(f"expected one TreeEnsemble node from skl2onnx, got {len(ensembles)}")
    node = ensembles[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    tree_ids, node_ids = attrs["nodes_treeids"], attrs["nodes_nodeids"]
    features, modes = attrs["nodes_featureids"], attrs["nodes_modes"]
    if len(set(tree_ids)) != len(trees):
        raise EstuaryError(f"skl2onnx wrote {len(set(tree_ids))} trees for {len(trees)} fitted")
    tracks = []
    for t, k, f, mode in zip(tree_ids, node_ids, features, modes):
        tree = trees[t]
        leaf = mode == b"LEAF"
        if leaf != (tree.children_left[k] < 0) or (not leaf and tree.feature[k] != f):
            raise EstuaryError(f"skl2onnx node ({t}, {k}) does not match the fitted tree: "
                               "cannot set its missing-value route")
        tracks.append(0 if leaf else int(tree.missing_go_to_left[k]))  # true branch = left
    keep = [a for a in node.attribute if a.name != "nodes_missing_value_tracks_true"]
    del node.attribute[:]
    node.attribute.extend(keep + [helper.make_attribute("nodes_missing_value_tracks_true", tracks)])


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    for nd in graph.node:
        nd.input[:] = [new if i == old else i for i in nd.input]
        nd.output[:] = [new if o == old else o for o in nd.output]


def _wrap(graph: onnx.GraphProto, sk: SklearnModel, n: int, float_input: bool) -> None:
    front, back, inits = [], [], []
    x = INPUT
    onehot = [i for i, f in enumerate(_columns_kind(sk)) if f]
    if onehot:
        mask = np.zeros((1, n), dtype=bool)
        mask[0, onehot] = True
        inits += [numpy_helper.from_array(mask, "estuary_onehot_mask"),
                  numpy_helper.from_array(np.zeros(1), "estuary_zero")]
        front += [helper.make_node("IsNaN", [x], ["estuary_input_nan"]),
                  helper.make_node("And", ["estuary_input_nan", "estuary_onehot_mask"], ["estuary_onehot_nan"]),
                  helper.make_node("Where", ["estuary_onehot_nan", "estuary_zero", x], ["estuary_input_clean"])]
        x = "estuary_input_clean"
    if float_input:
        front.append(helper.make_node("Cast", [x], [SK_INPUT], to=TensorProto.FLOAT))
    else:
        front.append(helper.make_node("Identity", [x], [SK_INPUT]))
    raw_outputs = [o.name for o in graph.output]
    for name in raw_outputs:
        _rename(graph, name, f"sk_{name}")
    if sk.task == "classification":
        label, proba = (f"sk_{name}" for name in raw_outputs[:2])
        classes = np.asarray(sk.classes)
        classes = classes.astype(object) if classes.dtype.kind in "UO" else classes.astype(np.int64)
        inits += [numpy_helper.from_array(classes.reshape(1, -1), "estuary_classes"),
                  numpy_helper.from_array(np.array([1], np.int64), "estuary_axis1")]
        back += [helper.make_node("Cast", [proba], ["probabilities"], to=TensorProto.DOUBLE),
                 helper.make_node("Unsqueeze", [label, "estuary_axis1"], ["estuary_label_column"]),
                 helper.make_node("Equal", ["estuary_label_column", "estuary_classes"], ["estuary_label_hits"]),
                 helper.make_node("Cast", ["estuary_label_hits"], ["estuary_label_hits_int"], to=TensorProto.INT32),
                 helper.make_node("ArgMax", ["estuary_label_hits_int"], ["label"], axis=1, keepdims=0)]
        outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
                   helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE,
                                                 ["N", len(sk.classes)])]
    else:
        inits.append(numpy_helper.from_array(np.array([-1], np.int64), "estuary_flat_shape"))
        back += [helper.make_node("Cast", [f"sk_{raw_outputs[0]}"], ["estuary_value_2d"],
                                  to=TensorProto.DOUBLE),
                 helper.make_node("Reshape", ["estuary_value_2d", "estuary_flat_shape"], ["value"])]
        outputs = [helper.make_tensor_value_info("value", TensorProto.DOUBLE, ["N"])]
    nodes = front + list(graph.node) + back
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(inits)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(INPUT, TensorProto.DOUBLE, ["N", n]))
    del graph.output[:]
    graph.output.extend(outputs)


def _columns_kind(sk: SklearnModel) -> list[bool]:
    """Per input column: is it a one-hot column of a categorical feature?"""
    return [f.kind == "categorical" for f in sk.schema.features for _ in f.columns]


def converter_name() -> str:
    from .metadata import version

    return f"skl2onnx {version('skl2onnx')}"


def write(sk: SklearnModel, meta: ArtifactMetadata, path) -> None:
    with open(path, "wb") as f:
        f.write(convert(sk, meta).SerializeToString(deterministic=True))
