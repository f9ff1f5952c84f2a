"""Loop stall per snapshot while learning, against bare River's own pauses on the same events.

    python benchmarks/stall.py [--quick] [--rounds R] [--events N] [--every K]

Per model (scaler|logreg on Phishing; a ~1001-node nba Hoeffding tree on Agrawal): two copies
of the same learned model take the same events; one bare (`model.learn_one`), one through
`Learner.learn_one` with a snapshot every `--every` events (100) taken as `Learner.snapshot` takes
it: `Learner.capture` on the loop (the stall), then `freeze.complete` (IR, probes, River's
reference on the captured copy) in a worker thread that competes with the loop for the GIL
while the loop learns on (one job at a time, a newer capture replaces a waiting one, as in
`Publisher`; exporting and publishing are `export_verify.py`'s). A round is `--events` events
(10,000: 100 snapshots) from fresh copies of the learned model; rounds take the stream's next
events from the same start (the tree is ~1,001 nodes at the start of each), `gc_freeze` off and
on over the same events, and are pooled: the default 5 rounds give a p99 over 500 captures,
printed beside their count and their max (`--quick`: one round, whose p99 is the max of 100).
The run before rounds existed, 50,000 events a snapshot every 500, is `--rounds 1 --events
50000 --every 500` (the tree grows to ~7,000 nodes there). Reported side by side: the stall
(p50, p99, max; and the loop thread's CPU time in it, which preemption by other processes does
not inflate), every event's pause for both (p99, max: a CPython full collection lands in
either), the loop's worst event pause while a worker job ran (per job: p50, p99; the GIL
interference), the worker's time per job, and `learn_one` time per event outside the captures
(Learner ÷ bare: of the totals, and of the per-event medians), and how many CPython full
collections landed in bare learn_one, the Learner's learn_one and the captures (and young
collections in the captures). Targets (issue 17): stall p99 ≤ 5 ms for the tree, ≤ 1 ms for
scaler|logreg; learn_one ≤ 1.05× bare River.
Writes benchmarks/results_stall.json.
"""

from __future__ import annotations

import argparse
import copy
import gc
import itertools
import json
import statistics
import sys
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
    return model, itertools.cycle(rows)


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


def run(model, events: list, every: int, probe: list, gc_freeze: bool = False) -> dict:
    """One round over `events` from fresh copies of `model`: the raw per-event pauses and
    per-capture stalls, which `summary` pools across rounds."""
    # both sides get a fresh copy: a model's objects laid out by copying are faster to walk
    # than the learned original's (scaler|logreg: 1.07x for a plain wrapper over the original)
    bare, model = copy.deepcopy(model), copy.deepcopy(model)
    learner = Learner(model, store=tempfile.mkdtemp(), policy=Manual(), probe=probe,
                      gc_freeze=gc_freeze)
    worker = _Worker()
    bare_pause, learner_pause, stalls, stalls_cpu, during = [], [], [], [], []
    worst = None  # the loop's worst pause while a worker job runs
    gens = [0, 0, 0]  # CPython collections so far per generation (any thread)

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            gens[info["generation"]] += 1

    landed = {"bare": 0, "learner": 0, "capture": 0, "capture_young": 0}
    gc.collect()
    gc.callbacks.append(count)
    for i, (x, y) in enumerate(events):  # interleaved: the same load hits both
        f0 = gens[2]
        t0 = time.perf_counter()
        bare.learn_one(x, y)
        t1 = time.perf_counter()
        f1 = gens[2]
        learner.learn_one(x, y)
        t2 = time.perf_counter()
        landed["bare"] += f1 - f0
        landed["learner"] += gens[2] - f1
        bare_pause.append((t1 - t0) * 1e3)
        learner_pause.append((t2 - t1) * 1e3)
        if worst is not None:
            worst = max(worst, (t2 - t1) * 1e3)
            if not worker.active():
                during.append(worst)
                worst = None
        if (i + 1) % every == 0:
            g3, c3, t3 = gens[:], time.thread_time(), time.perf_counter()
            captured = learner.capture()
            stalls.append((time.perf_counter() - t3) * 1e3)
            stalls_cpu.append((time.thread_time() - c3) * 1e3)  # this thread's CPU: no preemption
            landed["capture"] += gens[2] - g3[2]
            landed["capture_young"] += gens[0] + gens[1] - g3[0] - g3[1]
            worker.submit(captured)
            worst = worst or 0.0
    gc.callbacks.remove(count)
    worker.close()
    gc.unfreeze()  # Learner(gc_freeze=True) froze the collector's view: undo it for the next run
    return {"bare_pause": bare_pause, "learner_pause": learner_pause, "stalls": stalls,
            "stalls_cpu": stalls_cpu, "during": during, "landed": landed,
            "worker_seconds": worker.seconds, "jobs": worker.jobs,
            "coalesced": worker.coalesced, "probes": len(learner.freeze().probes),
            "nodes_at_end": getattr(learner.model, "n_nodes", None)}


def _dist(values: list[float], *qs: float) -> dict:
    out = {f"p{round(q * 100)}": _pct(values, q) for q in qs}
    return {**out, "max": max(values)}


def summary(name: str, rounds: list[dict], every: int, gc_freeze: bool) -> dict:
    """The rounds of one model and setting pooled: every capture and every event counts once
    (p99 of the stalls over all the rounds' captures; bare River's worst pause over all the
    rounds' events)."""
    def pooled(key: str) -> list:
        return [v for r in rounds for v in r[key]]

    stalls, cpu, during = pooled("stalls"), pooled("stalls_cpu"), pooled("during")
    bare, learner = pooled("bare_pause"), pooled("learner_pause")
    nodes = [r["nodes_at_end"] for r in rounds if r["nodes_at_end"] is not None]
    return {"model": name + (" + Learner(gc_freeze=True)" if gc_freeze else ""),
            "nodes_at_end": max(nodes) if nodes else None,
            "events": len(bare), "every": every, "rounds": len(rounds),
            "snapshots": len(stalls), "probes": rounds[0]["probes"],
            "stall_ms": {"p50": statistics.median(stalls), **_dist(stalls, 0.99)},
            "stall_max_per_round_ms": [max(r["stalls"]) for r in rounds],
            "stall_cpu_ms": {"p50": statistics.median(cpu), **_dist(cpu, 0.99)},
            "bare_pause_ms": _dist(bare, 0.99),
            "learner_pause_ms": _dist(learner, 0.99),
            # full collections in bare learn_one, the Learner's and the captures; young ones
            # in the captures (`capture_young`)
            "collections_in": {k: sum(r["landed"][k] for r in rounds)
                               for k in rounds[0]["landed"]},
            "pause_while_worker_ms": {"p50": statistics.median(during or [0.0]),
                                      "p99": _pct(during or [0.0], 0.99)},
            "worker_ms": {"p50": statistics.median(pooled("worker_seconds")) * 1e3,
                          "jobs": sum(r["jobs"] for r in rounds),
                          "coalesced": sum(r["coalesced"] for r in rounds)},
            "learn_one_us": {"bare": statistics.fmean(bare) * 1e3,
                             "learner": statistics.fmean(learner) * 1e3,
                             "ratio": sum(learner) / sum(bare),
                             # per-event medians: what a steal of the GIL or the CPU does not move
                             "bare_median": statistics.median(bare) * 1e3,
                             "learner_median": statistics.median(learner) * 1e3,
                             "median_ratio": statistics.median(learner)
                             / statistics.median(bare)}}


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
    lines = ["| model | snapshots (every N events; rounds) | probes | stall p50 / p99 / max ms | "
             "its CPU p50 / p99 / max ms | "
             "bare River worst pause ms (p99) | Learner worst pause ms (p99) | loop's worst "
             "pause per worker job p50 / p99 ms | worker ms per job (jobs, coalesced) | "
             "learn_one µs bare → Learner (÷ of medians) | full collections in bare learn_one / "
             "Learner learn_one / captures (young ones in captures) |",
             "|---|---:|---:|---|---|---|---|---|---|---|---|"]
    for r in results:
        s, b, p, u = r["stall_ms"], r["bare_pause_ms"], r["learner_pause_ms"], r["learn_one_us"]
        d, w, c = r["pause_while_worker_ms"], r["worker_ms"], r["stall_cpu_ms"]
        g = r["collections_in"]
        end = f", {r['nodes_at_end']} nodes at end" if r.get("nodes_at_end") else ""
        lines.append(f"| {r['model']}{end} | {r['snapshots']} ({r['every']}; {r['rounds']}) | "
                     f"{r['probes']} | "
                     f"{s['p50']:.2f} / **{s['p99']:.2f}** / {s['max']:.2f} | {c['p50']:.2f} / "
                     f"{c['p99']:.2f} / {c['max']:.2f} | {b['max']:.2f} "
                     f"({b['p99']:.3f}) | {p['max']:.2f} ({p['p99']:.3f}) | {d['p50']:.2f} / "
                     f"{d['p99']:.2f} | {w['p50']:.1f} ({w['jobs']}, {w['coalesced']}) | "
                     f"{u['bare']:.2f} → {u['learner']:.2f} (**{u['ratio']:.3f}×**; "
                     f"{u['median_ratio']:.3f}×) | {g['bare']} / {g['learner']} / "
                     f"{g['capture']} ({g['capture_young']}) |")
    return "\n".join(lines)


def _models(names: str) -> list[tuple]:
    """(name, learned model, its event stream, probe rows) per model asked for."""
    out = []
    if "logreg" in names:
        model, events = _logreg()
        out.append(("scaler\\|logreg", model, events,
                    [x for x, _ in datasets.Phishing().take(32)]))
    if "tree" in names:
        ht, events = _tree()
        out.append((f"nba Hoeffding tree ({ht.n_nodes} nodes at start)", ht, events,
                    [x for x, _ in synth.Agrawal(seed=2, classification_function=4).take(32)]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one round: 100 snapshots, whose p99 is their max")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per model and setting (default 5, 1 with --quick)")
    parser.add_argument("--events", type=int, default=10_000, help="events per round")
    parser.add_argument("--every", type=int, default=100)
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
    rounds = args.rounds or (1 if args.quick else 5)
    models = _models(args.models)
    raw: dict[tuple, list[dict]] = {}
    for k in range(rounds):  # round after round, so that a burst of load hits every setting
        for name, model, events, probe in models:
            chunk = [next(events) for _ in range(args.events)]  # the next events, same start
            for gc_freeze in (False, True):
                raw.setdefault((name, gc_freeze), []).append(
                    run(model, chunk, args.every, probe, gc_freeze))
        print(f"round {k + 1}/{rounds} done", file=sys.stderr, flush=True)
    results = [summary(name, raw[name, gc_freeze], args.every, gc_freeze)
               for gc_freeze in (False, True) for name, *_ in models]
    text = table(results)
    print(text)
    args.out.write_text(json.dumps({"results": results, "markdown": text}, indent=2) + "\n")


if __name__ == "__main__":
    main()
