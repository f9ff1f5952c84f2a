"""The web demo in Chromium: first prediction after page load (ms) and one-row p50/p99 (µs) for
onnxruntime-web (wasm, 1 thread) and @tensorflow/tfjs (cpu), beside the same runtimes under Node
(benchmarks/node.py) and River's `predict_proba_one` in Python, measured side by side.

    python benchmarks/browser.py [--n 2000] [--visits 5] [--cases scaler|logreg ...] [--no-node]
        [--pages onnx-ort onnx tfjs progressive] [--ab N [--ab-pages now identity ort-itself]]

Per model: the model is published to a temporary store (`publish`, as a Learner would) and
served by `estuary serve` in its own process (uvicorn, as in production). Debian's chromium
(headless, a fresh on-disk profile, like a real browser with an HTTP cache) opens the page
(`&stream=0` each time) three ways:

- `?runtime=onnx&progressive=0`: onnxruntime-web only; and the same page with `&precompile=0`
  (`onnx-ort`: ORT fetches and compiles its wasm itself, once its module is imported, as before
  issue 17; the page's steps, performance marks `estuary:*`, say where the time goes);
- `?runtime=tfjs`: @tensorflow/tfjs only;
- `?runtime=onnx` (the page's default), when the model has a TF.js artifact: the progressive page,
  TF.js answers first while onnxruntime-web starts, then ONNX (checked) replaces it: both times
  are reported (the first answer, and the first ONNX answer).

`--ab N` only opens pages cold, N interleaved rounds of the variants `--ab-pages` names
(AB_PAGES: the ONNX-only page with ORT's wasm from the head, not gzipped, or fetched by ORT
itself, or with ORT's graph optimisations on (`ortopt-all`); the default page and the ONNX-only
page with the first answer after all golden rows).

- first ms, cold: a new profile (empty cache: the ORT wasm, 14 MB (3.7 MB gzipped), is downloaded
  and compiled); median over 3 browsers. Warm: the same profile visiting again (HTTP cache + V8's
  code caches); median of `--visits`. Both from navigation start to the first prediction shown
  (the page loads the artifact, checks the golden vectors, then predicts).
- p50/p99: `window.estuary.bench(row, n)` in the page: `await model.predict(row)` (object →
  tensor → runtime → {label, probabilities}) timed one call at a time with performance.now()
  (the page is cross-origin isolated: 5 µs resolution), after 200 warm-up calls; 4 rounds of
  `n` calls: the table shows the last (steady state), "early" the first (V8 still tiering up).
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]  # node.py; conftest's catalogue

from node import CASES, bench_rounds, cold_first_ms, river_us  # noqa: E402  (before conftest: see node.py)

# isort: split
from conftest import learned  # noqa: E402

from estuary.online.freeze import freeze  # noqa: E402
from estuary.online.publish import publish  # noqa: E402
from estuary.online.testing import free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
READY = """async () => { await window.estuary.ready; const s = window.estuary.state();
  const nav = performance.getEntriesByType('navigation')[0];
  const marks = Object.fromEntries(performance.getEntriesByType('mark')
    .filter((m) => m.name.startsWith('estuary:')).map((m) => [m.name.slice(8), m.startTime]));
  const wasm = performance.getEntriesByType('resource').find((r) => r.name.includes('.wasm'));
  if (wasm) Object.assign(marks, {'wasm-first-byte': wasm.responseStart, 'wasm-fetched': wasm.responseEnd});
  return {...s.timings, ...marks, load: nav.loadEventEnd, dcl: nav.domContentLoadedEventEnd}; }"""
# runtimes.js's performance marks (ms since navigation start), in the order they happen
MARKS = ("wasm-fetch-start", "wasm-first-byte", "ort-imported", "wasm-fetched", "wasm-compiled",
         "wasm-instantiated", "ort-session", "ort-ready")
# --ab: the ONNX-only page, each way it can fetch and start onnxruntime-web (issue 17, item 5;
# commit 735d398 also had ORT in a module worker started from the head: measured, not kept)
AB_PAGES = {
    "now": "runtime=onnx&progressive=0",  # the wasm fetched and compiled from the page's head
    "identity": "runtime=onnx&progressive=0&wasm=identity",  # ... not gzipped
    "ort-itself": "runtime=onnx&progressive=0&precompile=0",  # ORT fetches it (before issue 17)
    # the default (progressive) page: its first answer after 4 golden rows (the rest right
    # after it), or after all of them (before issue 17 item 5's second pass)
    "progressive": "runtime=onnx",
    "progressive-golden-all": "runtime=onnx&golden=all",
    "onnx-golden-all": "runtime=onnx&progressive=0&golden=all",
    # the ONNX-only page with ORT's graph optimisations 'all' (before the fourth pass), 'basic'
    "ortopt-all": "runtime=onnx&progressive=0&ortopt=all",
    "ortopt-basic": "runtime=onnx&progressive=0&ortopt=basic",
}


def publish_model(model, rows, store: Path) -> tuple[list[str], Path]:
    """Publish `model` to `store` with every web format it supports: (formats, version dir)."""
    frozen = freeze(model, rows[:20], n_events=len(rows))
    formats = ["onnx", "tfjs"]
    result = publish(frozen, store, formats)
    if not result.published and "UnsupportedModelError" in result.errors.get("tfjs", ""):
        formats = ["onnx"]  # ensembles: TF.js refuses them
        result = publish(frozen, store, formats)
    if not result.published:
        raise RuntimeError(result.summary())
    return formats, store / "versions" / str(result.version)


class Server:
    """`estuary serve STORE` in its own process (the page's server, as in production)."""

    def __init__(self, store: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "estuary", "serve", str(store), "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"estuary serve did not start: {self.proc.stderr.read()[:500]!r}")
            time.sleep(0.1)
        # the server gzips the vendored files once, in the background: not on a measured visit
        for encoding in ("gzip", "identity"):
            page = httpx.get(f"{self.url}/?runtime=onnx&progressive=0").text
            wasm = re.search(r'href="([^"]+\.wasm)"', page).group(1)
            httpx.get(self.url + wasm, headers={"Accept-Encoding": encoding}, timeout=120)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def visit(context, url: str) -> dict:
    page = context.new_page()
    said: list[str] = []
    page.on("console", lambda m: said.append(m.text))
    page.on("pageerror", lambda e: said.append(str(e)))
    try:
        page.goto(url)
        try:  # a page that never answers fails the run, saying what it logged
            page.wait_for_function("window.estuary?.state().timings.firstPrediction", timeout=60_000)
        except Exception as e:
            raise RuntimeError(f"{url}: no first prediction in 60 s; the page said {said}") from e
        return page.evaluate(READY)
    finally:
        page.close()


STEPS = ("appStarted", "manifestFetched", "runtimeReady", "modelLoaded", "firstPrediction")


def browser_figures(pw, url: str, query: str, row: dict | None, n: int, visits: int) -> dict:
    """First-prediction times (cold, warm, and where they go) for the page at `?query`, and the
    one-row latencies of the model it ends with (unless `row` is None)."""
    page_url = f"{url}/?{query}&stream=0"
    cold = []
    for _ in range(3):
        with tempfile.TemporaryDirectory(prefix="estuary-chromium-") as profile:
            context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM,
                                                            args=ARGS)
            try:
                cold.append(visit(context, page_url))
            finally:
                context.close()
    with tempfile.TemporaryDirectory(prefix="estuary-chromium-") as profile:
        context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS)
        try:
            visit(context, page_url)  # fills the HTTP cache and V8's code cache
            warm = [visit(context, page_url) for _ in range(visits)]
            rounds = []
            if row is not None:
                page = context.new_page()
                page.goto(page_url)
                page.evaluate("window.estuary.ready")
                rounds = [page.evaluate("([row, n]) => window.estuary.bench(row, n)", [row, n])
                          for _ in range(4)]  # V8 tiers the wasm/JS up meanwhile: first vs last
                page.close()
        finally:
            context.close()
    med = lambda runs, k: statistics.median(r[k] for r in runs)  # noqa: E731
    # per runtime (a progressive page has both), then the page's `load` event
    keys = ["appStarted", *(k for k in MARKS if all(k in r for r in warm + cold))]
    keys += [f"{k}.{rt}" for rt in ("tfjs", "onnx") for k in STEPS[1:] if f"{k}.{rt}" in warm[0]]
    keys += ["load"]
    out = {"cold": med(cold, "firstPrediction"), "warm": med(warm, "firstPrediction"),
           "warm_all": sorted(r["firstPrediction"] for r in warm),
           "warm_steps": {k: med(warm, k) for k in keys},
           "cold_steps": {k: med(cold, k) for k in keys}}
    if "firstPrediction.onnx" in warm[0] and "firstPrediction.tfjs" in warm[0]:
        out["cold_onnx"] = med(cold, "firstPrediction.onnx")
        out["warm_onnx"] = med(warm, "firstPrediction.onnx")
    if rounds:
        out.update(rounds[-1], early=rounds[0])
    return out


def cold_ab(pw, url: str, pages: dict[str, str], rounds: int) -> dict[str, dict[str, float]]:
    """Cold visits (a new profile each) to each page in turn, `rounds` times: interleaved, so
    the load of a shared machine falls on every page alike. Per page, median ms of each step."""
    runs: dict[str, list[dict]] = {kind: [] for kind in pages}
    for _ in range(rounds):
        for kind, query in pages.items():
            with tempfile.TemporaryDirectory(prefix="estuary-chromium-") as profile:
                context = pw.chromium.launch_persistent_context(profile, args=ARGS,
                                                                executable_path=CHROMIUM)
                try:
                    runs[kind].append(visit(context, f"{url}/?{query}&stream=0"))
                finally:
                    context.close()
    keys = ["tfjs-ready", "appStarted", *MARKS, "manifestFetched", "runtimeReady", "modelLoaded",
            "firstPrediction", "goldenChecked", "load"]
    return {kind: {k: statistics.median(r[k] for r in rs) for k in keys if all(k in r for r in rs)}
            for kind, rs in runs.items()}


def ab_main(cases: list[str], rounds: int, kinds: list[str]) -> None:
    """`--ab N`: the ONNX-only page started each way of `kinds` (AB_PAGES), N interleaved cold
    visits each."""
    from playwright.sync_api import sync_playwright

    pages = {kind: AB_PAGES[kind] for kind in kinds}
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            model, rows = learned(case)
            store = Path(tmp) / case.replace("|", "_")
            publish_model(model, rows, store)
            server = Server(store)
            try:
                figures = cold_ab(pw, server.url, pages, rounds)
            finally:
                server.close()
            for kind, steps in figures.items():
                print(f"{case:28s} {kind:16s} first {steps['firstPrediction']:5.0f} ms cold  "
                      + "  ".join(f"{k} {v:.0f}" for k, v in steps.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--visits", type=int, default=5)
    parser.add_argument("--cases", nargs="*", default=CASES)
    parser.add_argument("--no-node", action="store_true")
    parser.add_argument("--pages", nargs="*",
                        default=["onnx-ort", "onnx", "tfjs", "progressive"],
                        help="which of the three pages to open (default: all)")
    parser.add_argument("--ab", type=int, default=0, metavar="N",
                        help="only the cold A/B of the ONNX-only page, N interleaved rounds")
    parser.add_argument("--ab-pages", nargs="*", default=["ort-itself", "now"], choices=AB_PAGES,
                        help="with --ab: which ways of starting ORT to compare")
    args = parser.parse_args()
    if args.ab:
        ab_main(args.cases, args.ab, args.ab_pages)
        return

    from playwright.sync_api import sync_playwright

    logging.getLogger("estuary.online.publish").setLevel(logging.ERROR)  # TF.js refusals

    from estuary.runtimes.node import request, runner

    header = (f"{'model':28s} {'runtime':34s} {'first ms cold':>13s} {'first ms warm':>13s} "
              f"{'p50 µs':>8s} {'p99 µs':>8s} {'mean µs':>8s} {'early p50/p99 µs':>17s}")
    print(header)
    steps = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            model, rows = learned(case)
            row = rows[0]
            store = Path(tmp) / case.replace("|", "_")
            formats, version = publish_model(model, rows, store)
            p50, p99 = river_us(model, row, args.n)
            print(f"{case:28s} {'River predict_proba_one (Python)':34s} {'':>13s} {'':>13s} "
                  f"{p50:8.1f} {p99:8.1f}", flush=True)
            if not args.no_node:
                for kind in formats:
                    path = version / ("model.onnx" if kind == "onnx" else "model.tfjs")
                    name = ("onnxruntime-web (Node wasm)" if kind == "onnx"
                            else "@tensorflow/tfjs (Node cpu)")
                    first = cold_first_ms(kind, path, row)
                    handle = request("load", kind=kind, path=str(path), check=True)["model"]
                    b, early = bench_rounds(handle, row, args.n)
                    print(f"{case:28s} {name:34s} {first:13.0f} {'':>13s} {b['p50_us']:8.1f} "
                          f"{b['p99_us']:8.1f} {'':>8s} {early['p50_us']:8.0f}/"
                          f"{early['p99_us']:<8.0f}", flush=True)
                runner().close()
            server = Server(store)
            pages = [("onnx-ort", "ORT-web, wasm compiled by ORT (before)",
                      "runtime=onnx&progressive=0&precompile=0"),
                     ("onnx", "onnxruntime-web (Chromium wasm)", "runtime=onnx&progressive=0"),
                     ("tfjs", "@tensorflow/tfjs (Chromium cpu)", "runtime=tfjs"),
                     ("progressive", "TF.js first, then ONNX (default)", "runtime=onnx")]
            try:
                for kind, name, query in pages:
                    if kind not in args.pages:
                        continue
                    if kind not in ("onnx", "onnx-ort") and "tfjs" not in formats:
                        if kind == "tfjs":
                            print(f"{case:28s} {name:34s} not available: TF.js refuses "
                                  "this model")
                        continue
                    f = browser_figures(pw, server.url, query,
                                        None if kind in ("progressive", "onnx-ort") else row,
                                        args.n, args.visits)
                    line = f"{case:28s} {name:34s} {f['cold']:13.0f} {f['warm']:13.0f} "
                    if kind == "progressive":
                        line += (f"  (then ONNX: cold {f['cold_onnx']:.0f}, "
                                 f"warm {f['warm_onnx']:.0f})")
                    elif kind == "onnx-ort":
                        line += " " * 43
                    else:
                        line += (f"{f['p50_us']:8.1f} {f['p99_us']:8.1f} {f['mean_us']:8.1f} "
                                 f"{f['early']['p50_us']:8.0f}/{f['early']['p99_us']:<8.0f}")
                    print(line + f"  warm runs: {[round(v) for v in f['warm_all']]}", flush=True)
                    steps.append((case, kind, f))
            finally:
                server.close()
    print("\nfirst prediction, where the time goes (median ms since navigation start):")
    for case, kind, f in steps:
        for label in ("cold", "warm"):
            s = f[f"{label}_steps"]
            print(f"  {case:28s} {kind:11s} {label:5s} "
                  + "  ".join(f"{k} {v:.0f}" for k, v in s.items()))


if __name__ == "__main__":
    main()
