"""How far from the data TF.js (float32) still answers as River does, for trees with
naive-Bayes leaves and ARF.

    python benchmarks/tfjs_reach.py [--every 10]

Per dataset and model (Hoeffding tree with `nba` leaves, ARF of 5 trees; 2,000 events): the
TF.js artifact runs in real @tensorflow/tfjs under Node on rows made from every `--every`-th
training row, for each scale s: one random feature multiplied by s ("one feature"), and every
feature plus s · N(0, 1) noise ("noise"). A case passes a scale when the parity report passes
(labels 100 %, probabilities within 1e-4). Routing is exact at every scale (order keys); what
gives way is float32's range in the naive-Bayes votes: a squared distance beyond ~3.4e38 (an
input ~1e19 standard deviations from a class mean) cannot be held, and River's own float64 votes
are rounding noise well before that where two classes' terms are that large and that close.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import tempfile
from pathlib import Path

import numpy as np
from river import datasets, forest, tree
from river.datasets import synth

import estuary
from estuary.parity import compare
from estuary.parity.probes import Probe
from estuary.runtimes.node import load_tfjs, runner

SOURCES = {
    "Phishing": datasets.Phishing,
    "Bananas": datasets.Bananas,
    "ImageSegments": datasets.ImageSegments,
    "RandomRBF(4 classes)": lambda: synth.RandomRBF(seed_model=1, seed_sample=1, n_classes=4,
                                                    n_features=8),
    "Hyperplane(10)": lambda: synth.Hyperplane(seed=1, n_features=10),
    "Waveform": lambda: synth.Waveform(seed=1),
}
MODELS = {
    "HT nba": lambda: tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5),
    "ARF(5)": lambda: forest.ARFClassifier(n_models=5, seed=1),
}
SCALES = (1e3, 1e6, 1e9, 1e12, 1e15, 1e17, 1e18, 1e19, 1e20, 1e30)


def probes(rows: list[dict], scale: float, every: int, rng: np.random.Generator) -> list[Probe]:
    out = []
    for r in rows[::every]:
        k = list(r)[rng.integers(len(r))]
        out.append(Probe({**r, k: r[k] * scale if r[k] else scale}, "one feature"))
        out.append(Probe({key: v + rng.normal() * scale for key, v in r.items()}, "noise"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    passed: dict[float, int] = collections.Counter()
    cases = 0
    print("| dataset | model | " + " | ".join(f"{s:g}" for s in SCALES) + " |")
    print("|---|---|" + "---:|" * len(SCALES))
    with tempfile.TemporaryDirectory() as tmp:
        for (dname, source), (mname, make) in itertools.product(SOURCES.items(), MODELS.items()):
            model, rows = make(), []
            for x, y in itertools.islice(source(), 2000):
                model.learn_one(x, y)
                rows.append(x)
            path = Path(tmp) / f"{len(rows)}-{cases}.tfjs"
            estuary.export(model, path, sample=rows[:20])
            loaded = load_tfjs(path)
            cells = []
            for s in SCALES:
                report = compare(model, loaded, probes(rows, s, args.every, rng))
                passed[s] += report.passed
                cells.append("pass" if report.passed else f"{report.label_agreement:.1%}")
            cases += 1
            print(f"| {dname} | {mname} | " + " | ".join(cells) + " |", flush=True)
    print("| **cases passing** | | " + " | ".join(f"{passed[s]}/{cases}" for s in SCALES) + " |")
    runner().close()


if __name__ == "__main__":
    main()
