"""`estuary score INPUT OUTPUT --model STORE [--engine local|spark]`: a table scored in one go.

Both engines run `spark.score_frame` on the same columns (no per-row dicts), so their
predictions are the same numbers. Input: Parquet or CSV (a header row). The local engine reads
the whole table with pandas and writes one file (Parquet, or CSV with `probabilities` as a JSON
list); the Spark engine reads with Spark and writes Spark's output directory at OUTPUT.

>>> score(Path("rows.parquet"), Path("scored.parquet"), "models")
10000
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..readers import DataFileError
from . import spark as _spark

SUFFIXES = (".parquet", ".csv")


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataFileError(f"{path}: estuary score reads and writes {' or '.join(SUFFIXES)}")
    return suffix


def score(input: Path, output: Path, model: Any, version: int | None = None,
          engine: str = "local") -> int:
    """Score the table at `input` into `output`; the number of rows."""
    kind_in, kind_out = _kind(input), _kind(output)
    if not input.exists():
        raise DataFileError(f"{input} does not exist")
    if engine == "spark":
        return _score_spark(input, output, model, version, kind_in, kind_out)
    if engine != "local":
        raise ValueError(f"engine must be 'local' or 'spark', not {engine!r}")
    import pandas as pd

    frame = pd.read_parquet(input) if kind_in == ".parquet" else pd.read_csv(input)
    artifact = _spark.resolve(model, version)
    loaded = _spark.worker_model(artifact.data, hashlib.sha256(artifact.data).hexdigest())
    _check_columns(loaded.metadata.schema, frame)
    result = _spark.score_frame(loaded, frame)
    if kind_out == ".parquet":
        result.to_parquet(output, index=False)
    else:
        if "probabilities" in result:
            result["probabilities"] = [json.dumps(p) for p in result["probabilities"]]
        result.to_csv(output, index=False)
    return len(result)


def _check_columns(schema: Any, frame: Any) -> None:
    """The local engine's counterpart of the Spark engine's type check, before any row."""
    from ..errors import InvalidInputError

    for f in schema.features:
        if f.kind == "numeric" and f.name in frame and frame[f.name].dtype.kind not in "fiub":
            if frame[f.name].dropna().map(lambda v: isinstance(v, (int, float))).all():
                continue
            raise InvalidInputError(f.name, f"column of {frame[f.name].dtype} where the model "
                                    "expects numbers: cast it before scoring")


def _score_spark(input: Path, output: Path, model: Any, version: int | None, kind_in: str,
                 kind_out: str) -> int:
    session = _spark.local_session()
    reader = session.read
    df = reader.parquet(str(input)) if kind_in == ".parquet" else \
        reader.csv(str(input), header=True, inferSchema=True)
    scored = _spark.predict(df, model, version)
    if kind_out == ".csv" and "probabilities" in scored.columns:
        from pyspark.sql import functions as F

        scored = scored.withColumn("probabilities", F.to_json("probabilities"))
    writer = scored.write.mode("overwrite")
    if kind_out == ".parquet":
        writer.parquet(str(output))
    else:
        writer.csv(str(output), header=True)
    return df.count()


__all__ = ["score"]
