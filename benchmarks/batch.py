"""Batch (columnar) and one-row scoring against the raw onnxruntime session, side by side.

    python benchmarks/batch.py            # ~1 min on 2 shared cores
    python benchmarks/batch.py --quick

Per model, µs per row, medians of interleaved rounds (`run.median_seconds`):
- many (1,000 rows a call): River `predict_proba_one` row by row; `predict_proba_many` on dict
  rows, on a pandas DataFrame, a numpy structured array and an Arrow table (the columnar path,
  `estuary.columnar`); the raw `InferenceSession.run` on the already encoded matrix.
- one row: River; `predict_proba_one` (`predict_one` for regressors); the raw session's
  `run(None, {"input": x})` on an encoded [1, F] row; `run_with_iobinding` on pre-bound
  OrtValues (ORT's per-call floor, nothing allocated).
- many, warm: the columnar calls and the raw session again, each timed over `WARM` calls in a
  row (a batch job scoring chunk after chunk). `median_seconds` runs `gc.collect()` before every
  timed call, so the first table times one call on cold caches (onnxruntime's own run is ~5×
  slower so on 1k rows); both regimes are shown side by side.
Targets (issue 17): columnar many within 1.5× of the raw session per row and ≥ 10× River for
Scaler|LogReg; `predict_proba_one` within 1.5× of the raw one-row `run`.
Writes benchmarks/results_batch.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pyarrow as pa
from run import CASES, N_PREDICT, environment, median_seconds, predict_batch, train

import estuary  # after run, which puts the checkout on sys.path (coremltools drops entries)

HERE = Path(__file__).resolve().parent

WARM = 10  # calls in a row per timing in the warm table
NAMES = ["Scaler|LogReg Phishing", "Select+OneHot|LinReg ChickWeights",
         "Scaler|Softmax ImageSegments", "HT clf ImageSegments"]


def _frames(batch: list[dict]) -> dict[str, object]:
    frame = pd.DataFrame(batch)
    structured = frame.to_records(index=False)
    return {"pandas": frame, "numpy": np.asarray(structured), "arrow": pa.Table.from_pandas(frame)}


def _floor(session: ort.InferenceSession, x: np.ndarray):
    """`run_with_iobinding` on pre-bound input and output OrtValues: ORT's per-call floor."""
    binding = session.io_binding()
    binding.bind_ortvalue_input("input", ort.OrtValue.ortvalue_from_numpy(x))
    for o in session.get_outputs():
        binding.bind_output(o.name)
    session.run_with_iobinding(binding)  # outputs allocated once, then reused
    return lambda: session.run_with_iobinding(binding)


def measure(case, tmp: Path, repeats: int) -> dict:
    model, rows = train(case)
    path = tmp / f"{case.name.split()[0].replace('|', '_')}.onnx"
    estuary.export(model, path, sample=rows[:200])
    loaded = estuary.load(path)
    batch = predict_batch(rows)
    river = model.predict_proba_one if case.classifier else model.predict_one
    many = loaded.predict_proba_many if case.classifier else loaded.predict_many
    one = loaded.predict_proba_one if case.classifier else loaded.predict_one
    frames = _frames(batch)
    for kind, frame in frames.items():  # the benchmark measures equal work only
        assert np.array_equal(loaded.encoder.encode_many(frame), loaded.encoder.encode_many(batch),
                              equal_nan=True), kind
    X = loaded.encoder.encode_many(batch)
    session = loaded.backend.session
    many_fns = {"river_one": lambda: [river(x) for x in batch],
                "dicts": lambda: many(batch),
                **{kind: (lambda f=f: many(f)) for kind, f in frames.items()},
                "raw": lambda: session.run(None, {"input": X})}
    us = {k: v / len(batch) * 1e6 for k, v in median_seconds(many_fns, repeats).items()}
    warm_fns = {k: (lambda f=f: [f() for _ in range(WARM)]) for k, f in many_fns.items()
                if k in ("pandas", "numpy", "raw")}
    warm = {k: v / len(batch) / WARM * 1e6
            for k, v in median_seconds(warm_fns, repeats * 3).items()}
    sample = batch[:200]
    encoded = [loaded.encoder.encode_many([x]) for x in sample]
    floors = [_floor(session, x) for x in encoded[:1]] * len(sample)
    one_fns = {"river": lambda: [river(x) for x in sample],
               "estuary_one": lambda: [one(x) for x in sample],
               "raw_run": lambda: [session.run(None, {"input": x}) for x in encoded],
               "iobinding_floor": lambda: [f() for f in floors]}
    one_us = {k: v / len(sample) * 1e6 for k, v in median_seconds(one_fns, repeats * 3).items()}
    return {"name": case.name, "many_us": us, "warm_us": warm, "one_us": one_us}


def tables(results: list[dict]) -> str:
    lines = [f"### Many rows (µs per row, {N_PREDICT} rows a call)", "",
             "| model | River one | dicts | pandas | numpy | Arrow | raw session | pandas ÷ raw | "
             "River ÷ pandas | River ÷ dicts |", "|---|" + "---:|" * 9]
    for r in results:
        u = r["many_us"]
        name = r["name"].replace("|", "\\|")
        lines.append(f"| {name} | {u['river_one']:.2f} | {u['dicts']:.2f} | {u['pandas']:.3f} | "
                     f"{u['numpy']:.3f} | {u['arrow']:.3f} | {u['raw']:.3f} | "
                     f"{u['pandas'] / u['raw']:.2f}× | {u['river_one'] / u['pandas']:.1f}× | "
                     f"{u['river_one'] / u['dicts']:.1f}× |")
    lines += ["", f"### Many rows, warm (µs per row, {WARM} calls of {N_PREDICT} rows in a row)", "",
              "| model | River one | pandas | numpy | raw session | pandas ÷ raw | numpy ÷ raw | "
              "River ÷ pandas |", "|---|" + "---:|" * 7]
    for r in results:
        u, w = r["many_us"], r["warm_us"]
        name = r["name"].replace("|", "\\|")
        lines.append(f"| {name} | {u['river_one']:.2f} | {w['pandas']:.3f} | {w['numpy']:.3f} | "
                     f"{w['raw']:.3f} | {w['pandas'] / w['raw']:.2f}× | "
                     f"{w['numpy'] / w['raw']:.2f}× | {u['river_one'] / w['pandas']:.1f}× |")
    lines += ["", "### One row (µs per call)", "",
              "| model | River | estuary predict_proba_one | raw `run` | IOBinding floor | "
              "estuary ÷ raw run | estuary ÷ floor | River ÷ estuary |", "|---|" + "---:|" * 7]
    for r in results:
        u = r["one_us"]
        name = r["name"].replace("|", "\\|")
        lines.append(f"| {name} | {u['river']:.2f} | {u['estuary_one']:.2f} | {u['raw_run']:.2f} | "
                     f"{u['iobinding_floor']:.2f} | {u['estuary_one'] / u['raw_run']:.2f}× | "
                     f"{u['estuary_one'] / u['iobinding_floor']:.2f}× | "
                     f"{u['river'] / u['estuary_one']:.2f}× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results_batch.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        results = [measure(c, Path(d), 3 if args.quick else 9) for c in CASES if c.name in NAMES]
    text = tables(results)
    env = environment() | {"wall_seconds": f"{time.perf_counter() - start:.1f}"}
    print(text)
    print(" · ".join(f"{k} {v}" for k, v in env.items()))
    args.out.write_text(json.dumps({"environment": env, "results": results, "markdown": text},
                                   indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
