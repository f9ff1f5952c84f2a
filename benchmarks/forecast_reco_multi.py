"""Benchmarks of the forecasters, recommenders and multi-output models (issue 14): export+verify
time per format and ONNX-vs-River speed, side by side in one run.

    python benchmarks/forecast_reco_multi.py           # ~1-2 min on 2 shared cores
    python benchmarks/forecast_reco_multi.py --quick   # fewer repeats

For each model: learn its catalogue dataset once (River's AirlinePassengers; estuary.streams'
seeded Ratings, MultiLabelPhishing), then
- export+verify to each format it exports to (sample 50 rows, verify on the rows + probes);
- River's own answer against the ONNX artifact in onnxruntime on the same work: a forecaster's
  `forecast(36)` (one call each side; the artifact computes 36 rows), a recommender's 1000
  (user, item) scores (`predict_one` row by row vs one `predict_many`), a chain's 1000 rows
  (`predict_proba_one` row by row vs one `outputs_matrix` call, encoding included).
Medians after a warm-up. Prints a markdown table and writes benchmarks/results_forecast_reco_multi.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import onnxruntime
import river

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import estuary  # noqa: E402
from estuary.converters.registry import FORMATS  # noqa: E402

N_ROWS = 1000
HORIZON = 36
# (catalogue case, formats it exports to)
CASES = [
    ("holt-winters(mul)", ("onnx", "pmml", "tfjs", "coreml")),
    ("snarimax(p=12,d=1,q=12,m=12,sd=1)", ("onnx", "pmml", "tfjs", "coreml")),
    ("reco-biased-mf", ("onnx", "pmml", "tfjs", "coreml")),
    ("classifier-chain(scaler|logreg)", ("onnx", "pmml", "tfjs", "coreml")),
]


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def river_and_onnx(model: Any, loaded: Any, task: str, rows: list[dict]) -> tuple:
    """(River's call, the ONNX artifact's call) doing the same work."""
    if task == "forecast":
        return (lambda: model.forecast(HORIZON)), (lambda: loaded.forecast(HORIZON))
    if task == "reco":
        pairs = [dict(r) for r in rows[:N_ROWS]]
        return ((lambda: [model.predict_one(p["user"], p["item"]) for p in pairs]),
                (lambda: loaded.predict_many(pairs)))
    sample = rows[:N_ROWS]
    return ((lambda: [model.predict_proba_one(x) for x in sample]),
            (lambda: loaded.outputs_matrix(loaded.encoder.encode_many(sample))))


def measure(case_id: str, formats: tuple[str, ...], repeats: int, tmp: Path) -> dict:
    from conftest import learned

    model, rows = learned(case_id)
    out: dict[str, Any] = {"case": case_id, "export_verify_s": {}}
    for fmt in formats:
        path = tmp / f"{case_id.replace('|', '_')}{FORMATS[fmt].suffix}"

        def run(fmt=fmt, path=path) -> None:
            estuary.export(model, path, sample=rows[:50], format=fmt)
            assert estuary.verify(model, path, rows[:200]).passed

        out["export_verify_s"][fmt] = median_time(run, max(1, repeats // 3))
    loaded = estuary.load(tmp / f"{case_id.replace('|', '_')}.onnx")
    river_fn, onnx_fn = river_and_onnx(model, loaded, loaded.metadata.task, rows)
    out["river_s"] = median_time(river_fn, repeats)
    out["onnx_s"] = median_time(onnx_fn, repeats)
    out["task"] = loaded.metadata.task
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 9
    tmp = Path(tempfile.mkdtemp(prefix="estuary-bench-"))
    results = [measure(c, f, repeats, tmp) for c, f in CASES]
    shown = ("onnx", "pmml", "tfjs", "coreml")
    print(f"| model | task | export+verify {' / '.join(shown)} (s) | River (ms) | ONNX (ms) | "
          "River / ONNX |")
    print("|---|---|---|---|---|---|")
    for r in results:
        ev = " / ".join(f"{r['export_verify_s'][f]:.2f}" if f in r["export_verify_s"] else "-"
                        for f in shown)
        case = r["case"].replace("|", "\\|")  # a markdown cell
        print(f"| {case} | {r['task']} | {ev} | {1e3 * r['river_s']:.2f} | "
              f"{1e3 * r['onnx_s']:.2f} | {r['river_s'] / r['onnx_s']:.1f}x |")
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
            "python": platform.python_version(), "river": river.__version__,
            "onnxruntime": onnxruntime.__version__, "rows": N_ROWS, "horizon": HORIZON,
            "repeats": repeats}
    (HERE / "results_forecast_reco_multi.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
