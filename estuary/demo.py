"""The demo: learn a River model on a bundled dataset, export it to every registered format and
prove parity in each format's real runtime; then the whole online loop (`online_demo`): the
dataset streamed through a Learner, snapshots published to a versioned store. No downloads, no
printing (the CLI does that).

>>> reports = run_demo("out", "phishing"); all(r.passed for r in reports)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api import export, verify
from .converters.registry import FORMATS
from .converters.river_to_ir.learning import learn as learn_one
from .converters.river_to_ir.learning import learning_mode, scored_row
from .errors import UnknownFormatError, UnsupportedModelError
from .parity import ParityReport

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _phishing() -> tuple[Any, Any]:
    from river import datasets, linear_model, preprocessing

    return datasets.Phishing(), preprocessing.StandardScaler() | linear_model.LogisticRegression()


def _trumpapproval() -> tuple[Any, Any]:
    from river import datasets, linear_model, preprocessing

    return datasets.TrumpApproval(), preprocessing.StandardScaler() | linear_model.LinearRegression()


def _chickweights() -> tuple[Any, Any]:
    from river import compose, datasets, linear_model, preprocessing

    features = ((compose.Select("time") | preprocessing.StandardScaler())
                + (compose.Select("diet") | preprocessing.OneHotEncoder()))
    return datasets.ChickWeights(), features | linear_model.LinearRegression()


def anomaly_stream(n: int = 2000, seed: int = 42) -> list[tuple[dict, bool]]:
    """A seeded synthetic stream (no download): two features around (0.5, 0.5) with sd 0.08,
    and about 2 % anomalies drawn uniformly over [0, 1]²; y says which rows are anomalies."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.02:
            out.append(({"a": rng.random(), "b": rng.random()}, True))
        else:
            out.append(({"a": min(1.0, max(0.0, rng.gauss(0.5, 0.08))),
                         "b": min(1.0, max(0.0, rng.gauss(0.5, 0.08)))}, False))
    return out


def _anomalies() -> tuple[Any, Any]:
    from river import anomaly

    return anomaly_stream(), anomaly.HalfSpaceTrees(n_trees=10, height=6, window_size=200,
                                                    seed=42)


def _bananas() -> tuple[Any, Any]:
    from river import cluster, datasets

    return datasets.Bananas(), cluster.KMeans(n_clusters=4, halflife=0.4, sigma=3, seed=0)


def _airline() -> tuple[Any, Any]:
    from river import datasets, time_series

    return datasets.AirlinePassengers(), time_series.HoltWinters(
        alpha=0.3, beta=0.1, gamma=0.6, seasonality=12, multiplicative=True)


# dataset name → () -> (River dataset, fresh model)
DATASETS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "phishing": _phishing,
    "chickweights": _chickweights,
    "trumpapproval": _trumpapproval,
    "anomalies": _anomalies,  # HalfSpaceTrees on a synthetic stream
    "bananas": _bananas,  # KMeans
    "airline": _airline,  # HoltWinters
}
# `estuary demo --task`: the dataset each task's demo runs on
TASK_DATASETS = {"classification": "phishing", "regression": "trumpapproval",
                 "anomaly": "anomalies", "cluster": "bananas", "forecast": "airline"}


@dataclass(frozen=True)
class DemoRun:
    """One format of the demo: where it went, how long it took, and the parity report."""

    format: str
    path: Path
    size_bytes: int
    export_ms: float
    verify_ms: float
    report: ParityReport


def learn(dataset: str) -> tuple[Any, list[dict]]:
    """Learn the demo model of `dataset` one row at a time; return it and the rows it saw."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown demo dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    stream, model = DATASETS[dataset]()
    mode = learning_mode(model)
    rows = []
    for x, y in stream:
        learn_one(model, x, y, mode)  # River's learn_one for the task (learning.learn)
        rows.append(scored_row(mode, x, y))  # the row the artifact reads
    return model, rows


def demo_runs(out_dir: str | Path, dataset: str = "phishing",
              progress: Progress | None = None) -> list[DemoRun]:
    """Like `run_demo`, with timings and sizes per format (what the CLI table shows)."""
    say = progress or (lambda message: None)
    out_dir = Path(out_dir)
    say(f"learning on {dataset}")
    model, rows = learn(dataset)
    log.info("learned %s on %d rows", type(model).__name__, len(rows))
    runs = []
    for name, fmt in sorted(FORMATS.items()):
        path = out_dir / f"{dataset}{fmt.suffix}"
        say(f"exporting {name} → {path}")
        start = time.perf_counter()
        try:
            artifact = export(model, path, sample=rows, format=name)
        except UnknownFormatError as e:  # the format's runtime is an extra that is not installed
            say(f"skipping {name}: {e}")
            continue
        except UnsupportedModelError as e:  # a format that cannot express this model exactly
            say(f"skipping {name}: {str(e).splitlines()[0]}")
            continue
        export_ms = (time.perf_counter() - start) * 1000
        say(f"verifying {name} on {len(rows)} rows + adversarial probes")
        start = time.perf_counter()
        report = verify(model, path, rows)
        verify_ms = (time.perf_counter() - start) * 1000
        runs.append(DemoRun(name, path, artifact.size_bytes, export_ms, verify_ms, report))
    return runs


def online_demo(out_dir: str | Path, dataset: str = "phishing", every: int = 250,
                progress: Progress | None = None) -> list[Any]:
    """The whole loop: stream `dataset` through a `Learner` that snapshots every `every`
    events; each snapshot is exported to every registered format in a worker, checked in each
    real runtime and published to the store `out_dir/store` only if parity passed. Returns the
    `PublishResult` of every snapshot the worker handled (a snapshot taken while the worker was
    busy is coalesced into the next one)."""
    from .online import EveryN, Learner, Store

    say = progress or (lambda message: None)
    if dataset not in DATASETS:
        raise ValueError(f"unknown demo dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    stream, model = DATASETS[dataset]()
    results: list[Any] = []

    def on_result(result: Any) -> None:
        results.append(result)
        say(result.summary())

    store = Store(Path(out_dir) / "store")
    say(f"streaming {dataset} through a Learner, snapshot every {every} events → {store.root}")
    with Learner(model, store=store, policy=EveryN(every), on_result=on_result) as learner:
        for x, y in stream:
            learner.learn_one(x, y)
        learner.snapshot("end of stream")
    coalesced = learner.n_snapshots - len(results)
    if coalesced > 0:
        say(f"{coalesced} snapshots were coalesced into a newer one while the worker was busy")
    return sorted(results, key=lambda r: r.version or 0)


def run_demo(out_dir: str | Path, dataset: str = "phishing",
             progress: Progress | None = None) -> list[ParityReport]:
    """Learn on a bundled dataset, export to every registered format, verify each one.

    >>> [r.passed for r in run_demo("out", "chickweights")]
    """
    return [run.report for run in demo_runs(out_dir, dataset, progress)]


__all__ = ["DATASETS", "TASK_DATASETS", "DemoRun", "anomaly_stream", "demo_runs", "learn", "online_demo", "run_demo"]
