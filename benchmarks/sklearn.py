"""scikit-learn source path: export + verify time per model × format, artifact size, and
onnxruntime vs scikit-learn predict time (one row, and a 1000-row batch).

    python benchmarks/sklearn.py            # prints a table; writes benchmarks/results_sklearn.json
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# real scikit-learn package: drop the folder before anything imports sklearn.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import estuary  # noqa: E402
from estuary.errors import UnsupportedModelError  # noqa: E402
from estuary.sklearn import versions  # noqa: E402

OUT = Path(__file__).with_name("results_sklearn.json")
FORMATS = {"onnx": ".onnx", "pmml": ".pmml", "coreml": ".mlmodel"}


def models():
    from sklearn import datasets
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    iris = datasets.load_iris(return_X_y=True)
    cancer = datasets.load_breast_cancer(return_X_y=True)
    diabetes = datasets.load_diabetes(return_X_y=True)
    return {
        "StandardScaler+LogisticRegression (iris)": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), iris),
        "LogisticRegression binary (cancer)": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), cancer),
        "LinearRegression (diabetes)": (LinearRegression(), diabetes),
        "Ridge (diabetes)": (Ridge(), diabetes),
        "DecisionTreeClassifier (cancer)": (DecisionTreeClassifier(random_state=0), cancer),
        "DecisionTreeRegressor (diabetes)": (DecisionTreeRegressor(random_state=0), diabetes),
        "RandomForestClassifier 100 (iris)": (RandomForestClassifier(100, random_state=0), iris),
        "RandomForestRegressor 100 (diabetes)": (RandomForestRegressor(100, random_state=0), diabetes),
        "GradientBoostingClassifier 100 (cancer)": (GradientBoostingClassifier(random_state=0), cancer),
        "GaussianNB (iris)": (GaussianNB(), iris),
    }


def per_row(fn, rows, repeat: int = 200) -> float:
    start = time.perf_counter()
    for i in range(repeat):
        fn(rows[i % len(rows)])
    return (time.perf_counter() - start) / repeat


def main() -> None:
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    results = {"versions": versions(), "rows": []}
    tmp = Path(tempfile.mkdtemp())
    print(f"{'model':42} {'format':7} {'export':>8} {'verify':>8} {'size':>9}  parity")
    for name, (model, (X, y)) in models().items():
        model.fit(X, y)
        for fmt, suffix in FORMATS.items():
            path = tmp / f"m{suffix}"
            row = {"model": name, "format": fmt}
            t0 = time.perf_counter()
            try:
                estuary.export(model, path, sample=X[:20])
            except UnsupportedModelError as e:
                row["refused"] = str(e).split(". Supported")[0]
                results["rows"].append(row)
                print(f"{name:42} {fmt:7} refused: {row['refused'][:90]}")
                continue
            t1 = time.perf_counter()
            report = estuary.verify(model, path, X)
            t2 = time.perf_counter()
            row.update(export_s=t1 - t0, verify_s=t2 - t1, size=path.stat().st_size,
                       passed=report.passed, max_abs_diff=report.max_abs_diff,
                       max_scaled_diff=report.max_scaled_diff, rows=report.n_rows,
                       precision=report.precision, runtime=report.runtime)
            if fmt == "onnx":
                loaded = estuary.load(path)
                rows = [x.reshape(1, -1) for x in X[:200]]
                predict = model.predict_proba if hasattr(model, "predict_proba") else model.predict
                row["ort_row_us"] = per_row(loaded.run, rows) * 1e6
                row["sklearn_row_us"] = per_row(predict, rows) * 1e6
                batch = np.resize(X, (1000, X.shape[1]))
                row["ort_1000_ms"] = per_row(loaded.run, [batch], 20) * 1e3
                row["sklearn_1000_ms"] = per_row(predict, [batch], 20) * 1e3
            results["rows"].append(row)
            extra = (f"  ORT {row['ort_row_us']:.0f} µs/row vs sklearn {row['sklearn_row_us']:.0f}"
                     if fmt == "onnx" else "")
            print(f"{name:42} {fmt:7} {row['export_s']:7.2f}s {row['verify_s']:7.2f}s "
                  f"{row['size']:9d}  {'PASS' if report.passed else 'FAIL'} "
                  f"max diff {report.max_scaled_diff:.2g} ({report.precision}){extra}")
    OUT.write_text(json.dumps(results, indent=1, sort_keys=True))
    print(json.dumps(results["versions"]))


if __name__ == "__main__":
    main()
