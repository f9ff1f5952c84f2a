"""Check, once per Spark application, that its Python workers can import what scoring needs.

Without it, a session whose `$PYSPARK_PYTHON` (`spark.pyspark.python` under spark-submit;
unset: `python3` from the PATH) is an interpreter lacking estuary or River fails inside every
task, with `ModuleNotFoundError` buried in a Py4J trace, and only once the DataFrame is written.
The check runs on the executors themselves (a one-partition RDD job that looks the modules up
without importing them: ~0.2 s, once per application), so a cluster whose executors
legitimately run another Python than the driver passes; the probe is defined from source, so
that cloudpickle sends its code and it unpickles in a worker without estuary."""

from __future__ import annotations

import sys
from typing import Any

from ..errors import WorkerEnvironmentError

NEEDED = ("numpy", "pyarrow", "onnxruntime", "river", "estuary")
_PROBE_SOURCE = '''
def probe(_):
    import importlib.util, sys
    yield sys.executable, [name for name in NEEDED if importlib.util.find_spec(name) is None]
'''
_CHECKED: set[str] = set()  # the applications whose workers passed


def _probe() -> Any:
    """The probe, in a namespace no worker can import by name (cloudpickle then sends its code)."""
    namespace: dict[str, Any] = {"__name__": "estuary_spark_worker_probe", "NEEDED": NEEDED}
    exec(compile(_PROBE_SOURCE, "<estuary spark worker probe>", "exec"), namespace)
    return namespace["probe"]


def check_workers(spark: Any) -> None:
    """`WorkerEnvironmentError` naming the workers' interpreter, what it lacks and the setting
    to change, when a Python worker of `spark` cannot import estuary's scoring stack."""
    sc = spark.sparkContext
    if sc.applicationId in _CHECKED:
        return
    python, missing = sc.parallelize([0], 1).mapPartitions(_probe()).collect()[0]
    if missing:
        raise WorkerEnvironmentError(
            f"Spark's Python workers run {python}, which has no {', '.join(missing)} "
            "(the scoring tasks would fail with ModuleNotFoundError): "
            "point $PYSPARK_PYTHON (set before the SparkSession starts; with spark-submit, "
            "spark.pyspark.python) at a Python with `pip install estuary-ml[spark]`, e.g. this "
            f"driver's {sys.executable}")
    _CHECKED.add(sc.applicationId)
