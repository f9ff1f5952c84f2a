"""Benchmarks of the new tasks (issue 14): export+verify time and ONNX-vs-River speed.

    python benchmarks/tasks.py           # ~1 min on 2 shared cores
    python benchmarks/tasks.py --quick   # fewer repeats

For each model in MODELS (one line per model; the anomaly detectors sit beside the clusterers):
learn its bundled dataset once, then measure, side by side in one run,
- export+verify to ONNX (sample = 200 rows + adversarial probes, verify on every row), and the
  same for PMML, TF.js and Core ML (its spec evaluator off macOS) where the model exports there;
- River's own answer row by row (`predict_one` for a clusterer, `score_one` for a detector) on
  1000 rows, against the ONNX artifact in onnxruntime: the same 1000 dict rows in one call
  (`predict_many` / `score_many`, encoding included) and one row per call.
Medians after a warm-up. Prints a markdown table and writes benchmarks/results_tasks.json. Only
River's bundled datasets are used.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnxruntime
import river
from river import anomaly, cluster, datasets, preprocessing

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import estuary  # noqa: E402

N_SAMPLE = 200
N_PREDICT = 1000
FORMATS = {"onnx": ".onnx", "pmml": ".pmml", "tfjs": ".tfjs", "coreml": ".mlmodel"}

# (name, bundled dataset, factory): clusterers learn without labels
MODELS: list[tuple[str, str, Callable[[], Any]]] = [
    ("KMeans (k=4)", "Phishing", lambda: cluster.KMeans(n_clusters=4, halflife=0.3, seed=7)),
    ("StandardScaler → KMeans (k=5)", "TrumpApproval",
     lambda: preprocessing.StandardScaler() | cluster.KMeans(n_clusters=5, seed=3)),
    ("STREAMKMeans (k=3)", "Phishing", lambda: cluster.STREAMKMeans(
        chunk_size=10, n_clusters=3, halflife=0.3, seed=1, mu=0.5, sigma=0.2)),
    ("DBSTREAM", "Phishing", lambda: cluster.DBSTREAM()),
    # anomaly detectors learn without labels too (Phishing's features lie in [0, 1], HST's
    # default limits; Bananas' do not: MinMaxScaler in front)
    ("HalfSpaceTrees (10 trees, height 8)", "Phishing",
     lambda: anomaly.HalfSpaceTrees(n_trees=10, height=8, window_size=250, seed=42)),
    ("MinMaxScaler → HalfSpaceTrees (25 trees, height 6)", "Bananas",
     lambda: preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(n_trees=25, height=6,
                                                                   window_size=250, seed=1)),
]


def _learn(model: Any, rows: list[tuple[dict, Any]]) -> Any:
    for x, y in rows:
        model.learn_one(dict(x), y) if model._supervised else model.learn_one(dict(x))
    return model


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _calls(model: Any, loaded: Any) -> tuple[Callable, Callable]:
    """River's row-by-row answer and the artifact's batch answer for the model's task."""
    if loaded.metadata.task == "anomaly":
        return model.score_one, loaded.score_many
    return model.predict_one, loaded.predict_many


def bench(name: str, dataset: str, factory: Callable[[], Any], repeats: int,
          tmp: Path) -> dict:
    data = [(dict(x), y) for x, y in getattr(datasets, dataset)()]
    rows = [x for x, _ in data]
    model = _learn(factory(), data)
    out: dict = {"model": name, "dataset": dataset, "rows": len(rows)}
    for fmt, suffix in FORMATS.items():
        path = tmp / f"{len(list(tmp.iterdir()))}{suffix}"
        start = time.perf_counter()
        try:
            estuary.export(model, path, sample=rows[:N_SAMPLE], format=fmt)
        except estuary.UnsupportedModelError:
            out[f"{fmt}_export_verify_s"] = None
            continue
        report = estuary.verify(model, path, rows)
        out[f"{fmt}_export_verify_s"] = round(time.perf_counter() - start, 3)
        out[f"{fmt}_passed"] = report.passed
        out[f"{fmt}_max_abs_diff"] = report.max_abs_diff
        if fmt == "onnx":
            out["onnx_bytes"] = estuary.api.artifact_size(path)
            loaded = estuary.load(path)
    river_call, batch = _calls(model, loaded)
    some = [dict(x) for x in rows[:N_PREDICT]]
    one = loaded.predict_one if loaded.metadata.task != "anomaly" else loaded.score_one
    river_ms = _median_ms(lambda: [river_call(dict(x)) for x in some], repeats)
    batch_ms = _median_ms(lambda: batch(some), repeats)
    single_ms = _median_ms(lambda: [one(x) for x in some], repeats)
    out.update({
        "river_us_per_row": round(river_ms * 1000 / len(some), 2),
        "ort_batch_us_per_row": round(batch_ms * 1000 / len(some), 2),
        "ort_one_row_us": round(single_ms * 1000 / len(some), 2),
        "speedup_batch": round(river_ms / batch_ms, 1),
        "speedup_one_row": round(river_ms / single_ms, 2),
    })
    return out


def table(results: list[dict]) -> str:
    lines = ["| model | rows | export+verify ONNX / PMML / TF.js / Core ML (s) | River µs/row | ORT batch "
             "µs/row | ORT one row µs | speed-up batch / one row |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        ev = " / ".join("refused" if r.get(f"{f}_export_verify_s") is None
                        else f"{r[f'{f}_export_verify_s']:.2f}" for f in FORMATS)
        lines.append(f"| {r['model']} | {r['rows']} | {ev} | {r['river_us_per_row']} | "
                     f"{r['ort_batch_us_per_row']} | {r['ort_one_row_us']} | "
                     f"{r['speedup_batch']}× / {r['speedup_one_row']}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as d:
        results = [bench(n, ds, f, repeats, Path(d)) for n, ds, f in MODELS]
    print(table(results))
    meta = {"date": time.strftime("%Y-%m-%d"), "river": river.__version__,
            "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
            "machine": f"{platform.machine()}, 2 shared cores", "repeats": repeats}
    (HERE / "results_tasks.json").write_text(json.dumps({"meta": meta, "results": results},
                                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
