"""Export + verify with and without what issue 17 reuses, side by side in one run.

    python benchmarks/export_verify.py [--quick]

`estuary.export(model, path, sample=rows[:200])` then `estuary.verify(model, path, rows[:200])`
(adversarial probes added) on Scaler|LogReg Phishing and the 861-node nba Hoeffding tree on
ImageSegments (`run.py`'s cases). "cold" clears, before each round, everything a second export
or a verify reuses: the IR of an unchanged model state (`reuse.ir_of`, with its hash and its
leaf probe rows), the onnxruntime sessions and metadata (keyed by the artifact's bytes), the
golden checks passed (same key), River's answers held for the state (`parity/handoff.py`:
export's and verify's), the probe rows remembered on the IR and their encoded matrix, the
ONNX bytes last written for that IR, the shapes and checker pass held for its graph's
structure, the probe rows held for its schema, the tree's per-leaf naive-Bayes tables
(versioned by leaf weight) and the JSON text and array values of their rows (`ir.serialize`,
`ir.trees.table_array`): one export + verify of a fresh state, which is what a user's
`export` then `verify` costs. "warm" keeps them from the round before (a re-export +
re-verify of an unchanged state: River is asked nothing and no graph is built; the artifact
is still staged, loaded, golden-checked, and the runtime still runs every probe row).
"learned": a copy of the trained model first learns the next `LEARN_EVENTS` events of its
dataset (untimed) and nothing is cleared: the export + verify of each new snapshot of a model
that keeps learning, with the caches as its own last learned round left them (the rounds of
the trained model run with theirs: saved and restored around each round, untimed; before,
each cold round's clearing dropped the learner's too, e.g. a tree's per-leaf tables). It
reuses only what holds across states (the shapes and the checker's
pass of an ONNX graph of the same structure, `converters/onnx/structure.py`; a linear model's
probe rows and their encoded matrix, which follow from its schema and the sample,
`probes.structural_only`; a tree's per-leaf tables of the leaves that did not learn, with
their JSON text and array values, `ir.serialize`, `ir.trees.table_array`); cold and warm
rounds keep the trained model. Rounds cycle
cold/warm/learned; wall clock and CPU time (`thread_time`) medians. Targets: < 5 ms (linear),
< 50 ms (tree).

After each cold and learned round (untimed there) the same state's **floor** is measured: what
the two outside components alone cost on exactly what verify checks, with none of estuary's
steps: River's own answers on the probe rows (`predict_proba_one` / `predict_one` called on
each row of a fresh IR's `probe_rows(ir, sample)`, bare: estuary's reference also copies each
row and builds the matrix), a new onnxruntime session from the artifact's bytes (the options
`runtimes.onnxruntime` uses), and that session's run on those rows' matrix, after a first run
on one row (a new session's first run is 4-170 ms slower for the tree: left out, as the
golden check takes it in export + verify); then the onnx package's serialization of the
artifact's ModelProto (read back from its bytes, untimed) and the file written and renamed over
the last one, as an atomic export must. Their sum is a lower bound of any export + verify that
asks River for every probe row, writes an ONNX file and runs it in onnxruntime; the second
table prints it beside the target.
Writes benchmarks/results_export_verify.json.
"""

from __future__ import annotations

import argparse
import copy
import gc
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from run import CASES, N_SAMPLE, environment, train

import estuary  # after run (coremltools drops sys.path entries)
from estuary.converters import onnx as onnx_format
from estuary.converters.onnx import structure as onnx_structure
from estuary.converters.river_to_ir import reuse, to_ir
from estuary.converters.river_to_ir import tree as tree_ir
from estuary.ir import serialize
from estuary.ir import trees as ir_trees
from estuary.parity import handoff, harness, probes
from estuary.rows import RowEncoder
from estuary.runtimes import base as runtime_base
from estuary.runtimes import onnxruntime as ort_runtime

HERE = Path(__file__).resolve().parent
TARGETS = {"Scaler|LogReg Phishing": 5.0, "HT clf ImageSegments": 50.0}
LEARN_EVENTS = 200  # events a "learned" round's model learns before its export + verify
KINDS = ("cold", "warm", "learned")
FLOOR_PARTS = ("river", "session", "run", "serialize", "write")


def _caches() -> list:
    """Everything a second export or a verify reuses (module docstring)."""
    return [ort_runtime._SESSIONS, ort_runtime._METADATA, runtime_base._GOLDEN_PASSED,
            handoff._HELD, tree_ir._LEAF_TABLES, reuse._LAST, onnx_format._WRITTEN,
            onnx_structure._KNOWN, harness._ENCODED, probes._STRUCTURAL, serialize._FRAGMENTS,
            ir_trees._ROW_ARRAYS]


def _cold() -> None:
    for cache in _caches():
        cache.clear()


def _saved() -> list:
    """A copy of what the caches hold now (weak ones stay weak)."""
    return [c.copy() for c in _caches()]


def _restore(saved: list) -> None:
    """The caches as `_saved` copied them: a learned round sees what the learner's own last
    round left, as a process whose model keeps learning would, not what the cold round of
    the other model cleared (that used to drop the learner's leaf tables too)."""
    for cache, held in zip(_caches(), saved):
        cache.clear()
        if isinstance(cache, list):
            cache.extend(held)
        else:
            cache.update(held)


def floor(subject, path: Path, sample: list) -> dict[str, float]:
    """ms of the outside components alone on this state (module docstring): River's answers on
    the probe rows, a new onnxruntime session of the artifact, its run on their matrix, the
    ModelProto's serialization, the file written and renamed."""
    import onnx
    import onnxruntime as ort

    model_ir = to_ir(subject)
    rows = [dict(p.row) for p in probes.probe_rows(model_ir, sample)]  # copies: River may edit
    X = RowEncoder(model_ir.schema).encode_many(rows)
    answer = (subject.predict_proba_one if model_ir.task == "classification"
              else subject.predict_one)
    data = path.read_bytes()
    options = ort_runtime.session_options()  # as every estuary session
    gc.collect()
    t0 = time.perf_counter()
    for x in rows:  # River alone: no copy of the row, no matrix (estuary's reference adds them)
        try:
            answer(x)
        except Exception:  # River refuses some probes (an overflow): verify records it
            pass
    t1 = time.perf_counter()
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    t2 = time.perf_counter()
    session.run(None, {"input": X[:1]})  # untimed: a new session's first run costs 4-170 ms more
    t2b = time.perf_counter()
    session.run(None, {"input": X})
    t3 = time.perf_counter()
    proto = onnx.load_from_string(data)
    t4 = time.perf_counter()
    proto.SerializeToString()
    t5 = time.perf_counter()
    staged, target = path.with_name(".floor.staged"), path.with_name(".floor.onnx")
    target.write_bytes(data)
    t6 = time.perf_counter()
    with open(staged, "xb") as f:  # a file written in full, renamed over the last one
        f.write(data)
    os.replace(staged, target)
    t7 = time.perf_counter()
    target.unlink()
    return {"river": (t1 - t0) * 1e3, "session": (t2 - t1) * 1e3, "run": (t3 - t2b) * 1e3,
            "serialize": (t5 - t4) * 1e3, "write": (t7 - t6) * 1e3, "rows": len(rows)}


def measure(case, tmp: Path, rounds: int) -> dict:
    model, rows = train(case)
    sample = rows[:N_SAMPLE]
    learner = copy.deepcopy(model)  # keeps learning; cold and warm rounds keep `model` as trained
    paths = {"cold": tmp / "m.onnx", "warm": tmp / "m.onnx", "learned": tmp / "learner.onnx"}
    events = itertools.cycle(list(case.data()))
    times: dict[str, dict[str, list[float]]] = {
        k: {"export": [], "verify": [], "total": [], "cpu": []} for k in KINDS}
    reports, learned_nodes = {}, []
    floors: dict[str, dict[str, list[float]]] = {
        k: {p: [] for p in FLOOR_PARTS} for k in ("cold", "learned")}
    _cold()
    worlds = {"model": _saved(), "learner": _saved()}  # each subject's caches, kept apart
    for i in range(rounds * len(KINDS) + len(KINDS)):
        kind = KINDS[i % len(KINDS)]
        subject = learner if kind == "learned" else model
        _restore(worlds["learner" if kind == "learned" else "model"])
        if kind == "cold":
            _cold()
        elif kind == "learned":
            for x, y in itertools.islice(events, LEARN_EVENTS):
                learner.learn_one(x, y)
            learned_nodes.append(getattr(learner, "n_nodes", None))
        gc.collect()
        c0 = time.thread_time()  # CPU time of this thread: what preemption does not inflate
        t0 = time.perf_counter()
        estuary.export(subject, paths[kind], sample=sample)
        t1 = time.perf_counter()
        reports[kind] = estuary.verify(subject, paths[kind], sample)
        t2 = time.perf_counter()
        c2 = time.thread_time()
        worlds["learner" if kind == "learned" else "model"] = _saved()
        if not reports[kind].passed:
            raise SystemExit(f"{case.name}: parity failed in a {kind} round")
        if i >= len(KINDS):  # the first cycle warms up imports and caches of the interpreter
            times[kind]["export"].append((t1 - t0) * 1e3)
            times[kind]["verify"].append((t2 - t1) * 1e3)
            times[kind]["total"].append((t2 - t0) * 1e3)
            times[kind]["cpu"].append((c2 - c0) * 1e3)
            if kind in floors:
                f = floor(subject, paths[kind], sample)
                for part in FLOOR_PARTS:
                    floors[kind][part].append(f[part])
    med = {k: {p: statistics.median(v) for p, v in d.items()} for k, d in times.items()}
    floor_ms = {k: {p: statistics.median(v) for p, v in d.items()} for k, d in floors.items()}
    return {"name": case.name, "nodes": getattr(model, "n_nodes", None), "ms": med,
            "target_ms": TARGETS[case.name], "parity": reports["cold"].passed,
            "rows": reports["cold"].n_rows, "bytes": paths["cold"].stat().st_size,
            "learn_events": LEARN_EVENTS, "learned_nodes": learned_nodes,
            "learned_rows": reports["learned"].n_rows, "floor_ms": floor_ms}


def table(results: list[dict]) -> str:
    lines = ["| model | nodes | cold export / verify / total ms | warm export / verify / total ms "
             "| learned export / verify / total ms | CPU ms cold / warm / learned "
             "| target (cold / warm / learned) | parity (rows) | artifact bytes |",
             "|---|---:|---|---|---|---|---|---|---:|"]
    for r in results:
        ms = r["ms"]
        met = " / ".join("met" if ms[k]["total"] < r["target_ms"] else "NOT met" for k in KINDS)
        cells = " | ".join(f"{ms[k]['export']:.1f} / {ms[k]['verify']:.1f} / "
                           f"**{ms[k]['total']:.1f}**" for k in KINDS)
        cpu = " / ".join(f"{ms[k]['cpu']:.1f}" for k in KINDS)
        lines.append(f"| {r['name'].replace('|', chr(92) + '|')} | {r['nodes'] or '—'} | "
                     f"{cells} | {cpu} | < {r['target_ms']:.0f} ms: {met} | "
                     f"{'pass' if r['parity'] else 'FAIL'} ({r['rows']}) | {r['bytes']:,} |")
    return "\n".join(lines)


def floor_table(results: list[dict]) -> str:
    """The floor (module docstring) beside the measured total and the target."""
    lines = ["| model | round | River's answers alone | onnxruntime session alone | its run alone "
             "| ONNX serialization | write + rename | floor (sum) | export + verify | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        for kind, f in r["floor_ms"].items():
            total = sum(f[p] for p in FLOOR_PARTS)
            over = "floor over the target" if total >= r["target_ms"] else "floor under the target"
            lines.append(f"| {r['name'].replace('|', chr(92) + '|')} | {kind} | {f['river']:.2f} | "
                         f"{f['session']:.2f} | {f['run']:.2f} | {f['serialize']:.2f} | "
                         f"{f['write']:.2f} | **{total:.2f}** | "
                         f"{r['ms'][kind]['total']:.1f} | < {r['target_ms']:.0f} ms: {over} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results_export_verify.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        results = [measure(c, Path(d), 3 if args.quick else 9) for c in CASES
                   if c.name in TARGETS]
    text = table(results) + "\n\n" + floor_table(results)
    print(text)
    env = environment()
    print(" · ".join(f"{k} {v}" for k, v in env.items()))
    args.out.write_text(json.dumps({"environment": env, "results": results, "markdown": text},
                                   indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
