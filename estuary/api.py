"""The three calls most users need: `export`, `verify`, `load`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ir
from ._atomic import remove, replace, staged
from .converters import formats as _formats  # noqa: F401  (registers every installed format)
from .converters.registry import format_for
from .errors import InvalidOptionError
from .parity import verify as _verify_river
from .runtimes import load
from .signing import sign_artifact, signature_path
from .signing import signing_key as resolve_signing_key
from .sklearn.model import is_sklearn_model
from .snapshot import take_snapshot


@dataclass(frozen=True)
class ExportedArtifact:
    """What `export` wrote."""

    path: Path
    format: str
    ir_hash: str
    snapshot_id: str
    size_bytes: int
    snapshot: ir.Snapshot


def write_snapshot(snapshot: ir.Snapshot, path: str | Path, format: str | None = None,
                   check: bool = True, options: Mapping[str, Any] | None = None,
                   signing_key: Any = None) -> ExportedArtifact:
    """Write a snapshot atomically (temp file + rename; a file at `path` holding the very same
    bytes already is left in place: `_atomic.staged`); by default load it back in its runtime
    and re-run the golden vectors before the file appears at `path`. `options` override the
    format's defaults (`registry.format_for(name).options`, e.g. ONNX `{"opset": 17}`).
    `signing_key` (default $ESTUARY_SIGNING_KEY) signs it: `path`.sig (signing.py)."""
    path = Path(path)
    fmt = format_for(format, str(path))
    key = resolve_signing_key(signing_key)
    with staged(path, fmt.suffix, fmt.companions, keep_same=True) as tmp:
        try:
            fmt.write(snapshot, tmp, options, signing_key=key or False)
            if check:  # no golden row (River answered none): written, and every load says so
                load(tmp, require_golden=bool(snapshot.golden_inputs),
                     trusted_key=key.public_key() if key else False)
            _place_signature(tmp, path, signed=key is not None)
        finally:
            if not tmp.is_dir():  # a failed export leaves no stray signature beside it
                remove(signature_path(tmp))
    return ExportedArtifact(path, fmt.name, ir.content_hash(snapshot.model),
                            snapshot.provenance.snapshot_id or "", artifact_size(path), snapshot)


def _place_signature(tmp: Path, path: Path, signed: bool) -> None:
    """Move a file artifact's signature to its final name just before the artifact itself (a
    reader in between sees a signature of other bytes and refuses: never an unsigned pass);
    without a key, remove a signature an earlier export left there (a TF.js directory carries
    its own, replaced with it)."""
    if tmp.is_dir():
        return
    if signed:
        replace(signature_path(tmp), signature_path(path))
    else:
        remove(signature_path(path))


def artifact_size(path: Path) -> int:
    """Bytes of a file artifact, or of every file in a directory artifact (.tfjs)."""
    if path.is_dir():
        return sum(f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file())
    return path.stat().st_size


def export(model: Any, path: str | Path, sample: Sequence[Mapping] = (), format: str | None = None,
           check: bool = True, options: Mapping[str, Any] | None = None,
           signing_key: Any = None) -> ExportedArtifact:
    """Export a River model (or a fitted scikit-learn estimator / pipeline, through skl2onnx,
    sklearn2pmml or coremltools) to `path`; the format comes from `format` or the suffix, its
    `options` (River models only) override the format's defaults. Exports are signed with
    `signing_key` (a key file path or key; default $ESTUARY_SIGNING_KEY): `path`.sig.

    >>> export(model, "model.onnx", sample=rows, options={"opset": 17}).size_bytes
    """
    if is_sklearn_model(model) and options:
        raise InvalidOptionError("format options apply to River models; scikit-learn models "
                                 "are converted by skl2onnx / sklearn2pmml / coremltools")
    if is_sklearn_model(model):  # duck-typed: scikit-learn is imported only for its models
        from .sklearn import export_sklearn

        key = resolve_signing_key(signing_key)  # a bad key fails before anything is written
        exported = export_sklearn(model, path, sample, format, check)
        if key is not None:
            sign_artifact(exported.path, key)
        else:  # a signature an earlier export left is of other bytes now
            remove(signature_path(exported.path))
        return exported
    return write_snapshot(take_snapshot(model, sample), path, format, check, options,
                          signing_key)


def verify(model: Any, path: str | Path, rows: Any = (), *, adversarial: bool = True,
           progress: Callable[[int, int], None] | None = None):
    """Parity of the artifact at `path` against `model` itself (River: `predict_proba_one`;
    scikit-learn: `predict` / `predict_proba` on `rows`, a matrix or a DataFrame).

    >>> verify(model, "model.onnx", rows).passed
    """
    if is_sklearn_model(model):
        from .sklearn import verify_sklearn

        return verify_sklearn(model, path, rows, adversarial=adversarial)
    return _verify_river(model, path, rows, adversarial=adversarial, progress=progress)


__all__ = ["ExportedArtifact", "export", "load", "verify", "write_snapshot"]
