"""Batch scoring on Spark: a published version over a DataFrame, through `mapInArrow`.

The artifact's bytes go to the executors once (a broadcast) with their SHA-256; each Python
worker checks the hash, loads the artifact once (onnxruntime, golden vectors re-run exactly as
`estuary.load` does) and keeps that one session for every batch it is given (Spark reuses its
Python workers). A batch arrives as an Arrow RecordBatch; its feature columns are read straight
into the input matrix by the schema (`estuary.columnar`: no per-row dicts, no pandas); a
missing column, a null and a NaN are "missing". The output columns are built as Arrow arrays
(the probabilities one flat buffer with offsets) and the input columns pass through untouched:
`mapInPandas` spent most of its time converting to and from pandas (benchmarks/scale.py).
Column types are checked on the driver, before any row is scored.

Output columns, after the input columns, from the task table (`estuary.scale.outputs`):
`prediction` (the class, typed like the model's classes, or the regression value / anomaly
score / forecast) and, for classifiers, `probabilities` (array<double> in the classes' order),
for clusterers `distances`, for anomaly filters `is_anomaly`.

>>> spark = local_session()  # or your cluster's session; pip install estuary-ml[spark]
>>> scored = predict(spark.read.parquet("rows.parquet"), "models")  # latest version of a store
>>> scored.select("prediction", "probabilities").show()
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ArtifactError, InvalidInputError, OutOfRangeError
from .outputs import output_columns, refuse_clashes
from .spark_workers import check_workers

_WORKER_MODELS: dict[str, Any] = {}  # sha256 → LoadedModel, one per Python worker process
# How a refused row reaches the driver: Spark re-raises a Python worker's exception as text
# (PythonException: its traceback, whose last line starts with this) and the SQL engine's
# `raise_error` as a Java RuntimeException with this text; neither keeps the Python type
REFUSED = f"{OutOfRangeError.__module__}.{OutOfRangeError.__name__}: "
_REFUSAL = re.compile(re.escape(REFUSED) + r"feature ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|"
                      r"\\.)*\"): ([^\n]*)")


@dataclass(frozen=True)
class Artifact:
    """An ONNX artifact's bytes, their SHA-256 and where they came from."""

    data: bytes
    sha256: str
    source: str


def resolve(model: Any, version: int | None = None) -> Artifact:
    """A store (a `Store` or its directory; `version` or the latest) or an `.onnx` file → the
    verified bytes of its ONNX artifact."""
    from ..online.store import Store

    if isinstance(model, (str, Path)) and Path(model).suffix == ".onnx":
        data = Path(model).read_bytes()
        return Artifact(data, hashlib.sha256(data).hexdigest(), str(model))
    store = model if isinstance(model, Store) else Store(model)
    v = store.open(version)  # every file checked against the manifest
    path = v.file_for("onnx")
    data = path.read_bytes()
    expected = v.manifest.files[path.relative_to(v.path).as_posix()].sha256
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ArtifactError(f"{path} changed since it was verified (sha256 {digest[:12]}…, "
                            f"manifest {expected[:12]}…): do not score with it")
    return Artifact(data, digest, f"{store.root} version {v.number}")


def worker_model(data: bytes, sha256: str) -> Any:
    """The loaded artifact of this Python process (made once): the hash is checked on the
    executor, then `estuary.runtimes.load` re-runs the golden vectors."""
    model = _WORKER_MODELS.get(sha256)
    if model is None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise ArtifactError(f"the artifact shipped to this executor hashes to {digest}, not "
                                f"{sha256}: refusing to score with it")
        from ..runtimes import load

        path = Path(tempfile.mkdtemp(prefix="estuary-")) / f"{sha256[:16]}.onnx"
        path.write_bytes(data)
        model = _WORKER_MODELS[sha256] = load(path)
    return model


def _spark_label_type(classes: tuple) -> Any:
    from pyspark.sql import types as T

    if all(isinstance(c, bool) for c in classes):
        return T.BooleanType()
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return T.LongType()
    if all(isinstance(c, float) for c in classes):
        return T.DoubleType()
    return T.StringType()


def _check_columns(df: Any, schema: Any, types: dict[str, Any] | None = None) -> None:
    """Check each feature's Spark column type before scoring (Arrow keeps a nullable integer
    column integral, so a category `1` is read as `1`, never `1.0`). `types`: df's column
    types when the caller already has them (reading `df.schema` is a JVM round trip)."""
    from pyspark.sql import types as T

    if types is None:
        types = {f.name: f.dataType for f in df.schema.fields}
    for f in schema.features:
        kind = types.get(f.name)
        if kind is None:
            continue  # missing column: every row has this feature missing
        if f.kind == "categorical":
            if not isinstance(kind, (T.StringType, T.BooleanType, T.NumericType)):
                raise InvalidInputError(f.name, f"Spark column of {kind.simpleString()} for a "
                                        "categorical feature: use strings or numbers")
        elif not isinstance(kind, (T.NumericType, T.BooleanType)):
            raise InvalidInputError(f.name, f"Spark column of {kind.simpleString()} where the "
                                    "model expects numbers: cast it before scoring")


def predict(df: Any, model: Any, version: int | str | None = None) -> Any:
    """`df` with the task's output columns (`estuary.scale.outputs`: `prediction`, and
    `probabilities` for a classifier, `distances` for a clusterer, `is_anomaly` for an anomaly
    filter), scored by the ONNX artifact of `model`: a store (its `latest`, or `version`) or an
    `.onnx` file.

    >>> predict(spark.createDataFrame(pandas_rows), "models", version=3).toPandas()
    """
    from pyspark.sql import types as T

    from ..runtimes import load

    artifact = resolve(model, None if version == "latest" else version)
    with tempfile.TemporaryDirectory(prefix="estuary-") as tmp:  # the driver checks it too
        path = Path(tmp) / "model.onnx"
        path.write_bytes(artifact.data)
        loaded = load(path)
        columns = output_columns(loaded.task, _output_names(loaded))
    _check_columns(df, loaded.metadata.schema)
    refuse_clashes(df.columns, [c.name for c in columns])
    check_workers(df.sparkSession)  # WorkerEnvironmentError: workers without estuary/River
    types = {"class": _spark_label_type(tuple(loaded.classes or ())), "value": T.DoubleType(),
             "per_class": T.ArrayType(T.DoubleType(), False), "flag": T.BooleanType()}
    fields = list(df.schema.fields) + [T.StructField(c.name, types[c.kind]) for c in columns]
    blob = df.sparkSession.sparkContext.broadcast(artifact.data)
    score = _scorer(blob, artifact.sha256, [f.name for f in df.schema.fields])
    return df.mapInArrow(score, T.StructType(fields))


def _output_names(model: Any) -> list[str]:
    """The artifact's output names, from one run of its first golden row (optional outputs
    such as `is_anomaly` exist only in some artifacts of a task)."""
    if not model.task.optional:
        return []
    golden = model.metadata.golden_inputs[:1]
    X = (np.array([[np.nan if v is None else v for v in r] for r in golden], dtype=np.float64)
         if golden else np.full((1, len(model.metadata.schema.columns)), np.nan))
    return list(model.run(X))


def score_batch(model: Any, batch: Any, keep: list[str] | None = None) -> Any:
    """One Arrow RecordBatch scored by a loaded artifact: the `keep` columns (default: all),
    untouched, then the task's output columns (`estuary.scale.outputs`), built as Arrow
    arrays. The local engine of `estuary score` and every Spark worker run this same
    function. The artifact's own encoder reads the columns (`estuary.columnar`) and applies
    the range policy (`estuary.rows`): ±inf raises `OutOfRangeError` naming the feature, as
    `predict_many` does; in a Spark worker it fails the job (`refusal` retypes it).
    A per-target model raises `WrongTaskError`."""
    import pyarrow as pa

    out = model.run(model.encoder.encode_many(batch))
    keep = batch.schema.names if keep is None else keep
    columns, names = [batch.column(name) for name in keep], list(keep)
    added = output_columns(model.task, out)
    refuse_clashes(keep, [c.name for c in added])
    for c in added:
        values = out[c.source]
        if c.kind == "class":
            columns.append(pa.array(_class_array(tuple(model.classes))[values]))
        elif c.kind == "per_class":
            matrix = np.ascontiguousarray(values, dtype=np.float64)
            n, k = matrix.shape
            offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
            columns.append(pa.ListArray.from_arrays(offsets, pa.array(matrix.ravel())))
        elif c.kind == "flag":
            columns.append(pa.array(np.asarray(values) != 0))
        else:
            columns.append(pa.array(np.asarray(values, dtype=np.float64)))
        names.append(c.name)
    return pa.RecordBatch.from_arrays(columns, names=names)


def _scorer(blob: Any, sha256: str, keep: list[str]):
    def score(batches):
        model = worker_model(blob.value, sha256)
        for batch in batches:
            yield score_batch(model, batch, keep)

    return score


def refusal(error: BaseException) -> OutOfRangeError | None:
    """The `OutOfRangeError` a failed Spark job carries as text (a Python worker's, or the SQL
    engine's `raise_error`), retyped on the driver; None when it carries none.

    >>> try:
    ...     predict(df, "models").write.parquet("scored")
    ... except Exception as e:
    ...     raise (refusal(e) or e) from None
    """
    found = _REFUSAL.search(str(error))
    if found is None:
        return None
    field, message = found.groups()
    return OutOfRangeError(ast.literal_eval(field), message.strip())


def _class_array(classes: tuple) -> np.ndarray:
    """Classes as a numpy array of their own type when they share one (bool, int, float: a
    native column converts to Arrow much faster than Python objects), else as strings."""
    for kind, dtype in ((bool, np.bool_), (int, np.int64), (float, np.float64)):
        if all(type(c) is kind for c in classes):
            return np.asarray(classes, dtype=dtype)
    out = np.empty(len(classes), dtype=object)
    out[:] = [str(c) for c in classes]
    return out


def local_session(master: str = "local[2]", app: str = "estuary") -> Any:
    """A SparkSession whose Python workers run this interpreter (`PYSPARK_PYTHON`), for tests,
    benchmarks and one-machine jobs; on a cluster use its own session (`spark-submit`)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName(app)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            # 100k-row Arrow batches: fewer trips to the Python workers (benchmarks/scale.py)
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
            # no adaptive execution: scoring has no shuffle or join for it to adapt, and on a
            # cached input (whose plan it wraps) it re-plans every write: ~25-45 ms of driver
            # CPU per SQL-engine call on 1M rows (benchmarks/README.md, batch scoring)
            .config("spark.sql.adaptive.enabled", "false")
            .getOrCreate())


__all__ = ["Artifact", "local_session", "predict", "refusal", "resolve", "score_batch",
           "worker_model"]
