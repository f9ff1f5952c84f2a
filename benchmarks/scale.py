"""Batch scoring rows/s: Spark `local[2]` (`estuary.scale.spark.predict`, mapInPandas + one
onnxruntime session per Python worker) vs the same artifact in one process: plain onnxruntime
on a prebuilt float64 matrix, and estuary's columnar path (`encode_frame` + `run`) on pandas.

    python benchmarks/spark.py [--rows 1000000] [--out benchmarks/results_spark.json]

Model: StandardScaler | LogisticRegression learned on Phishing (9 numeric features), published
to a throwaway store (ONNX). Rows: Phishing jittered to `--rows`. Batches of 10,000 rows
everywhere (Spark: `spark.sql.execution.arrow.maxRecordsPerBatch`). Spark's input DataFrame is
cached and counted first; each Spark run writes to the `noop` sink (scoring, no collect). The
first Spark run also starts the Python workers and loads the model in each (`cold`); the best
of the next runs is `warm`. An identity `mapInPandas` over the same DataFrame (no scoring) is
Spark's floor. onnxruntime runs one thread per session everywhere.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime
import pandas as pd
import pyspark
from river import linear_model, preprocessing

import estuary
from estuary.online import Learner, Store
from estuary.online.testing import phishing
from estuary.scale import spark as es
from estuary.scale.columns import encode_frame

BATCH = 10_000


def _frame(n: int) -> pd.DataFrame:
    rows = phishing()
    base = pd.DataFrame([x for x, _ in rows]).astype("float64")
    reps = -(-n // len(base))
    frame = pd.concat([base] * reps, ignore_index=True).iloc[:n]
    rnd = np.random.default_rng(0)
    return frame * (1 + 0.3 * rnd.standard_normal(frame.shape))


def _publish(root: Path) -> Path:
    with Learner(preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                 store=Store(root), formats=["onnx"]) as learner:
        for x, y in phishing():
            learner.learn_one(x, y)
        assert learner.snapshot().result().published
    return Store(root).open().file_for("onnx")


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _identity(batches):
    yield from batches  # Spark's own cost: JVM → Arrow → pandas → Arrow → JVM, no scoring


def _spark(frame: pd.DataFrame, root: Path, runs: int) -> dict[str, float]:
    start = time.perf_counter()
    spark = es.local_session("local[2]", "estuary-bench")
    session_s = time.perf_counter() - start
    try:
        df = spark.createDataFrame(frame).repartition(4).cache()
        df.count()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            es.predict(df, root).write.format("noop").mode("overwrite").save()
            times.append(time.perf_counter() - start)
        floor = _best(lambda: df.mapInPandas(_identity, df.schema).write.format("noop")
                      .mode("overwrite").save())
    finally:
        spark.stop()
    return {"session_start_s": round(session_s, 2), "cold_s": round(times[0], 2),
            "identity_mapInPandas_rows_per_s": round(len(frame) / floor),
            "warm_s": round(min(times[1:]), 3), "rows_per_s_cold": round(len(frame) / times[0]),
            "rows_per_s_warm": round(len(frame) / min(times[1:]))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_spark.json"))
    args = ap.parse_args()
    frame = _frame(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        model = estuary.load(_publish(root))
        X = encode_frame(model.metadata.schema, frame)
        session = model.backend.session
        plain = _best(lambda: [session.run(None, {"input": X[i:i + BATCH]})
                               for i in range(0, len(X), BATCH)])
        columnar = _best(lambda: [model.run(encode_frame(model.metadata.schema,
                                                          frame.iloc[i:i + BATCH]))
                                  for i in range(0, len(frame), BATCH)])
        spark = _spark(frame, root, args.runs)
    per_core = spark["rows_per_s_warm"] / 2
    out = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": platform.machine(),
           "python": platform.python_version(), "pyspark": pyspark.__version__,
           "pandas": pd.__version__, "onnxruntime": onnxruntime.__version__,
           "rows": args.rows, "batch": BATCH,
           "plain_ort_rows_per_s": round(args.rows / plain),
           "estuary_columnar_rows_per_s": round(args.rows / columnar),
           "spark_local2": spark,
           "spark_per_core_vs_plain_ort": round(per_core / (args.rows / plain), 3)}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    random.seed(0)
    main()
