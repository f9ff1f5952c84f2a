"""Export + verify with and without what issue 17 reuses, side by side in one run.

    python benchmarks/export_verify.py [--quick]

`estuary.export(model, path, sample=rows[:200])` then `estuary.verify(model, path, rows[:200])`
(adversarial probes added) on Scaler|LogReg Phishing and the 861-node nba Hoeffding tree on
ImageSegments (`run.py`'s cases). "cold" clears, before each round, everything a second export
or a verify reuses: the IR of an unchanged model state (`reuse.ir_of`, with its hash and its
leaf probe rows), the onnxruntime sessions and metadata (keyed by the artifact's bytes), the
golden checks passed (same key), River's answers held for the state (`parity/handoff.py`:
export's and verify's), the probe rows remembered on the IR and their encoded matrix, the
ONNX bytes last written for that IR and the tree's per-leaf naive-Bayes tables (versioned by
leaf weight): one export + verify of a fresh state, which is what a user's `export` then
`verify` costs. "warm" keeps them
from the round before (a re-export + re-verify of an unchanged state: River is asked nothing
and no graph is built; the artifact is still staged, loaded, golden-checked, and the runtime
still runs every probe row). Rounds alternate cold/warm. Targets: < 5 ms (linear), < 50 ms
(tree).
Writes benchmarks/results_export_verify.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from pathlib import Path

from run import CASES, N_SAMPLE, environment, train

import estuary  # after run (coremltools drops sys.path entries)
from estuary.converters import onnx as onnx_format
from estuary.converters.river_to_ir import reuse
from estuary.converters.river_to_ir import tree as tree_ir
from estuary.parity import handoff, harness
from estuary.runtimes import base as runtime_base
from estuary.runtimes import onnxruntime as ort_runtime

HERE = Path(__file__).resolve().parent
TARGETS = {"Scaler|LogReg Phishing": 5.0, "HT clf ImageSegments": 50.0}


def _cold() -> None:
    ort_runtime._SESSIONS.clear()
    ort_runtime._METADATA.clear()
    runtime_base._GOLDEN_PASSED.clear()
    handoff.forget()
    tree_ir._LEAF_TABLES.clear()
    reuse._LAST.clear()
    onnx_format._WRITTEN.clear()
    harness._ENCODED.clear()


def measure(case, tmp: Path, rounds: int) -> dict:
    model, rows = train(case)
    sample = rows[:N_SAMPLE]
    path = tmp / "m.onnx"
    times: dict[str, dict[str, list[float]]] = {
        k: {"export": [], "verify": [], "total": []} for k in ("cold", "warm")}
    report = None
    for i in range(rounds * 2 + 2):
        kind = "cold" if i % 2 == 0 else "warm"
        if kind == "cold":
            _cold()
        gc.collect()
        t0 = time.perf_counter()
        estuary.export(model, path, sample=sample)
        t1 = time.perf_counter()
        report = estuary.verify(model, path, sample)
        t2 = time.perf_counter()
        if i >= 2:  # the first pair warms up imports and caches of the interpreter
            times[kind]["export"].append((t1 - t0) * 1e3)
            times[kind]["verify"].append((t2 - t1) * 1e3)
            times[kind]["total"].append((t2 - t0) * 1e3)
    med = {k: {p: statistics.median(v) for p, v in d.items()} for k, d in times.items()}
    return {"name": case.name, "nodes": getattr(model, "n_nodes", None), "ms": med,
            "target_ms": TARGETS[case.name], "parity": report.passed, "rows": report.n_rows,
            "bytes": path.stat().st_size}


def table(results: list[dict]) -> str:
    lines = ["| model | nodes | cold export / verify / total ms | warm export / verify / total ms "
             "| cold ÷ warm | target | parity (rows) | artifact bytes |",
             "|---|---:|---|---|---:|---|---|---:|"]
    for r in results:
        c, w = r["ms"]["cold"], r["ms"]["warm"]
        met = "met" if w["total"] < r["target_ms"] else "NOT met"
        lines.append(f"| {r['name'].replace('|', chr(92) + '|')} | {r['nodes'] or '—'} | "
                     f"{c['export']:.1f} / {c['verify']:.1f} / {c['total']:.1f} | "
                     f"{w['export']:.1f} / {w['verify']:.1f} / **{w['total']:.1f}** | "
                     f"{c['total'] / w['total']:.2f}× | < {r['target_ms']:.0f} ms: {met} | "
                     f"{'pass' if r['parity'] else 'FAIL'} ({r['rows']}) | {r['bytes']:,} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results_export_verify.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        results = [measure(c, Path(d), 3 if args.quick else 9) for c in CASES
                   if c.name in TARGETS]
    text = table(results)
    print(text)
    env = environment()
    print(" · ".join(f"{k} {v}" for k, v in env.items()))
    args.out.write_text(json.dumps({"environment": env, "results": results, "markdown": text},
                                   indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
