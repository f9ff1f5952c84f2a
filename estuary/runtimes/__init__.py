"""Load an artifact in its real runtime and predict with River's API. Never imports converters.

Runtimes are found by name; each lives in its own module with a `load_*(path) -> LoadedModel`
function, imported only when used (a runtime's library is an optional extra).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ArtifactError, UnknownFormatError
from ..signing import trusted_key as trusted_key_of
from ..signing import verify_artifact
from .base import LoadedModel, RuntimeInfo


@dataclass(frozen=True)
class RuntimeEntry:
    name: str
    suffix: str
    module: str  # relative to estuary.runtimes
    function: str
    extra: str  # the pyproject extra that installs it


RUNTIMES: dict[str, RuntimeEntry] = {e.name: e for e in [
    RuntimeEntry("onnxruntime", ".onnx", ".onnxruntime", "load_onnx", "core"),
    RuntimeEntry("jpmml-evaluator", ".pmml", ".jpmml", "load_pmml", "pmml"),
    RuntimeEntry("coreml", ".mlmodel", ".coreml", "load_coreml", "coreml"),
    RuntimeEntry("tfjs-node", ".tfjs", ".node", "load_tfjs", "web"),
    RuntimeEntry("onnxruntime-web-node", ".onnx", ".node", "load_onnx_web", "web"),
    RuntimeEntry("onnxruntime-node", ".onnx", ".node", "load_onnx_node", "web"),
    RuntimeEntry("onnxruntime-ort", ".ort", ".onnxruntime", "load_ort", "core"),
    RuntimeEntry("onnxruntime-node-ort", ".ort", ".node", "load_ort_node", "web"),
]}
DEFAULT_RUNTIME = {".onnx": "onnxruntime", ".pmml": "jpmml-evaluator", ".mlmodel": "coreml",
                   ".tfjs": "tfjs-node", ".ort": "onnxruntime-ort"}


def runtimes_for(suffix: str) -> list[str]:
    """Names of the runtimes that can run artifacts with this suffix (default first)."""
    names = [n for n, e in RUNTIMES.items() if e.suffix == suffix]
    default = DEFAULT_RUNTIME.get(suffix)
    return sorted(names, key=lambda n: n != default)


def _loader(entry: RuntimeEntry):
    try:
        module = importlib.import_module(entry.module, __name__)
    except ModuleNotFoundError as e:
        raise UnknownFormatError(
            f"the {entry.name} runtime is not available ({e}); install it with "
            f"`pip install estuary-ml[{entry.extra}]`") from e
    return getattr(module, entry.function)


def load(path: str | Path, check: bool = True, runtime: str | None = None, *,
         require_golden: bool = True, trusted_key: Any = None) -> LoadedModel:
    """Load an artifact in `runtime` (default: the usual one for its suffix); by default re-run
    its golden vectors (probabilities or values, and labels) and refuse it if they fail
    (`GoldenCheckError`) or if it has none (`NoGoldenVectorsError`, unless `require_golden` is
    False). With `trusted_key` (an Ed25519 public key, its file, or default
    $ESTUARY_TRUSTED_KEY; False: none), an artifact that is unsigned, signed by another key or
    changed since it was signed is refused (`SignatureError`) before any runtime parses it.
    Every failure is an `EstuaryError`.

    >>> model = load("model.onnx", trusted_key="release.key.pub"); model.predict_one({"x": 1.0})
    """
    try:
        path = Path(path)
        exists = path.exists()
    except (TypeError, ValueError, OSError) as e:  # not a path, a NUL byte, a name too long
        raise ArtifactError(f"cannot load {path!r}: pass the path of an artifact file "
                            f"({type(e).__name__}: {e})") from e
    if not exists:
        raise ArtifactError(f"{path} does not exist")
    name = runtime or DEFAULT_RUNTIME.get(path.suffix)
    if name is None:
        raise UnknownFormatError(
            f"no runtime for {path.name!r}; estuary loads {', '.join(sorted(DEFAULT_RUNTIME))} files")
    entry = RUNTIMES.get(name)
    if entry is None or entry.suffix != path.suffix:
        raise UnknownFormatError(
            f"runtime {name!r} cannot load {path.name!r}; use one of {runtimes_for(path.suffix)}")
    key = trusted_key_of(trusted_key)
    if key is not None:
        verify_artifact(path, key)
    model = _loader(entry)(path)
    if check:
        model.check_golden(require=require_golden)
    return model


__all__ = ["RUNTIMES", "LoadedModel", "RuntimeInfo", "load", "runtimes_for"]
