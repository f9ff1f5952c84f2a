"""Load an artifact in its real runtime and predict with River's API. Never imports converters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import ArtifactError, UnknownFormatError
from .base import LoadedModel, RuntimeInfo


def _onnxruntime(path: Path) -> LoadedModel:
    from .onnxruntime import OnnxRuntimeBackend

    backend = OnnxRuntimeBackend(path)
    return LoadedModel(backend, backend.metadata, path, "onnx")


LOADERS: dict[str, Callable[[Path], LoadedModel]] = {".onnx": _onnxruntime}


def load(path: str | Path, check: bool = True) -> LoadedModel:
    """Load an artifact; by default re-run its golden vectors and refuse it if they fail.

    >>> model = load("model.onnx"); model.predict_proba_one({"x": 1.0})
    """
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path} does not exist")
    loader = LOADERS.get(path.suffix)
    if loader is None:
        raise UnknownFormatError(
            f"no runtime for {path.name!r}; estuary loads {', '.join(sorted(LOADERS))} files")
    model = loader(path)
    if check:
        model.check_golden()
    return model


__all__ = ["LOADERS", "LoadedModel", "RuntimeInfo", "load"]
