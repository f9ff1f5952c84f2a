"""scikit-learn source path: fitted estimators and pipelines → ONNX / PMML / Core ML through the
field's maintained converters (skl2onnx, sklearn2pmml, coremltools), held to estuary's artifact
contract and parity harness. scikit-learn is imported only when a scikit-learn model arrives.

>>> export_sklearn(pipeline, "model.onnx", sample=X_test)
>>> verify_sklearn(pipeline, "model.onnx", X_test).passed

Licences: sklearn2pmml (the PMML path) is AGPL-3.0 and runs Java; skl2onnx is Apache-2.0;
coremltools is BSD-3-Clause.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import staged
from ..converters.registry import format_for
from ..errors import EstuaryError, UnknownFormatError
from ..integrity import stamp
from ..parity.report import ParityReport
from .metadata import build_metadata, state_hash, to_rows, version
from .model import SklearnModel, describe, is_sklearn_model, supported

FORMATS = ("onnx", "pmml", "coreml")


def _writer(fmt: str):
    if fmt == "onnx":
        from . import onnx as module
    elif fmt == "pmml":
        from . import pmml as module
    elif fmt == "coreml":
        from . import coreml as module
    else:
        raise UnknownFormatError(f"scikit-learn models export to {', '.join(FORMATS)}, not {fmt!r}")
    return module


def _check_flat(sk: SklearnModel, rows: list[dict]) -> None:
    """The rewritten estimator (one-hot columns in) must predict what the original predicts."""
    if sk.flat is sk.original or not rows:
        return
    from ..rows import RowEncoder

    expected, _ = sk.reference(sk.raw_input(rows))
    X = RowEncoder(sk.schema).encode_many(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = (sk.flat.predict_proba(X) if sk.task == "classification"
               else sk.flat.predict(X).reshape(-1, 1))
    if not np.allclose(got, expected, rtol=0, atol=1e-12):
        raise EstuaryError("estuary's one-hot rewrite of this pipeline does not reproduce it; "
                           "please report the pipeline")


def export_sklearn(model: Any, path: str | Path, sample: Any = None, format: str | None = None,
                   check: bool = True) -> Any:
    """Export a fitted scikit-learn estimator or pipeline; the format comes from `format` or the
    suffix. Writes atomically; by default loads the file back in its runtime and re-runs the
    golden vectors before it appears at `path`.

    >>> export_sklearn(LogisticRegression().fit(X, y), "model.onnx", sample=X[:20]).size_bytes
    """
    from ..api import ExportedArtifact, artifact_size
    from ..runtimes import load

    path = Path(path)
    fmt = format_for(format, str(path))
    module = _writer(fmt.name)
    sk = describe(model)
    rows = to_rows(sample, sk.raw_columns)
    _check_flat(sk, rows[:200])
    precision = module.precision(sk)
    meta = build_metadata(sk, rows, module.converter_name(), precision)
    with staged(path, fmt.suffix) as tmp:
        module.write(sk, meta, tmp)
        stamp(tmp)  # the SHA-256 of the artifact's bytes, into its metadata
        if check:  # with no golden row scikit-learn answered it is written; loads must say so
            load(tmp, require_golden=bool(meta.golden_inputs))
    return ExportedArtifact(path, fmt.name, meta.ir_hash, meta.provenance["snapshot_id"],
                            artifact_size(path), None)


def verify_sklearn(model: Any, path: str | Path, X: Any = None, *, adversarial: bool = True,
                   runtime: str | None = None) -> ParityReport:
    """Load the artifact in its real runtime and compare it with scikit-learn's own
    `predict` / `predict_proba` on the rows of `X` (matrix or DataFrame) + adversarial rows.

    >>> verify_sklearn(model, "model.pmml", X_test).passed
    """
    from ..parity.harness import compare
    from ..parity.probes import Probe
    from ..runtimes import load
    from .parity import SklearnReference, probe_rows

    sk = describe(model)
    rows = to_rows(X, sk.raw_columns)
    probes = probe_rows(sk, rows) if adversarial else [Probe(r, "sample") for r in rows]
    loaded = load(path, runtime=runtime, require_golden=False)  # the model is the reference
    reference = SklearnReference(sk, [p.row for p in probes])
    return compare(reference, loaded, probes, ir_hash=state_hash(model))


def versions() -> dict[str, str]:
    return {d: version(d) for d in ("scikit-learn", "skl2onnx", "sklearn2pmml", "coremltools",
                                    "onnxruntime", "jpmml_evaluator")}


__all__ = ["FORMATS", "export_sklearn", "is_sklearn_model", "supported", "verify_sklearn",
           "versions"]
