"""`estuary.spark.predict(df, store_or_artifact, version="latest")`: score a Spark DataFrame with
a published version (the engine is `estuary.scale.spark`; pip install estuary-ml[spark]).

`store_or_artifact` is a store directory (or `Store`), a named model of a store root
(`"models/fraud"`), or an `.onnx` file.

>>> from estuary import spark as es
>>> es.predict(session.read.parquet("rows.parquet"), "models/fraud").write.parquet("scored")
"""

from __future__ import annotations

from typing import Any

from .scale.spark import local_session, score_batch


def predict(df: Any, store_or_artifact: Any, version: int | str = "latest",
            engine: str = "arrow") -> Any:
    """`df` with `prediction` (and, for a classifier, `probabilities`) columns. engine="arrow":
    scored on the executors by the version's ONNX artifact (checked by SHA-256 and golden
    vectors there), any model. engine="sql": the version's IR compiled to Spark SQL expressions
    (`estuary.scale.spark_sql`: no Python worker; linear models and majority-class trees; exp
    may differ from onnxruntime's by an ulp), a store only."""
    v = None if version == "latest" else version
    if engine == "sql":
        from .scale import spark_sql

        return spark_sql.predict(df, store_or_artifact, v)
    if engine != "arrow":
        from .errors import InvalidOptionError

        raise InvalidOptionError(f"engine must be 'arrow' or 'sql', not {engine!r}")
    from .scale import spark as _spark

    return _spark.predict(df, store_or_artifact, v)


__all__ = ["local_session", "predict", "score_batch"]
