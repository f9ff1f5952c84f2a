"""SIGKILL soak of the store: a child process learns and publishes versions as fast as it can;
the parent kills it with SIGKILL at a random moment, checks what a reader can see, and starts
the next child, ≥ 100 times. Then one last publish, and a check that nothing is left over.

After every kill: `latest` opens (manifest hash, every file's SHA-256) and every directory in
`versions/` verifies ("torn or unverified visible" counts those that do not); what the kill
left (`.staging/<pid>-*`, `.staging/trash-*`, `.latest.*`) is counted, and once the next child
has published a version, none of it may still be there ("stale leftovers").

    python benchmarks/soak.py [--kills 100] [--max-delay 1.5] [--formats onnx] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(store: str, formats: list[str], seed: int) -> None:
    """Learn Phishing rows in a random order and publish a version every 20 events, forever."""
    from estuary.online import Learner, Manual, Store
    from estuary.online.testing import logreg, phishing

    rows = phishing()
    random.Random(seed).shuffle(rows)
    learner = Learner(logreg(), store=Store(store, keep=5), policy=Manual(), formats=formats)
    print("ready", flush=True)
    while True:
        for x, y in rows:
            learner.learn_one(x, y)
            if learner.n_events % 20 == 0:
                learner.snapshot("soak").result()


def leftovers(root: Path) -> set[str]:
    """What a killed writer can leave: staging and trash directories, `latest` temp files."""
    found = {f".latest temp: {p.name}" for p in root.glob(".latest.*")}
    staging = root / ".staging"
    if staging.is_dir():
        found |= {f".staging: {p.name}" for p in staging.iterdir()}
    return found


def check(root: Path) -> tuple[int, int, list[str]]:
    """(versions visible, torn or unverified among them, what failed)."""
    from estuary.online import Store
    from estuary.online.store import StoreError

    store, failed = Store(root), []
    try:
        if store.latest_number() is not None:
            store.open()
    except StoreError as e:
        failed.append(f"latest: {e}")
    numbers = store.version_numbers()
    for n in numbers:
        try:
            store.open(n)
        except Exception as e:  # noqa: BLE001  any failure is a torn or unverified version
            failed.append(f"version {n}: {type(e).__name__}: {e}")
    return len(numbers), len(failed), failed


def _published(root: Path) -> int:
    from estuary.online import Store
    from estuary.online.store import StoreError

    try:
        return Store(root).latest_number() or 0
    except StoreError:
        return 0


def run_child(root: Path, formats: list[str], seed: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(root), "--formats",
                             ",".join(formats), "--seed", str(seed)], env=env,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"the child did not start (exit {proc.wait()})")
    return proc


def soak(kills: int, max_delay: float, formats: list[str], seed: int) -> dict:
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="estuary-soak-")) / "store"
    figures = {"kills": 0, "torn_or_unverified_visible": 0, "failures": [],
               "kills_leaving_something": 0, "left": {"staging": 0, "trash": 0, "latest_temp": 0},
               "stale_leftovers": 0, "versions_checked": 0}
    pending: set[str] = set()  # left by earlier kills, to be cleaned by the next publish
    start = time.perf_counter()
    for i in range(kills):
        before = _published(root)
        proc = run_child(root, formats, seed + i)
        time.sleep(rng.uniform(0.0, max_delay))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        figures["kills"] += 1
        if _published(root) > before:  # the child committed a version: earlier debris is gone
            figures["stale_leftovers"] += len(pending & leftovers(root))
            pending = set()
        visible, torn, failed = check(root)
        figures["versions_checked"] += visible
        figures["torn_or_unverified_visible"] += torn
        figures["failures"] += failed[:3]
        left = leftovers(root)
        new = left - pending
        if new:
            figures["kills_leaving_something"] += 1
        for item in new:
            kind = ("latest_temp" if item.startswith(".latest") else
                    "trash" if ": trash-" in item else "staging")
            figures["left"][kind] += 1
        pending |= left
        print(f"\r{i + 1}/{kills} kills, latest v{_published(root)}, {torn} torn, "
              f"{len(left)} left over", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    figures.update(_final_publish(root, formats))
    figures["seconds"] = round(time.perf_counter() - start, 1)
    figures["versions_published"] = _published(root)
    return figures


def _final_publish(root: Path, formats: list[str]) -> dict:
    """One publish in this process after the last kill: it must clean everything up."""
    from estuary.online import Learner, Store
    from estuary.online.testing import logreg, phishing

    before = leftovers(root)
    learner = Learner(logreg(), store=Store(root, keep=5), formats=formats)
    for x, y in phishing(40):
        learner.learn_one(x, y)
    result = learner.snapshot("final").result()
    learner.close()
    visible, torn, failed = check(root)
    return {"left_before_final_publish": len(before), "final_published": result.published,
            "left_after_final_publish": sorted(leftovers(root)), "final_torn": torn,
            "final_failures": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--max-delay", type=float, default=1.5,
                        help="kill at a uniform random moment this many seconds after start-up")
    parser.add_argument("--formats", default="onnx")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", metavar="STORE")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    if args.child:
        child(args.child, formats, args.seed)
        return
    figures = soak(args.kills, args.max_delay, formats, args.seed)
    figures["environment"] = {"date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
                              "cpus": os.cpu_count(), "formats": formats}
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    ok = (figures["torn_or_unverified_visible"] == 0 and figures["stale_leftovers"] == 0
          and not figures["left_after_final_publish"] and figures["final_torn"] == 0)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
