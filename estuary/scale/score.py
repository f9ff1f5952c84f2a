"""`estuary score INPUT OUTPUT --model STORE [--engine local|spark|spark-sql]`: a table scored in
one go (spark-sql: the model compiled to Spark SQL expressions, `estuary.scale.spark_sql`).

Both engines run `spark.score_batch` on the same Arrow columns (no per-row dicts), so their
predictions are the same numbers. Input: Parquet or CSV (a header row). The local engine reads
the whole table with Arrow (CSV through pandas, whose type inference Spark's CSV reader
shares), scores it in batches of BATCH rows and writes one file (Parquet, or CSV with
`probabilities` as a JSON list); the Spark engine reads with Spark and writes Spark's output
directory at OUTPUT. Every engine refuses a ±inf value with `OutOfRangeError` naming the
feature (the range policy of `estuary.rows`; NaN and null are missing), before writing.

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
BATCH = 100_000


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
    if engine in ("spark", "spark-sql"):
        return _score_spark(input, output, model, version, kind_in, kind_out,
                            "sql" if engine == "spark-sql" else "arrow")
    if engine != "local":
        raise ValueError(f"engine must be 'local', 'spark' or 'spark-sql', not {engine!r}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    artifact = _spark.resolve(model, version)
    loaded = _spark.worker_model(artifact.data, hashlib.sha256(artifact.data).hexdigest())
    if kind_in == ".parquet":
        table = pq.read_table(input)
    else:
        import pandas as pd

        table = pa.Table.from_pandas(pd.read_csv(input), preserve_index=False)
    _check_columns(loaded.metadata.schema, table.schema)
    batches = table.to_batches(max_chunksize=BATCH) or _empty(table.schema)
    result = pa.Table.from_batches([_spark.score_batch(loaded, b) for b in batches])
    if kind_out == ".parquet":
        pq.write_table(result, output)
    else:
        frame = result.to_pandas()
        for field in result.schema:  # probabilities, distances: a JSON list per row
            if pa.types.is_list(field.type):
                frame[field.name] = [json.dumps(p) for p in
                                     result.column(field.name).to_pylist()]
        frame.to_csv(output, index=False)
    return result.num_rows


def _check_columns(schema: Any, arrow_schema: Any) -> None:
    """The local engine's counterpart of the Spark engine's type check, before any row."""
    import pyarrow as pa

    from ..errors import InvalidInputError

    for f in schema.features:
        if f.kind != "numeric" or f.name not in arrow_schema.names:
            continue
        kind = arrow_schema.field(f.name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind) or pa.types.is_null(kind)):
            raise InvalidInputError(f.name, f"column of {kind} where the model expects "
                                    "numbers: cast it before scoring")


def _empty(arrow_schema: Any) -> list:
    """One empty batch of `arrow_schema` (an empty table has no batches to score)."""
    import pyarrow as pa

    return [pa.RecordBatch.from_pylist([], schema=arrow_schema)]


def _score_spark(input: Path, output: Path, model: Any, version: int | None, kind_in: str,
                 kind_out: str, engine: str = "arrow") -> int:
    session = _spark.local_session()
    reader = session.read
    df = reader.parquet(str(input)) if kind_in == ".parquet" else \
        reader.csv(str(input), header=True, inferSchema=True)
    if engine == "sql":
        from . import spark_sql

        scored = spark_sql.predict(df, model, version)
    else:
        scored = _spark.predict(df, model, version)
    if kind_out == ".csv":  # probabilities, distances: a JSON list per row
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        for field in scored.schema.fields:
            if isinstance(field.dataType, T.ArrayType):
                quoted = "`" + field.name.replace("`", "``") + "`"
                scored = scored.withColumn(field.name, F.to_json(F.col(quoted)))
    writer = scored.write.mode("overwrite")
    try:
        if kind_out == ".parquet":
            writer.parquet(str(output))
        else:
            writer.csv(str(output), header=True)
    except Exception as e:  # a refused row fails the job: the local engine's error, typed
        refused = _spark.refusal(e)
        if refused is None:
            raise
        raise refused from None
    return df.count()


__all__ = ["score"]
