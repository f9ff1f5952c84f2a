"""Batch scoring on Spark `local[2]` equals `estuary.load(...).predict_proba_many`, row for row.

Needs Java 17 and pyspark (the `spark` extra): a missing runtime fails here, never skips.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pandas as pd
import pytest
from river import tree

import estuary
from estuary.columnar import ColumnarEncoder
from estuary.errors import ArtifactError, ColumnClashError, InvalidInputError
from estuary.online import Learner, Store
from estuary.scale import spark as es


def _row(rng: random.Random) -> tuple[dict, bool]:
    c = rng.choice(["red", "green", "blue"])
    x = {"x1": rng.gauss(0, 1), "x2": rng.gauss(0, 1), "c": c}
    return x, (x["x1"] + (1.5 if c == "red" else -0.5) + 0.3 * rng.gauss(0, 1)) > 0


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = random.Random(1)
    root = tmp_path_factory.mktemp("store")
    with Learner(tree.HoeffdingTreeClassifier(grace_period=50), store=Store(root),
                 formats=["onnx"]) as learner:
        for _ in range(3000):
            learner.learn_one(*_row(rng))
        assert learner.snapshot().result().published
    return root


@pytest.fixture(scope="module")
def spark():
    session = es.local_session("local[2]", "estuary-tests")
    yield session
    session.stop()


def _frame(n: int) -> pd.DataFrame:
    """Rows with nulls, NaN, unseen categories and a column the model never saw."""
    rng = random.Random(5)
    rows = [_row(rng)[0] for _ in range(n)]
    frame = pd.DataFrame(rows)
    frame["id"] = np.arange(n)
    frame["other"] = "ignored"
    frame.loc[frame.index % 17 == 0, "x1"] = None
    frame.loc[frame.index % 23 == 0, "x2"] = float("nan")
    frame.loc[frame.index % 29 == 0, "c"] = None
    frame.loc[frame.index % 31 == 0, "c"] = "purple"
    return frame


def _dict_rows(frame: pd.DataFrame, features: list[str]) -> list[dict]:
    """The same rows as River-style dicts: a null or NaN is a key left out."""
    return [{k: v for k, v in rec.items() if k in features and v is not None and v == v}
            for rec in frame.to_dict("records")]


def test_spark_scores_exactly_like_estuary_load(spark, store):
    frame = _frame(10_000)
    df = spark.createDataFrame(frame).repartition(4)
    scored = es.predict(df, store).toPandas().sort_values("id").reset_index(drop=True)
    local = estuary.load(Store(store).open().file_for("onnx"))
    rows = _dict_rows(frame, ["x1", "x2", "c"])
    expected = local.predict_proba_many(rows)
    got = np.vstack(scored["probabilities"].to_numpy())
    assert got.shape == (10_000, 2) and np.array_equal(got, expected)
    assert scored["prediction"].tolist() == local.predict_many(rows)
    assert scored["other"].eq("ignored").all() and scored["id"].tolist() == list(range(10_000))

    # a missing column is a missing feature on every row
    without = es.predict(spark.createDataFrame(frame.drop(columns=["x2"])), store).toPandas()
    without = without.sort_values("id")
    expected = local.predict_proba_many(_dict_rows(frame, ["x1", "c"]))
    assert np.array_equal(np.vstack(without["probabilities"].to_numpy()), expected)


def test_bad_columns_fail_before_scoring(spark, store):
    frame = _frame(50)
    frame["x1"] = frame["x1"].astype(str)
    with pytest.raises(InvalidInputError, match="x1"):
        es.predict(spark.createDataFrame(frame), store)
    with pytest.raises(ArtifactError, match="not"):
        es.worker_model(b"not the artifact", "0" * 64)


def test_columnar_encoding_matches_row_encoding(store):
    local = estuary.load(Store(store).open().file_for("onnx"))
    frame = _frame(500)
    X = ColumnarEncoder(local.metadata.schema).encode(frame)
    assert np.array_equal(X, local.encoder.encode_many(_dict_rows(frame, ["x1", "x2", "c"])),
                          equal_nan=True)


def test_score_command_local_and_spark_agree(spark, store, tmp_path):
    import json

    from typer.testing import CliRunner

    from estuary.cli import app

    frame = _frame(2000)
    frame.to_parquet(tmp_path / "rows.parquet", index=False)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    runner = CliRunner()
    for args in (["rows.parquet", "local.parquet"], ["rows.parquet", "spark.parquet",
                                                      "--engine", "spark"],
                 ["rows.csv", "local.csv"]):
        result = runner.invoke(app, ["score", *(str(tmp_path / a) if a.endswith(("parquet", "csv"))
                                                else a for a in args), "--model", str(store)])
        assert result.exit_code == 0, result.output
    local = pd.read_parquet(tmp_path / "local.parquet")
    on_spark = pd.read_parquet(tmp_path / "spark.parquet").sort_values("id")
    expected = estuary.load(Store(store).open().file_for("onnx")).predict_proba_many(
        _dict_rows(frame, ["x1", "x2", "c"]))
    assert np.array_equal(np.vstack(local["probabilities"].to_numpy()), expected)
    assert np.array_equal(np.vstack(on_spark["probabilities"].to_numpy()), expected)
    assert local["prediction"].tolist() == on_spark["prediction"].tolist()
    from_csv = pd.read_csv(tmp_path / "local.csv")
    read_back = pd.read_csv(tmp_path / "rows.csv")  # pandas' CSV floats may differ in the last bit
    expected = estuary.load(Store(store).open().file_for("onnx")).predict_proba_many(
        _dict_rows(read_back, ["x1", "x2", "c"]))
    assert np.array_equal(np.array([json.loads(p) for p in from_csv["probabilities"]]), expected)
    bad = runner.invoke(app, ["score", str(tmp_path / "rows.txt"), str(tmp_path / "o.parquet"),
                              "--model", str(store)])
    assert bad.exit_code == 2 and ".parquet" in bad.stderr


def test_estuary_spark_predict_is_the_issue_api(spark, store):
    from estuary import spark as public

    frame = _frame(3000)
    df = spark.createDataFrame(frame).repartition(3)
    latest = public.predict(df, store).toPandas().sort_values("id")
    pinned = public.predict(df, str(store), version=1).toPandas().sort_values("id")
    expected = estuary.load(Store(store).open().file_for("onnx")).predict_proba_many(
        _dict_rows(frame, ["x1", "x2", "c"]))
    for scored in (latest, pinned):
        assert np.array_equal(np.vstack(scored["probabilities"].to_numpy()), expected)
    with pytest.raises(ArtifactError, match="version 7"):
        public.predict(df, store, version=7)


def _exported(case_id: str, tmp_path) -> tuple[object, list[dict]]:
    """(loaded ONNX artifact, rows) of a catalogue case."""
    from conftest import learned

    model, rows = learned(case_id)
    path = tmp_path / f"{case_id.replace('|', '_')}.onnx"
    estuary.export(model, path, sample=rows[:20], format="onnx")
    return path, rows


def test_anomaly_filter_and_clusterer_score_by_the_task_table(spark, tmp_path):
    """Other tasks' artifacts gain the columns the task table names (estuary.scale.outputs):
    an anomaly filter `prediction` (River's score_one) and `is_anomaly`; a clusterer
    `prediction` (the cluster id) and `distances`; equal to estuary.load's, row for row."""
    path, rows = _exported("minmax|quantile-filter(hst)", tmp_path)
    loaded = estuary.load(path)
    frame = pd.DataFrame(rows[:3000]).assign(id=np.arange(min(3000, len(rows))))
    scored = es.predict(spark.createDataFrame(frame).repartition(3), path).toPandas()
    scored = scored.sort_values("id").reset_index(drop=True)
    dicts = frame.drop(columns="id").to_dict("records")
    out = loaded.run(loaded.encoder.encode_many(dicts))
    assert scored.columns.tolist() == [*frame.columns, "prediction", "is_anomaly"]
    assert np.array_equal(scored["prediction"].to_numpy(), loaded.score_many(dicts))
    assert scored["is_anomaly"].tolist() == out["is_anomaly"].astype(bool).tolist()
    assert 0 < scored["is_anomaly"].sum() < len(scored)

    path, rows = _exported("scaler|kmeans", tmp_path)
    loaded = estuary.load(path)
    frame = pd.DataFrame(rows[:2000]).assign(id=np.arange(min(2000, len(rows))))
    scored = es.predict(spark.createDataFrame(frame), path).toPandas().sort_values("id")
    dicts = frame.drop(columns="id").to_dict("records")
    assert scored["prediction"].tolist() == loaded.predict_many(dicts)
    assert np.array_equal(np.vstack(scored["distances"].to_numpy()),
                          loaded.distances_many(dicts))


def test_per_target_models_are_refused_naming_what_to_use(spark, tmp_path):
    from estuary.errors import WrongTaskError

    path, rows = _exported("regressor-chain(scaler|linreg)", tmp_path)
    df = spark.createDataFrame(pd.DataFrame(rows[:10]))
    with pytest.raises(WrongTaskError, match="multitarget.*predict_many"):
        es.predict(df, path)
    import pyarrow as pa

    with pytest.raises(WrongTaskError, match="multitarget.*predict_many"):
        es.score_batch(estuary.load(path), pa.RecordBatch.from_pylist(rows[:10]))


def test_a_column_scoring_adds_is_refused_before_any_row_is_scored(spark, store, tmp_path):
    """A table scored before (it has `prediction`) is refused naming the column, by the Spark
    engine and by `estuary score`; nothing is written."""
    from typer.testing import CliRunner

    from estuary.cli import app

    frame = _frame(200)
    frame["Prediction"] = 1.0  # Spark resolves names case-insensitively
    from estuary.spark import predict

    for engine in ("arrow", "sql"):
        with pytest.raises(ColumnClashError, match="'Prediction'.*drop or rename") as e:
            predict(spark.createDataFrame(frame), store, engine=engine)
        assert e.value.column == "Prediction"
    frame.to_parquet(tmp_path / "scored_before.parquet", index=False)
    for engine in ("local", "spark", "spark-sql"):
        out = tmp_path / f"{engine}.parquet"
        result = CliRunner().invoke(app, ["score", str(tmp_path / "scored_before.parquet"),
                                          str(out), "--model", str(store), "--engine", engine])
        assert result.exit_code == 2, result.output
        assert "column 'Prediction'" in result.stderr
        assert not out.exists()


WORKERS_WITHOUT_RIVER = """
import sys
import pandas as pd
from pyspark.sql import SparkSession
from estuary.errors import WorkerEnvironmentError
from estuary.scale import spark as es

spark = (SparkSession.builder.master("local[2]").appName("estuary-bad-workers")
         .config("spark.ui.enabled", "false").getOrCreate())
frame = spark.createDataFrame(pd.DataFrame({"x1": [0.5], "x2": [1.0], "c": ["red"]}))
try:
    es.predict(frame, sys.argv[1])
except WorkerEnvironmentError as e:
    print(str(e))
    sys.exit(3)
finally:
    spark.stop()
"""


def test_workers_whose_python_lacks_river_are_named_before_any_row_is_scored(store, tmp_path):
    """A user's own session whose workers run a Python without estuary/River ($PYSPARK_PYTHON
    is the system Python): a typed error naming that interpreter and the setting, not a Py4J trace from the
    first write. Run in its own process: one SparkContext per process."""
    import subprocess
    import sys

    system_python = "/usr/bin/python3"
    lacks = subprocess.run([system_python, "-c", "import river"], capture_output=True, text=True)
    assert lacks.returncode == 1 and "No module named 'river'" in lacks.stderr  # the premise
    script = tmp_path / "bad_workers.py"
    script.write_text(WORKERS_WITHOUT_RIVER)
    env = {**os.environ, "PYSPARK_PYTHON": system_python}  # the user's setting
    env.pop("PYSPARK_DRIVER_PYTHON", None)
    run = subprocess.run([sys.executable, str(script), str(store)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 3, run.stdout + run.stderr
    message = run.stdout.strip()
    # then ", estuary" unless the inherited PYTHONPATH holds estuary's source tree
    assert message.startswith(f"Spark's Python workers run {system_python}, which has no "
                              "numpy, pyarrow, onnxruntime, river")
    assert "(the scoring tasks would fail with ModuleNotFoundError): point $PYSPARK_PYTHON" in message
    assert message.endswith("point $PYSPARK_PYTHON (set before the SparkSession starts; with "
                            "spark-submit, spark.pyspark.python) at a Python with `pip install "
                            f"estuary-ml[spark]`, e.g. this driver's {sys.executable}")
