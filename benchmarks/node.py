"""JavaScript runtimes under Node vs River: first prediction (ms) and one-row p50/p99 (µs).

    python benchmarks/node.py [--n 2000]

For each model: TF.js (@tensorflow/tfjs, cpu backend), ONNX (onnxruntime-web, wasm, one
thread) and ONNX / ONNX Runtime Mobile's .ort in onnxruntime-node (native) through estuary's JS client library (js/src/estuary.js: object → tensor → model →
{label, probabilities}), timed inside Node so the Python↔Node pipe is not counted; River's
`predict_proba_one` timed in Python. "first" is a cold start: a new Node process imports the
runtime, loads the artifact, checks its golden vectors and answers one row.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import learned  # noqa: E402

import estuary  # noqa: E402
from estuary.converters.tfjs import write_tfjs  # noqa: E402
from estuary.runtimes.node import request, runner  # noqa: E402
from estuary.snapshot import take_snapshot  # noqa: E402

CASES = ["scaler|logreg", "scaler|softmax", "gaussian_nb-image_segments", "htc_nba_phishing",
         "htc_mc_phishing", "arf10_phishing"]


def river_us(model, row: dict, n: int) -> tuple[float, float]:
    times = np.empty(n)
    predict = model.predict_proba_one
    for i in range(n):
        t0 = time.perf_counter()
        predict(row)
        times[i] = time.perf_counter() - t0
    return float(np.percentile(times, 50) * 1e6), float(np.percentile(times, 99) * 1e6)


def cold_first_ms(kind: str, path: Path, row: dict) -> float:
    runner().close()
    t0 = time.perf_counter()
    handle = request("load", kind=kind, path=str(path), check=True)["model"]
    request("predict", model=handle, rows=[row])
    return (time.perf_counter() - t0) * 1e3


def bench_rounds(handle: int, row: dict, n: int) -> tuple[dict, dict]:
    """One-row latency inside Node as the page measures it: 4 rounds of 200 warm-up calls and
    `n` timed ones; (last round, first round): V8 tiers the JIT and the wasm up meanwhile."""
    rounds = [request("bench", model=handle, row=row, n=n, warm=200) for _ in range(4)]
    return rounds[-1], rounds[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'model':28s} {'runtime':30s} {'first ms':>9s} {'p50 µs':>8s} {'p99 µs':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            model, rows = learned(case)
            row = rows[0]
            snap = take_snapshot(model, rows[:20])
            p50, p99 = river_us(model, row, args.n)
            print(f"{case:28s} {'River predict_proba_one':30s} {'':>9s} {p50:8.1f} {p99:8.1f}")
            onnx = estuary.write_snapshot(snap, Path(tmp) / f"{len(rows)}.onnx").path
            ort = estuary.write_snapshot(snap, Path(tmp) / f"{len(rows)}.ort").path
            artifacts = [("onnx", "onnxruntime-web (Node wasm)", onnx),
                         ("onnx-node", "onnxruntime-node .onnx", onnx),
                         ("onnx-node", "onnxruntime-node .ort", ort)]
            try:
                artifacts.append(("tfjs", "@tensorflow/tfjs (Node cpu)",
                                  write_tfjs(snap, Path(tmp) / f"{case}.tfjs".replace("|", "_"))))
            except estuary.UnsupportedModelError:
                print(f"{case:28s} {'@tensorflow/tfjs (Node cpu)':30s} refused (ensembles)")
            for kind, name, path in artifacts:
                first = cold_first_ms(kind, path, row)
                handle = request("load", kind=kind, path=str(path), check=True)["model"]
                bench, early = bench_rounds(handle, row, args.n)
                print(f"{case:28s} {name:30s} {first:9.0f} {bench['p50_us']:8.1f} "
                      f"{bench['p99_us']:8.1f}   early {early['p50_us']:.1f}/{early['p99_us']:.0f}")
    runner().close()


if __name__ == "__main__":
    main()
