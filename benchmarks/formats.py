"""Every registered format side by side: export, verify, artifact size, parity and predict speed.

    python benchmarks/formats.py            # full run (~1-3 min on 2 shared cores)
    python benchmarks/formats.py --quick    # fewer repeats, same models
    python benchmarks/formats.py --profile "HT clf Phishing" pmml   # cProfile one model in one format

For each format in `estuary.converters.registry.FORMATS` (onnx, pmml, coreml, ... whatever is
registered) and each model below: export time, verify time (`estuary.verify` on 200 rows +
adversarial probes), artifact bytes (a directory format sums its files), the runtime that ran it,
parity (max abs diff, label agreement), and the predict throughput of the loaded artifact
(`predict_proba_many` / `predict_many` on 1,000 rows, and `predict_one` per row) against River's
`predict_proba_one` / `predict_one`. Separately, in a fresh subprocess: the JVM start of the PMML
runtime and its first model load (paid once per process).

Reuses `run.py`'s cases, training and timing helpers. Prints markdown tables and writes
benchmarks/results_formats.json. A model a format refuses (`UnsupportedModelError`) is skipped
with a note.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from run import (
    CASES,
    HERE,
    N_PREDICT,
    N_SAMPLE,
    Case,
    _f,
    _print_profile,
    _profiled,
    environment,
    median_seconds,
    predict_batch,
    river_predict,
    train,
)

import estuary
from estuary.converters.registry import FORMATS
from estuary.errors import UnsupportedModelError

# The models of this comparison, by their run.py names.
MODELS = ["Scaler|LogReg Phishing", "Scaler|LinReg TrumpApproval",
          "Select+OneHot|LinReg ChickWeights", "Scaler|Softmax ImageSegments",
          "GaussianNB Phishing", "HT clf Phishing", "HT reg TrumpApproval"]
N_ONE = 200  # rows timed through predict_one (one runtime call each); River is timed on N_PREDICT


@dataclass
class FormatResult:
    model: str
    format: str
    status: str = "ok"  # "ok" | "skipped: ..." | "error: ..."
    runtime: str | None = None
    export_ms: float | None = None
    verify_ms: float | None = None
    size_bytes: int | None = None
    parity_passed: bool | None = None
    parity_rows: int | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None  # max |a - e| / max(1, |e|): what the tolerance bounds
    tolerance: float | None = None
    label_agreement: float | None = None  # None for regressors
    many_rows_per_s: float | None = None
    one_us: float | None = None
    river_rows_per_s: float | None = None
    many_vs_river: float | None = None  # > 1: the artifact's batch is faster than River one by one
    one_vs_river: float | None = None


@dataclass
class ModelResult:
    model: str
    n_nodes: int | None
    river_rows_per_s: float
    formats: list[FormatResult] = field(default_factory=list)


def artifact_bytes(path: Path) -> int:
    """A file's size, or the sum of the files of a directory artifact (e.g. `.tfjs`)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _reason(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).split('. ')[0][:110]}"


def export_verify(model: Any, rows: list[dict], fmt: str, tmp: Path, res: FormatResult,
                  repeats: int) -> Path | None:
    """Median export and verify ms (interleaved per round); each round exports to a new path so a
    directory format never replaces itself. Returns the artifact path, or None if refused."""
    sample = rows[:N_SAMPLE]
    suffix = FORMATS[fmt].suffix
    paths = iter(tmp / f"{fmt}-{i}{suffix}" for i in range(10_000))
    try:
        path = next(paths)
        estuary.export(model, path, sample=sample, format=fmt)  # warm-up; refusals surface here
    except Exception as e:
        res.status = ("skipped" if isinstance(e, UnsupportedModelError) else "error") + f": {_reason(e)}"
        print(f"note: {res.model} in {fmt}: {res.status}", file=sys.stderr)
        return None
    estuary.verify(model, path, sample)  # warm-up
    export_s, verify_s = [], []
    for _ in range(repeats):
        path = next(paths)
        gc.collect()
        t0 = time.perf_counter()
        estuary.export(model, path, sample=sample, format=fmt)
        t1 = time.perf_counter()
        report = estuary.verify(model, path, sample)
        t2 = time.perf_counter()
        export_s.append(t1 - t0)
        verify_s.append(t2 - t1)
    res.export_ms = statistics.median(export_s) * 1e3
    res.verify_ms = statistics.median(verify_s) * 1e3
    res.size_bytes = artifact_bytes(path)
    res.runtime = report.runtime
    res.parity_passed, res.parity_rows = report.passed, report.n_rows
    res.max_abs_diff, res.label_agreement = report.max_abs_diff, report.label_agreement
    res.max_rel_diff, res.tolerance = report.max_scaled_diff, report.tolerance
    return path


def measure_predict(model: Any, case: Case, rows: list[dict],
                    artifacts: dict[str, tuple[Path, FormatResult]], repeats: int) -> float:
    """River and every format's loaded artifact timed interleaved in the same rounds.
    Returns River's rows/s and fills each FormatResult."""
    batch = predict_batch(rows)
    few = batch[:N_ONE]
    predict = river_predict(model, case)
    fns = {"river": lambda: [predict(x) for x in batch]}
    counts = {"river": len(batch)}
    for fmt, (path, _) in artifacts.items():
        loaded = estuary.load(path)
        many = loaded.predict_proba_many if case.classifier else loaded.predict_many
        one = loaded.predict_proba_one if case.classifier else loaded.predict_one
        fns[f"{fmt} many"] = lambda many=many: many(batch)
        fns[f"{fmt} one"] = lambda one=one: [one(x) for x in few]
        counts |= {f"{fmt} many": len(batch), f"{fmt} one": len(few)}
    sec = median_seconds(fns, repeats)
    per_row = {k: v / counts[k] for k, v in sec.items()}
    river = per_row["river"]
    for fmt, (_, res) in artifacts.items():
        res.river_rows_per_s = 1 / river
        res.many_rows_per_s = 1 / per_row[f"{fmt} many"]
        res.one_us = per_row[f"{fmt} one"] * 1e6
        res.many_vs_river = river / per_row[f"{fmt} many"]
        res.one_vs_river = river / per_row[f"{fmt} one"]
    return 1 / river


def run_model(case: Case, tmp: Path, quick: bool) -> ModelResult:
    start = time.perf_counter()
    model, rows = train(case)
    out = ModelResult(case.name, getattr(model, "n_nodes", None), math.nan)
    artifacts: dict[str, tuple[Path, FormatResult]] = {}
    for fmt in FORMATS:
        res = FormatResult(case.name, fmt)
        out.formats.append(res)
        d = tmp / f"{len(list(tmp.iterdir()))}"
        d.mkdir()
        path = export_verify(model, rows, fmt, d, res, repeats=3 if quick else 5)
        if path is not None:
            artifacts[fmt] = (path, res)
    out.river_rows_per_s = measure_predict(model, case, rows, artifacts, 3 if quick else 5)
    print(f"done: {case.name} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return out


JVM_PROBE = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import estuary
    from estuary.runtimes import jpmml
    t1 = time.perf_counter()
    jpmml.java_backend()
    t2 = time.perf_counter()
    a = estuary.load(sys.argv[1])
    t3 = time.perf_counter()
    b = estuary.load(sys.argv[1])
    t4 = time.perf_counter()
    print(json.dumps({"import_ms": (t1 - t0) * 1e3, "jvm_start_ms": (t2 - t1) * 1e3,
                      "first_load_ms": (t3 - t2) * 1e3, "second_load_ms": (t4 - t3) * 1e3,
                      "runtime": str(a.runtime)}))
""")


def jvm_start(tmp: Path, runs: int) -> dict[str, Any] | None:
    """In fresh processes: `jpmml.java_backend()` (starts the JVM), then the first and a second
    `estuary.load` of a small PMML file. Medians over `runs` processes."""
    if "pmml" not in FORMATS:
        return None
    case = next(c for c in CASES if c.name == MODELS[0])
    model, rows = train(case)
    path = tmp / "jvm.pmml"
    estuary.export(model, path, sample=rows[:N_SAMPLE], format="pmml")
    results = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", JVM_PROBE, str(path)], capture_output=True,
                              text=True, check=True, cwd=HERE.parent)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    keys = [k for k in results[0] if k.endswith("_ms")]
    summary: dict[str, Any] = {k: statistics.median(r[k] for r in results) for k in keys}
    return summary | {"runtime": results[0]["runtime"], "model": case.name, "processes": runs,
                      "size_bytes": path.stat().st_size}


# ---- tables ----------------------------------------------------------------------------------

def _ratio(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}×" if v < 0.01 else f"{v:.2f}×" if v < 10 else f"{v:.0f}×"


def _cell(text: str) -> str:
    """Model names hold `|` (pipelines): escape it inside a markdown table cell."""
    return text.replace("|", "\\|")


def _short_runtime(runtime: str | None) -> str:
    """`coreml spec-evaluator (estuary numpy, ...)` → `coreml spec-evaluator`."""
    return re.sub(r"\s*\([^)]*\)", "", runtime or "—")


def _short_status(status: str) -> str:
    """`skipped: UnsupportedModelError: cannot convert X (why...)` → `refused: cannot convert X`."""
    kind, _, rest = status.partition(": ")
    rest = rest.split(": ", 1)[-1].split(" (")[0]
    return f"{'refused' if kind == 'skipped' else kind}: {rest}"


def _rate(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:,.0f} k" if v >= 1e4 else f"{v:,.0f}"


def _diff(v: float | None) -> str:
    return "—" if v is None else ("0" if v == 0 else f"{v:.1e}")


def export_table(results: list[ModelResult]) -> str:
    lines = ["| model | format | runtime | export ms | verify ms | bytes | parity (rows) | "
             "max abs diff | max rel diff (tol) | labels |",
             "|---|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for m in results:
        for r in m.formats:
            if r.status != "ok":
                lines.append(f"| {_cell(m.model)} | {r.format} | {_short_status(r.status)} |"
                             + " |" * 7)
                continue
            parity = f"{'pass' if r.parity_passed else 'FAIL'} ({r.parity_rows})"
            labels = "—" if r.label_agreement is None else f"{r.label_agreement:.2%}"
            lines.append(f"| {_cell(m.model)} | {r.format} | {_short_runtime(r.runtime)} | "
                         f"{_f(r.export_ms)} | "
                         f"{_f(r.verify_ms)} | {r.size_bytes:,} | {parity} | "
                         f"{_diff(r.max_abs_diff)} | {_diff(r.max_rel_diff)} ({r.tolerance:g}) | "
                         f"{labels} |")
    return "\n".join(lines)


def predict_table(results: list[ModelResult], formats: list[str]) -> str:
    head = "| model | River one rows/s |" + "".join(
        f" {f} many rows/s (÷River) | {f} one µs (÷River) |" for f in formats)
    lines = [head, "|---|---:|" + "---:|---:|" * len(formats)]
    for m in results:
        cells = [_cell(m.model), _rate(m.river_rows_per_s)]
        for fmt in formats:
            r = next((r for r in m.formats if r.format == fmt), None)
            if r is None or r.status != "ok":
                cells += ["refused" if r and r.status.startswith("skipped") else "—", "—"]
                continue
            cells += [f"{_rate(r.many_rows_per_s)} ({_ratio(r.many_vs_river)})",
                      f"{_f(r.one_us)} ({_ratio(r.one_vs_river)})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_table(results: list[ModelResult], formats: list[str]) -> str:
    """Per format: models exported, total bytes, and geometric means over those models."""
    lines = ["| format | runtime | models | export ms (geo-mean) | verify ms (geo-mean) | "
             "many ÷ River (geo-mean) | one ÷ River (geo-mean) |",
             "|---|---|---:|---:|---:|---:|---:|"]

    def gmean(vals: list[float]) -> float:
        return math.exp(statistics.fmean(math.log(v) for v in vals))

    for fmt in formats:
        ok = [r for m in results for r in m.formats if r.format == fmt and r.status == "ok"]
        if not ok:
            lines.append(f"| {fmt} | — | 0/{len(results)} | — | — | — | — |")
            continue
        runtime = "; ".join(sorted({r.runtime or "—" for r in ok}))
        lines.append(f"| {fmt} | {runtime} | {len(ok)}/{len(results)} | "
                     f"{_f(gmean([r.export_ms for r in ok]))} | {_f(gmean([r.verify_ms for r in ok]))} | "
                     f"{_ratio(gmean([r.many_vs_river for r in ok]))} | "
                     f"{_ratio(gmean([r.one_vs_river for r in ok]))} |")
    return "\n".join(lines)


def jvm_table(jvm: dict[str, Any] | None) -> str:
    if jvm is None:
        return "(pmml is not registered: no JVM measured)"
    return ("| import estuary + jpmml ms | `jpmml.java_backend()` (JVM start) ms | first "
            "`estuary.load` ms | second `estuary.load` ms |\n|---:|---:|---:|---:|\n"
            f"| {_f(jvm['import_ms'])} | {_f(jvm['jvm_start_ms'])} | {_f(jvm['first_load_ms'])} | "
            f"{_f(jvm['second_load_ms'])} |")


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("jpmml_evaluator", "jpype1", "coremltools"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


# ---- profile ---------------------------------------------------------------------------------

def profile(name: str, fmt: str, quick: bool, top: int = 25) -> None:
    """cProfile export+verify, then predict many and one, of one model in one format."""
    case = next((c for c in CASES if c.name == name), None)
    if case is None:
        raise SystemExit(f"unknown model {name!r}; choose one of: {MODELS}")
    if fmt not in FORMATS:
        raise SystemExit(f"unknown format {fmt!r}; registered: {sorted(FORMATS)}")
    model, rows = train(case)
    sample, batch = rows[:N_SAMPLE], predict_batch(rows)
    times = 3 if quick else 5
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"m{FORMATS[fmt].suffix}"
        prof = _profiled(lambda: (estuary.export(model, path, sample=sample, format=fmt),
                                  estuary.verify(model, path, sample)), times)
        _print_profile(f"{name} in {fmt}: export+verify ×{times}", prof, top)
        loaded = estuary.load(path)
        many = loaded.predict_proba_many if case.classifier else loaded.predict_many
        prof = _profiled(lambda: many(batch), times)
        _print_profile(f"{name} in {fmt}: predict many on {N_PREDICT} rows ×{times}", prof, top // 2)
        prof = _profiled(lambda: [loaded.predict_one(x) for x in batch[:N_ONE]], 1)
        _print_profile(f"{name} in {fmt}: predict_one on {N_ONE} rows", prof, top // 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--profile", nargs=2, metavar=("MODEL", "FORMAT"),
                        help="cProfile one model in one format")
    parser.add_argument("--out", type=Path, default=HERE / "results_formats.json")
    args = parser.parse_args(argv)
    if args.profile:
        profile(*args.profile, quick=args.quick)
        return
    start = time.perf_counter()
    formats = list(FORMATS)
    cases = [next(c for c in CASES if c.name == n) for n in MODELS]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        jvm = jvm_start(tmp, 1 if args.quick else 3)  # first: before this process loads a JVM
        (tmp / "models").mkdir()
        results = [run_model(c, tmp / "models", args.quick) for c in cases]
    env = environment() | _versions() | {
        "formats": ", ".join(formats), "quick": str(args.quick),
        "wall_seconds": f"{time.perf_counter() - start:.1f}"}
    runtimes = sorted({r.runtime for m in results for r in m.formats if r.runtime})
    tables = (
        f"### Export, verify, size, parity (ms, median; sample = {N_SAMPLE} rows + adversarial "
        f"probes)\n\n{export_table(results)}\n\n"
        f"### Predict speed of the loaded artifact vs River one by one (median; many = "
        f"{N_PREDICT} rows per call, one = `predict_one`/`predict_proba_one` per row)\n\n"
        f"{predict_table(results, formats)}\n\n"
        f"### Summary by format (geometric means over the models it exports)\n\n"
        f"{summary_table(results, formats)}\n\n"
        f"### PMML runtime start, fresh process (median of "
        f"{jvm['processes'] if jvm else 0} processes; paid once per process)\n\n{jvm_table(jvm)}\n")
    print(tables)
    print("runtimes: " + "; ".join(runtimes))
    print(" · ".join(f"{k} {v}" for k, v in env.items()))
    args.out.write_text(json.dumps(
        {"environment": env, "runtimes": runtimes, "jvm_start": jvm,
         "results": [asdict(m) for m in results], "markdown": tables},
        indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
