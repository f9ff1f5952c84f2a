"""IR Snapshot → TF.js graph model: a `.tfjs` directory holding model.json + weight shards.

Written from the documented format (model.json with `format: "graph-model"`, a GraphDef in
`modelTopology`, `weightsManifest` naming little-endian binary shards); tensorflow and
tensorflowjs are never imported. TF.js computes in float32, so the metadata says
`precision: "float32"`. Artifact contract: input `input` float32 [N, F] in schema column order
(NaN = missing); classifiers output `probabilities` [N, C] and `label` int32 [N] (index into
the classes); regressors output `value` [N]. `userDefinedMetadata.estuary` is the
`ArtifactMetadata` JSON string, byte for byte.

The graphs are written for TF.js's cpu backend (what estuary's client and page use): its MatMul
and Sum add up in double, which keeps a linear model's decision value as exact as float64 (see
linear.py). Other backends (wasm, WebGL) add in float32: the outputs stay within the float32
tolerance the golden check uses, but a label can differ from River's where z is within float32
rounding of 0.

Trees route on a second input, `keys` float32 [N, 4F + 1]: each input as the three whole-number
words of its float64 order key (order_keys.py), which the client writes from the float64 row. A
float32 threshold would route rows within float32 rounding of a split differently from River;
the keys route exactly (tree_routing.py); ensembles combine their members as River does
(ensembles.py). Where the input's own float32 rounding would be magnified past the 1e-5 float32
tolerance, graphs read `keys` for the float64 value too (exact_inputs.py): naive-Bayes and
linear tree leaves, centre distances, linear regressors.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np

from ... import ir
from ...errors import ArtifactError, UnsupportedModelError
from ...ir.artifact import METADATA_KEY, ArtifactMetadata
from ...ir.features import Polynomial
from ...ir.tasks import TASKS, Task
from ..registry import register_format, register_refusal
from . import (  # noqa: F401  (registration)
    anomaly,
    bernoulli,
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
    order_keys,
    probit,
    projection,
    reco,
    trees,
    votes,
)
from .graph import Graph
from .transforms import FORMAT, emit_model
from .trees import KEYS

INPUT = "input"
MODEL_JSON = "model.json"
SHARD_BYTES = 4 * 1024 * 1024  # TF.js's converter default
PRODUCER = "estuary"


def build_graph(model: ir.Model) -> tuple[Graph, list[str]]:
    """The GraphDef of `model` and its output node names."""
    g = Graph()
    outs = emit_model(model, g, g.placeholder(INPUT, len(model.schema.columns)))
    spec = TASKS[model.task]
    if spec.per_target:  # label.<t>, probabilities.<t> / value.<t> (`ir.tasks`)
        return g, _target_outputs(g, spec, outs[spec.kind], model.classes)
    if not spec.per_class:  # value, score, forecast: [N] under the task's name (`ir.tasks`)
        g.op("Reshape", outs[spec.kind], g.const([-1], np.int32, "shape"), name=spec.output)
        return g, [spec.output]
    if model.task == "cluster":  # TF.js's ArgMin keeps the first minimum, as River's `min`
        if "cluster" not in outs:
            outs["cluster"] = g.op("ArgMin", outs["distances"], g.const(1, np.int32, "axis"))
        for name in ("distances", "cluster"):
            _name_output(g, outs[name], name)
        return g, ["distances", "cluster"]
    if "label" not in outs:
        outs["label"] = g.op("ArgMax", outs["probabilities"], g.const(1, np.int32, "axis"))
    for name in ("probabilities", "label"):
        _name_output(g, outs[name], name)
    return g, ["probabilities", "label"]


TARGET_NAME = re.compile(r"[A-Za-z0-9_./-]+")


def _target_outputs(g: Graph, spec: Task, main: str, targets: tuple) -> list[str]:
    """Each target's columns of the side-by-side main output under its contract name; a label
    is the ArgMax of the target's two probabilities (TF.js keeps the first maximum: False on a
    tie, as River's `max`)."""
    names = []
    for name, what, start in spec.target_outputs(targets):
        if not TARGET_NAME.fullmatch(name):
            raise UnsupportedModelError(name, [], reason="TF.js node names allow letters, "
                                        "digits and _ . - / only: rename the target")
        part = g.gather_columns(main, list(range(start, start + spec.target_width)))
        if what == "label":
            g.op("ArgMax", part, g.const(1, np.int32, "axis"), name=name)
        elif what == "probabilities":
            g.op("Identity", part, name=name)
        else:
            g.op("Reshape", part, g.const([-1], np.int32, "shape"), name=name)
        names.append(name)
    return names


def _name_output(g: Graph, node: str, name: str) -> None:
    """The output `name` is `node` itself unless `node` is the input or a Const."""
    ops = {n["name"]: n["op"] for n in g.nodes}
    if node == name:
        return
    if name in ops:
        raise AssertionError(f"graph node name {name!r} is taken: it is reserved for an output")
    if ops[node] in ("Placeholder", "Const"):
        g.op("Identity", node, name=name)
    else:
        g.rename(node, name)


def _shards(weights: list[tuple[str, np.ndarray]]) -> tuple[list[dict], list[bytes]]:
    specs = [{"name": name, "shape": list(a.shape), "dtype": _weight_dtype(a)}
             for name, a in weights]
    data = b"".join(a.astype(a.dtype.newbyteorder("<")).tobytes() for _, a in weights)
    chunks = [data[i:i + SHARD_BYTES] for i in range(0, len(data), SHARD_BYTES)] or [b""]
    return specs, chunks


def _weight_dtype(a: np.ndarray) -> str:
    return {"float32": "float32", "int32": "int32", "bool": "bool"}[a.dtype.name]


def to_tfjs(snapshot: ir.Snapshot) -> dict[str, bytes]:
    """File name → bytes of the `.tfjs` directory; the bytes depend only on the snapshot."""
    model = snapshot.model
    g, outputs = build_graph(model)
    specs, chunks = _shards(g.weights)
    paths = [f"group1-shard{i + 1}of{len(chunks)}.bin" for i in range(len(chunks))]
    meta = ArtifactMetadata.from_snapshot(snapshot, precision="float32")
    n_features = len(model.schema.columns)
    doc = {
        "format": "graph-model",
        "generatedBy": f"{PRODUCER} {snapshot.provenance.estuary_version}",
        "convertedBy": f"{PRODUCER} {snapshot.provenance.estuary_version}",
        "modelTopology": {"node": g.nodes, "library": {}, "versions": {"producer": 1}},
        "weightsManifest": [{"paths": paths, "weights": specs}],
        "signature": {
            "inputs": _inputs(g, n_features),
            "outputs": {f"{o}:0": _tensor_info(o, []) for o in outputs},
        },
        "userDefinedMetadata": {METADATA_KEY: meta.to_json(), "estuary.ir_hash": meta.ir_hash},
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return {MODEL_JSON: text.encode(), **dict(zip(paths, chunks))}


def _inputs(g: Graph, n_features: int) -> dict:
    placeholders = {n["name"] for n in g.nodes if n["op"] == "Placeholder"}
    out = {f"{INPUT}:0": _tensor_info(INPUT, [-1, n_features])}
    if KEYS in placeholders:
        out[f"{KEYS}:0"] = _tensor_info(KEYS, [-1, order_keys.width(n_features)])
    return out


def _tensor_info(name: str, shape: list[int], dtype: str = "DT_FLOAT") -> dict:
    info: dict = {"name": f"{name}:0"}
    if shape:
        info["dtype"] = dtype
        info["tensorShape"] = {"dim": [{"size": str(d)} for d in shape]}
    return info


def write_tfjs(snapshot: ir.Snapshot, path: str | Path) -> Path:
    """Write `snapshot` as a `.tfjs` directory at `path` (an empty file there, as
    `tempfile.mkstemp` leaves, or a previous estuary `.tfjs` directory, is replaced)."""
    files = to_tfjs(snapshot)  # everything is built before anything on disk changes
    path = Path(path)
    if path.is_dir():
        if not (path / MODEL_JSON).is_file():
            raise ArtifactError(f"{path} is a directory that is not a TF.js model: not replacing it")
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    path.mkdir()
    for name, data in files.items():
        (path / name).write_bytes(data)
    return path


FLOAT32_PRODUCTS = ("float32 products overflow on River's extreme rows (inf · 0 = NaN); "
                    "export to ONNX or PMML (float64)")

register_refusal(FORMAT, Polynomial, FLOAT32_PRODUCTS)
FORMAT_ENTRY = register_format(
    FORMAT, suffixes=(".tfjs",), writer=write_tfjs, runtimes=("tfjs-node",), precision="float32",
    extra="web", describe="TF.js graph model, float32 (@tensorflow/tfjs in the browser and Node)")
