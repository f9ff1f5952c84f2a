"""Loop stall per snapshot while learning, against bare River's own pauses on the same events.

    python benchmarks/stall.py [--quick]

Per model (scaler|logreg on Phishing; a ~1001-node nba Hoeffding tree on Agrawal): two copies
of the same learned model take the same events; one bare (`model.learn_one`), one through
`Learner.learn_one` with a snapshot every `--every` events taken as `Learner.snapshot` takes
it: `Learner.capture` on the loop (the stall), then `freeze.complete` (IR, probes, River's
reference on the captured copy) in a worker thread that competes with the loop for the GIL
while the loop learns on (one job at a time, a newer capture replaces a waiting one, as in
`Publisher`; exporting and publishing are `export_verify.py`'s). Reported side by side from that
one run: the stall (p50, p99, max; and the loop thread's CPU time in it, which preemption by
other processes does not inflate), every event's pause for both (p99, max: a CPython full
collection lands in either), the loop's worst event pause while a worker job ran (per job: p50,
p99; the GIL interference), the worker's time per job, and `learn_one` time per event outside
the captures (Learner ÷ bare: of the totals, and of the per-event medians), and how many
CPython full collections landed in bare learn_one, the Learner's learn_one and the captures.
Targets (issue 17): stall p99 ≤ 5 ms for the tree, ≤ 1 ms for
scaler|logreg; learn_one ≤ 1.05× bare River.
Writes benchmarks/results_stall.json.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from river import datasets, tree
from river.datasets import synth

from estuary.converters.river_to_ir.capture import Capturer
from estuary.online import Learner, Manual
from estuary.online.freeze import complete
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


class _Worker:
    """`freeze.complete` of captures on one thread; a newer capture replaces a waiting one."""

    def __init__(self):
        self.lock, self.wake = threading.Lock(), threading.Event()
        self.waiting = None
        self.busy = False
        self.stop = False
        self.seconds: list[float] = []
        self.jobs = self.coalesced = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def submit(self, captured) -> None:
        with self.lock:
            self.coalesced += self.waiting is not None
            self.waiting = captured
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            with self.lock:
                job, self.waiting = self.waiting, None
                self.wake.clear()
                if job is None:
                    if self.stop:
                        return
                    continue
                self.busy = True
            t = time.perf_counter()
            complete(job)
            self.seconds.append(time.perf_counter() - t)
            self.jobs += 1
            with self.lock:
                self.busy = self.waiting is not None
                if self.busy:
                    self.wake.set()

    def active(self) -> bool:
        return self.busy or self.waiting is not None

    def close(self) -> None:
        while self.active():
            time.sleep(0.001)
        self.stop = True
        self.wake.set()
        self.thread.join()


def run(name: str, model, events, n_events: int, every: int, probe: list,
        gc_freeze: bool = False) -> dict:
    events = [next(events) for _ in range(n_events)]
    # both sides get a fresh copy: a model's objects laid out by copying are faster to walk
    # than the learned original's (scaler|logreg: 1.07x for a plain wrapper over the original)
    bare, model = copy.deepcopy(model), copy.deepcopy(model)
    learner = Learner(model, store=tempfile.mkdtemp(), policy=Manual(), probe=probe,
                      gc_freeze=gc_freeze)
    worker = _Worker()
    bare_pause, learner_pause, stalls, stalls_cpu, during = [], [], [], [], []
    bare_total = learner_total = 0.0
    worst = None  # the loop's worst pause while a worker job runs
    full = [0]  # CPython full collections so far (any thread), counted where they land

    def count(phase: str, info: dict) -> None:
        full[0] += phase == "start" and info["generation"] == 2

    landed = {"bare": 0, "learner": 0, "capture": 0}
    gc.collect()
    gc.callbacks.append(count)
    for i, (x, y) in enumerate(events):  # interleaved: the same load hits both
        f0 = full[0]
        t0 = time.perf_counter()
        bare.learn_one(x, y)
        t1 = time.perf_counter()
        f1 = full[0]
        learner.learn_one(x, y)
        t2 = time.perf_counter()
        landed["bare"] += f1 - f0
        landed["learner"] += full[0] - f1
        bare_pause.append((t1 - t0) * 1e3)
        learner_pause.append((t2 - t1) * 1e3)
        bare_total += t1 - t0
        learner_total += t2 - t1
        if worst is not None:
            worst = max(worst, (t2 - t1) * 1e3)
            if not worker.active():
                during.append(worst)
                worst = None
        if (i + 1) % every == 0:
            f3, c3, t3 = full[0], time.thread_time(), time.perf_counter()
            captured = learner.capture()
            stalls.append((time.perf_counter() - t3) * 1e3)
            landed["capture"] += full[0] - f3
            stalls_cpu.append((time.thread_time() - c3) * 1e3)  # this thread's CPU: no preemption
            worker.submit(captured)
            worst = worst or 0.0
    gc.callbacks.remove(count)
    worker.close()
    gc.unfreeze()  # Learner(gc_freeze=True) froze the collector's view: undo it for the next run
    n = len(events)
    return {"model": name + (" + Learner(gc_freeze=True)" if gc_freeze else ""),
            "nodes_at_end": getattr(learner.model, "n_nodes", None),
            "events": n, "every": every, "snapshots": len(stalls),
            "probes": len(learner.freeze().probes),
            "stall_ms": {"p50": statistics.median(stalls), "p99": _pct(stalls, 0.99),
                         "max": max(stalls)},
            "stall_cpu_ms": {"p50": statistics.median(stalls_cpu), "p99": _pct(stalls_cpu, 0.99),
                             "max": max(stalls_cpu)},
            "bare_pause_ms": {"p99": _pct(bare_pause, 0.99), "max": max(bare_pause)},
            "learner_pause_ms": {"p99": _pct(learner_pause, 0.99), "max": max(learner_pause)},
            "full_collections_in": landed,
            "pause_while_worker_ms": {"p50": statistics.median(during or [0.0]),
                                      "p99": _pct(during or [0.0], 0.99)},
            "worker_ms": {"p50": statistics.median(worker.seconds) * 1e3, "jobs": worker.jobs,
                          "coalesced": worker.coalesced},
            "learn_one_us": {"bare": bare_total / n * 1e6, "learner": learner_total / n * 1e6,
                             "ratio": learner_total / bare_total,
                             # per-event medians: what a steal of the GIL or the CPU does not move
                             "bare_median": statistics.median(bare_pause) * 1e3,
                             "learner_median": statistics.median(learner_pause) * 1e3,
                             "median_ratio": statistics.median(learner_pause)
                             / statistics.median(bare_pause)}}


def capture_only(every: int, gc_freeze: bool, tracked: bool) -> dict:
    """The tree's capture alone, near 1,001 nodes (no worker, no bare model; the tree learns
    only max(10 * every, 3,000) events): wall and thread-CPU ms per capture, leaves read.
    `tracked`: each event is fed to the capturer's tracker as `Learner.learn_one` does (its
    µs per event reported), so the capture reads only the paths learned."""
    rounds = max(10, 3000 // every)
    ht, events = _tree()
    capturer = Capturer()
    learned = capturer.track(ht).learned if tracked else None
    keep = capturer.capture(ht)
    wall, cpu, changed, walked = [], [], [], 0
    learn_us, track_us = [], []
    for _ in range(rounds):
        for _ in range(every):
            x, y = next(events)
            t0 = time.perf_counter()
            ht.learn_one(x, y)
            t1 = time.perf_counter()
            if learned is not None:
                learned(x, y)
                track_us.append((time.perf_counter() - t1) * 1e6)
            learn_us.append((t1 - t0) * 1e6)
        walked += not (tracked and capturer._tracker.complete())
        before = {id(held[2]) for held in capturer._leaves.values()}
        c0, t0 = time.thread_time(), time.perf_counter()
        keep = capturer.capture(ht)
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
        changed.append(sum(id(h[2]) not in before for h in capturer._leaves.values()))
        del keep  # as the worker would, after completing it
        if gc_freeze:  # as Learner(gc_freeze=True) does after each capture
            gc.freeze()
    gc.unfreeze()
    return {"every": every, "gc_freeze": gc_freeze, "tracked": tracked, "rounds": rounds,
            "full_walks": walked, "nodes_at_end": ht.n_nodes,
            # River's learn_one and the tracker's `learned` after it, µs per event
            "learn_one_us": {"p50": statistics.median(learn_us),
                             "mean": statistics.fmean(learn_us)},
            "tracker_us": {"p50": statistics.median(track_us or [0.0]),
                           "mean": statistics.fmean(track_us or [0.0])},
            "leaves_read_median": statistics.median(changed),
            "wall_ms": {"p50": statistics.median(wall), "p99": _pct(wall, 0.99)},
            "cpu_ms": {"p50": statistics.median(cpu), "p99": _pct(cpu, 0.99)}}


def table(results: list[dict]) -> str:
    lines = ["| model | snapshots (every N events) | probes | stall p50 / p99 / max ms | "
             "its CPU p50 / p99 ms | "
             "bare River worst pause ms (p99) | Learner worst pause ms (p99) | loop's worst "
             "pause per worker job p50 / p99 ms | worker ms per job (jobs, coalesced) | "
             "learn_one µs bare → Learner (÷ of medians) | full collections in bare learn_one / "
             "Learner learn_one / captures |", "|---|---:|---:|---|---|---|---|---|---|---|---|"]
    for r in results:
        s, b, p, u = r["stall_ms"], r["bare_pause_ms"], r["learner_pause_ms"], r["learn_one_us"]
        d, w, c = r["pause_while_worker_ms"], r["worker_ms"], r["stall_cpu_ms"]
        g = r["full_collections_in"]
        end = f", {r['nodes_at_end']} nodes at end" if r.get("nodes_at_end") else ""
        lines.append(f"| {r['model']}{end} | {r['snapshots']} ({r['every']}) | {r['probes']} | "
                     f"{s['p50']:.2f} / **{s['p99']:.2f}** / {s['max']:.2f} | {c['p50']:.2f} / "
                     f"{c['p99']:.2f} | {b['max']:.2f} "
                     f"({b['p99']:.3f}) | {p['max']:.2f} ({p['p99']:.3f}) | {d['p50']:.2f} / "
                     f"{d['p99']:.2f} | {w['p50']:.1f} ({w['jobs']}, {w['coalesced']}) | "
                     f"{u['bare']:.2f} → {u['learner']:.2f} (**{u['ratio']:.3f}×**; "
                     f"{u['median_ratio']:.3f}×) | {g['bare']} / {g['learner']} / "
                     f"{g['capture']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--models", default="logreg,tree", help="comma-separated: logreg, tree")
    parser.add_argument("--capture-only", action="store_true",
                        help="only the tree's capture near 1,001 nodes, every 100 and 500 events")
    parser.add_argument("--out", type=Path, default=HERE / "results_stall.json")
    args = parser.parse_args(argv)
    if args.capture_only:
        for every in (100, 500):
            for gc_freeze in (False, True):
                for tracked in (False, True):
                    print(json.dumps(capture_only(every, gc_freeze, tracked)))
        return
    n = 10_000 if args.quick else 50_000
    results = []
    for gc_freeze in (False, True):
        if "logreg" in args.models:
            model, events = _logreg()
            results.append(run("scaler\\|logreg", model, events, n, args.every,
                               [x for x, _ in datasets.Phishing().take(32)], gc_freeze))
        if "tree" in args.models:
            ht, events = _tree()
            name = f"nba Hoeffding tree ({ht.n_nodes} nodes at start)"
            sample = [x for x, _ in synth.Agrawal(seed=2, classification_function=4).take(32)]
            results.append(run(name, ht, events, n, args.every, sample, gc_freeze))
    text = table(results)
    print(text)
    args.out.write_text(json.dumps({"results": results, "markdown": text}, indent=2) + "\n")


if __name__ == "__main__":
    main()
