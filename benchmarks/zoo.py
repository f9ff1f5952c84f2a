"""River zoo benchmarks: ARF(10), ~1k-node Hoeffding trees, the vote ensembles of issue 13
(SRP, AdaBoost, BOLE, ADWIN / leveraging bagging), KNN and AMF exported to ONNX.

    python benchmarks/zoo.py           # ~1 min on 2 shared cores
    python benchmarks/zoo.py --quick   # fewer repeats

Measures export+verify to ONNX (sample = 200 rows + adversarial probes), artifact size, and
predict time per row: River `predict_proba_one` (regressors `predict_one`) row by row vs the
ONNX artifact in onnxruntime (`predict_proba_many` / `predict_many` on 1000 dict rows, encoding
included). Medians after a warm-up. Prints a
markdown table and writes benchmarks/results_zoo.json. Only River's bundled datasets are used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnxruntime
import river
from river import compose, datasets, ensemble, forest, linear_model, neighbors, preprocessing, tree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import estuary  # noqa: E402

N_SAMPLE = 200
N_PREDICT = 1000


def _rows(dataset, passes: int = 1) -> list[tuple[dict, object]]:
    data = [(dict(x), y) for x, y in dataset()]
    return data * passes


def _learn(model, data):
    for x, y in data:
        model.learn_one(x, y)
    return model


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _nodes(model) -> int:
    """Tree nodes of a tree or of an ensemble's members (SRP wraps each in `.model`)."""
    members = getattr(model, "models", None) or [model]
    return sum(getattr(getattr(m, "model", m), "n_nodes", 0) or 0 for m in members)


def measure(name: str, model, rows: list[dict], repeats: int) -> dict:
    tmp = Path(tempfile.mkdtemp())
    sample = rows[:N_SAMPLE]
    path = tmp / "model.onnx"
    export_ms = _median_ms(lambda: estuary.export(model, path, sample=sample), repeats)
    verify_ms = _median_ms(lambda: estuary.verify(model, path, sample), repeats)
    report = estuary.verify(model, path, sample)
    loaded = estuary.load(path)
    batch = (rows * (N_PREDICT // len(rows) + 1))[:N_PREDICT]

    regressor = isinstance(model, river.base.Regressor)
    river_predict = model.predict_one if regressor else model.predict_proba_one
    ort_predict = loaded.predict_many if regressor else loaded.predict_proba_many

    def river_one():
        for x in batch:
            river_predict(x)

    river_us = _median_ms(river_one, repeats) * 1000 / N_PREDICT
    ort_us = _median_ms(lambda: ort_predict(batch), repeats) * 1000 / N_PREDICT
    return {
        "model": name, "nodes": _nodes(model),
        "export_ms": export_ms, "verify_ms": verify_ms, "export_verify_ms": export_ms + verify_ms,
        "passed": report.passed, "rows": report.n_rows, "max_abs_diff": report.max_abs_diff,
        "bytes": path.stat().st_size, "river_us_per_row": river_us, "ort_many_us_per_row": ort_us,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    start = time.perf_counter()
    phishing = _rows(datasets.Phishing)
    images = _rows(datasets.ImageSegments, passes=2)
    cases = [
        ("ARF(10) Phishing", _learn(forest.ARFClassifier(n_models=10, seed=1), phishing),
         [x for x, _ in phishing]),
        ("HT clf (nba) ImageSegments ×2", _learn(
            tree.HoeffdingTreeClassifier(grace_period=2, delta=0.9, tau=0.5), images),
         [x for x, _ in images]),
        ("HT clf (mc) ImageSegments ×2", _learn(
            tree.HoeffdingTreeClassifier(grace_period=2, delta=0.9, tau=0.5, leaf_prediction="mc"),
            images), [x for x, _ in images]),
    ]
    htc = {"grace_period": 20, "delta": 0.5, "tau": 0.5}
    xs = [x for x, _ in phishing]
    cases += [
        ("SRP(5 HT) Phishing", _learn(ensemble.SRPClassifier(
            tree.HoeffdingTreeClassifier(**htc), n_models=5, seed=1), phishing), xs),
        ("AdaBoost(5 HT) Phishing", _learn(ensemble.AdaBoostClassifier(
            tree.HoeffdingTreeClassifier(**htc), n_models=5, seed=1), phishing), xs),
        ("BOLE(5 HT) Phishing", _learn(ensemble.BOLEClassifier(
            tree.HoeffdingTreeClassifier(**htc), n_models=5, seed=1), phishing), xs),
        ("ADWIN bagging(5 HT) Phishing", _learn(ensemble.ADWINBaggingClassifier(
            tree.HoeffdingTreeClassifier(**htc), n_models=5, seed=1), phishing), xs),
        ("Leveraging bagging(5 scaler+logreg) Phishing", _learn(
            ensemble.LeveragingBaggingClassifier(
                preprocessing.StandardScaler() | linear_model.LogisticRegression(), n_models=5,
                seed=1), phishing), xs),
    ]
    trump = _rows(datasets.TrumpApproval)
    phishing_keys, trump_keys = tuple(phishing[0][0]), tuple(trump[0][0])
    cases += [
        ("KNN clf (k=5, LazySearch 50) Phishing", _learn(compose.Select(*phishing_keys)
         | preprocessing.StandardScaler() | neighbors.KNNClassifier(
             engine=neighbors.LazySearch(window_size=50)), phishing), xs),
        ("KNN clf (SWINN before warm-up, 500 points) Phishing", _learn(
            compose.Select(*phishing_keys) | preprocessing.StandardScaler()
            | neighbors.KNNClassifier(engine=neighbors.SWINN(maxlen=500, warm_up=500)),
            phishing), xs),
        ("KNN reg (weighted, LazySearch 50) TrumpApproval", _learn(
            compose.Select(*trump_keys) | preprocessing.StandardScaler()
            | neighbors.KNNRegressor(engine=neighbors.LazySearch(window_size=50),
                                     aggregation_method="weighted_mean"), trump),
         [x for x, _ in trump]),
        ("AMF clf(10) Phishing", _learn(forest.AMFClassifier(n_estimators=10, seed=1),
                                        phishing), xs),
        ("AMF reg(10) TrumpApproval", _learn(forest.AMFRegressor(n_estimators=10, seed=1),
                                             trump), [x for x, _ in trump]),
    ]
    results = [measure(name, model, rows, repeats) for name, model, rows in cases]
    lines = ["| model | tree nodes | export ms | verify ms | export+verify ms | parity (rows, max diff) "
             "| ONNX bytes | River proba_one µs/row | ORT many µs/row (1k) | River/ORT |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['nodes']} | {r['export_ms']:.1f} | {r['verify_ms']:.1f} | "
            f"{r['export_verify_ms']:.1f} | {'pass' if r['passed'] else 'FAIL'} ({r['rows']}, "
            f"{r['max_abs_diff']:.1e}) | {r['bytes']:,} | {r['river_us_per_row']:.1f} | "
            f"{r['ort_many_us_per_row']:.2f} | "
            f"{r['river_us_per_row'] / r['ort_many_us_per_row']:.1f}× |")
    print("\n".join(lines))
    print(f"\nriver {river.__version__} · onnxruntime {onnxruntime.__version__} · "
          f"{time.perf_counter() - start:.1f} s")
    (HERE / "results_zoo.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
