"""onnxruntime backend: one InferenceSession per artifact, created once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import ArtifactError
from ..ir.artifact import METADATA_KEY, ArtifactMetadata
from .base import LoadedModel, RuntimeInfo


class OnnxRuntimeBackend:
    info = RuntimeInfo("onnxruntime", ort.__version__)

    def __init__(self, path: Path):
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise ArtifactError(f"cannot read {path}: {e.strerror}") from e
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one-row calls: threads cost more than they give
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise ArtifactError(
                f"{path} is not a loadable ONNX model ({type(e).__name__}: {str(e)[:200]}); "
                "it may be truncated or corrupt: re-export it"
            ) from e
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise ArtifactError(f"{path} has no estuary metadata: export it with `estuary export`")
        try:
            self.metadata = ArtifactMetadata.from_json(props[METADATA_KEY])
        except (ValueError, KeyError, TypeError) as e:
            raise ArtifactError(f"{path}: unreadable estuary metadata ({e})") from e
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(None, {"input": X})))


def load_onnx(path: Path) -> LoadedModel:
    """River's predict API over onnxruntime (CPU)."""
    backend = OnnxRuntimeBackend(path)
    return LoadedModel(backend, backend.metadata, path, "onnx")
