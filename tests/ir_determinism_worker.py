"""Run by test_ir_deterministic.py in a subprocess with its own PYTHONHASHSEED: freezes the
River states the test learned and pickled (a file the test itself wrote in its tmp dir; nothing
here reads a pickle from a store or the network) as they are, deep-copied, pickled again and
as the online capture copies them (`river_to_ir.capture`: what `online.freeze.complete`
freezes), and writes per case and copy: the IR's content hash and class order, River's own
order of the classes set where River's tie-break follows it, the golden vectors River answered
here, and the SHA-256 of the ONNX bytes written with this process's golden vectors and with the
test's.

    python tests/ir_determinism_worker.py STATES.pkl GOLDEN.json OUT.json
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import pickle
import sys
import tempfile
from pathlib import Path

from catalog import river_objects
from river import forest, neighbors, tree

from estuary import ir
from estuary.converters.registry import FORMATS
from estuary.converters.river_to_ir import to_ir
from estuary.converters.river_to_ir.base import plain
from estuary.converters.river_to_ir.capture import Capturer, materialize
from estuary.snapshot import take_snapshot

# River's label breaks ties in the iteration order of a `classes` set, which for str classes is
# PYTHONHASHSEED's: the IR keeps that order (River's answer in this process), see the test
RIVER_ORDER = {neighbors.KNNClassifier: "classes", forest.AMFClassifier: "_classes",
               tree.HoeffdingAdaptiveTreeClassifier: "classes"}


def river_class_order(model: object) -> list | None:
    for o in river_objects(model):
        attr = RIVER_ORDER.get(type(o))
        if attr is not None:
            return [plain(c) for c in getattr(o, attr)]
    return None


def onnx_sha(snap: ir.Snapshot, path: Path) -> str:
    FORMATS["onnx"].write(snap, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def freeze(model: object, sample: list[dict], tmp: Path, golden: dict | None = None) -> dict:
    """The IR and ONNX facts of `model`'s state; `golden`: the test's golden answers."""
    model_ir = to_ir(model)
    snap = take_snapshot(model, [dict(r) for r in sample], model_ir=model_ir)
    theirs = snap if golden is None else dataclasses.replace(
        snap, golden_outputs=tuple(map(tuple, golden["outputs"])),
        golden_labels=tuple(golden["labels"]))
    return {"ir": ir.content_hash(model_ir), "classes": list(model_ir.classes),
            "river_order": river_class_order(model),
            "golden_inputs": snap.golden_inputs, "golden_outputs": snap.golden_outputs,
            "golden_labels": snap.golden_labels,
            "onnx_own_golden": onnx_sha(snap, tmp / "own.onnx"),
            "onnx_test_golden": onnx_sha(theirs, tmp / "test.onnx")}


def main(states_path: str, golden_path: str, out_path: str) -> None:
    states = pickle.loads(Path(states_path).read_bytes())
    golden = json.loads(Path(golden_path).read_text())
    tmp = Path(tempfile.mkdtemp())
    out = {}
    for cid, (model, sample) in states.items():
        copies = {"as loaded": model, "deepcopy": copy.deepcopy(model),
                  "pickle": pickle.loads(pickle.dumps(model)),
                  "online capture": materialize(Capturer().capture(model))}
        out[cid] = {name: freeze(m, sample, tmp, golden[cid]) for name, m in copies.items()}
    Path(out_path).write_text(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
