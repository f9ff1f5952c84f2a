"""Loop stall per snapshot while learning, against bare River's own pauses on the same events.

    python benchmarks/stall.py [--quick]

Per model (scaler|logreg on Phishing; a ~1001-node nba Hoeffding tree on Agrawal): two copies
of the same learned model take the same events; one bare (`model.learn_one`), one through
`Learner.learn_one` with a snapshot freeze (`Learner.freeze`, the on-loop half) every
`--every` events. Reported side by side from that one run: the freeze stall (p50, p99, max),
every event's pause for both (p99, max: a CPython full collection lands in either), and
`learn_one` time per event outside the freezes (Learner ÷ bare). Targets (issue 17): stall
p99 ≤ 5 ms for the tree, ≤ 1 ms for scaler|logreg; learn_one ≤ 1.05× bare River.
Writes benchmarks/results_stall.json.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import tempfile
import time
from pathlib import Path

from river import datasets, tree
from river.datasets import synth

from estuary.online import Learner, Manual
from estuary.online.models import MODELS

HERE = Path(__file__).resolve().parent


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _tree(nodes: int = 1000):
    ht = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.9, tau=0.9)
    stream = synth.Agrawal(seed=1, classification_function=4, perturbation=0.3)
    events = iter(stream.take(400_000))
    for x, y in events:
        ht.learn_one(x, y)
        if ht.n_nodes >= nodes:
            break
    return ht, events


def _logreg():
    model = MODELS["logreg"]()
    rows = list(datasets.Phishing())
    for x, y in rows:
        model.learn_one(x, y)
    return model, iter(rows * 40)


def run(name: str, model, events, n_events: int, every: int, probe: list,
        gc_freeze: bool = False) -> dict:
    events = [next(events) for _ in range(n_events)]
    bare = copy.deepcopy(model)
    learner = Learner(model, store=tempfile.mkdtemp(), policy=Manual(), probe=probe,
                      gc_freeze=gc_freeze)
    bare_pause, learner_pause, stalls = [], [], []
    bare_total = learner_total = 0.0
    gc.collect()
    for i, (x, y) in enumerate(events):  # interleaved: the same load hits both
        t0 = time.perf_counter()
        bare.learn_one(x, y)
        t1 = time.perf_counter()
        learner.learn_one(x, y)
        t2 = time.perf_counter()
        bare_pause.append((t1 - t0) * 1e3)
        learner_pause.append((t2 - t1) * 1e3)
        bare_total += t1 - t0
        learner_total += t2 - t1
        if (i + 1) % every == 0:
            t3 = time.perf_counter()
            frozen = learner.freeze()
            stalls.append((time.perf_counter() - t3) * 1e3)
            del frozen  # a worker would publish it and let it go
    gc.unfreeze()  # Learner(gc_freeze=True) froze the collector's view: undo it for the next run
    n = len(events)
    return {"model": name + (" + Learner(gc_freeze=True)" if gc_freeze else ""),
            "events": n, "every": every, "snapshots": len(stalls),
            "probes": len(learner.freeze().probes),
            "stall_ms": {"p50": statistics.median(stalls), "p99": _pct(stalls, 0.99),
                         "max": max(stalls)},
            "bare_pause_ms": {"p99": _pct(bare_pause, 0.99), "max": max(bare_pause)},
            "learner_pause_ms": {"p99": _pct(learner_pause, 0.99), "max": max(learner_pause)},
            "learn_one_us": {"bare": bare_total / n * 1e6, "learner": learner_total / n * 1e6,
                             "ratio": learner_total / bare_total}}


def table(results: list[dict]) -> str:
    lines = ["| model | snapshots (every N events) | probes | stall p50 / p99 / max ms | "
             "bare River worst pause ms (p99) | Learner worst pause ms (p99) | learn_one µs "
             "bare → Learner |", "|---|---:|---:|---|---|---|---|"]
    for r in results:
        s, b, p, u = r["stall_ms"], r["bare_pause_ms"], r["learner_pause_ms"], r["learn_one_us"]
        lines.append(f"| {r['model']} | {r['snapshots']} ({r['every']}) | {r['probes']} | "
                     f"{s['p50']:.2f} / **{s['p99']:.2f}** / {s['max']:.2f} | {b['max']:.2f} "
                     f"({b['p99']:.3f}) | {p['max']:.2f} ({p['p99']:.3f}) | {u['bare']:.2f} → "
                     f"{u['learner']:.2f} (**{u['ratio']:.3f}×**) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--out", type=Path, default=HERE / "results_stall.json")
    args = parser.parse_args(argv)
    n = 10_000 if args.quick else 50_000
    results = []
    for gc_freeze in (False, True):
        model, events = _logreg()
        results.append(run("scaler\\|logreg", model, events, n, args.every,
                           [x for x, _ in datasets.Phishing().take(32)], gc_freeze))
        ht, events = _tree()
        name = f"nba Hoeffding tree ({ht.n_nodes} nodes at start)"
        sample = [x for x, _ in synth.Agrawal(seed=2, classification_function=4).take(32)]
        results.append(run(name, ht, events, n, args.every, sample, gc_freeze))
    text = table(results)
    print(text)
    args.out.write_text(json.dumps({"results": results, "markdown": text}, indent=2) + "\n")


if __name__ == "__main__":
    main()
