"""onnxruntime backend: one InferenceSession per artifact, created once; it loads `.onnx` and
ONNX Runtime Mobile's `.ort` (which carries the same metadata_props) alike."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import ArtifactError
from ..ir.artifact import METADATA_KEY, ArtifactMetadata
from ..ir.tasks import TASKS
from .base import LoadedModel, RuntimeInfo, parse_metadata, read_artifact
from .onnx_one import OnnxModel

INPUT = "input"


_SESSIONS: OrderedDict[str, ort.InferenceSession] = OrderedDict()  # sha256 of bytes → session
_METADATA: dict[str, ArtifactMetadata] = {}  # sha256 of bytes → their parsed estuary metadata
_MAX_SESSIONS = 16


def _session(data: bytes) -> ort.InferenceSession:
    """The session of these exact bytes (`_digest_session`)."""
    return _digest_session(data)[1]


def session_options() -> ort.SessionOptions:
    """The options every estuary session is made with."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one-row calls: threads cost more than they give
    options.log_severity_level = 3
    return options


def _digest_session(data: bytes) -> tuple[str, ort.InferenceSession]:
    """(SHA-256 of `data`, the session of these exact bytes): made once, then reused (export
    loads its artifact to check it, verify loads it again; the bytes' SHA-256 is the key, so a
    changed file is a new session). Sessions run concurrently; the last `_MAX_SESSIONS` are
    kept, with the metadata parsed from the same bytes."""
    digest = hashlib.sha256(data).hexdigest()
    session = _SESSIONS.get(digest)
    if session is None:
        session = ort.InferenceSession(data, session_options(), providers=["CPUExecutionProvider"])
        _SESSIONS[digest] = session
        while len(_SESSIONS) > _MAX_SESSIONS:
            _METADATA.pop(_SESSIONS.popitem(last=False)[0], None)
    else:
        _SESSIONS.move_to_end(digest)
    return digest, session


class OnnxRuntimeBackend:
    info = RuntimeInfo("onnxruntime", ort.__version__)

    def __init__(self, path: Path):
        data = read_artifact(path)
        try:
            self.digest, self.session = _digest_session(data)
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise ArtifactError(
                f"{path} is not a loadable ONNX model ({type(e).__name__}: {str(e)[:200]}); "
                "it may be truncated or corrupt: re-export it"
            ) from e
        try:  # metadata that is not UTF-8 only fails when read
            props = self.session.get_modelmeta().custom_metadata_map
        except Exception as e:
            raise ArtifactError(f"{path}: unreadable ONNX metadata ({type(e).__name__}: "
                                f"{str(e)[:200]}); it is corrupt: re-export it") from e
        if METADATA_KEY not in props:
            raise ArtifactError(f"{path} has no estuary metadata: export it with `estuary export`")
        self.metadata = _METADATA.get(self.digest)  # the same bytes parse the same (frozen)
        if self.metadata is None:
            self.metadata = parse_metadata(props[METADATA_KEY], path)
            if self.digest in _SESSIONS:
                _METADATA[self.digest] = self.metadata
        self.output_names = [o.name for o in self.session.get_outputs()]
        inputs = [i.name for i in self.session.get_inputs()]
        wanted = set(TASKS[self.metadata.task].outputs)
        if inputs != [INPUT] or not wanted <= set(self.output_names):
            raise ArtifactError(
                f"{path}: inputs {inputs} / outputs {self.output_names} are not the estuary "
                f"contract ({INPUT!r} → {sorted(wanted)}): it is corrupt or not an estuary "
                "export: re-export it")

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        # the C++ session's run (as the one-row path): `InferenceSession.run`'s Python checks of
        # the feed cost ~3 µs a call, and this feed is always the one input, a numpy array
        session = self.session
        run = getattr(session, "_sess", session).run  # same arguments either way
        return dict(zip(self.output_names, run(self.output_names, {INPUT: X}, None)))


def load_onnx(path: Path) -> LoadedModel:
    """River's predict API over onnxruntime (CPU)."""
    backend = OnnxRuntimeBackend(path)
    return OnnxModel(backend, backend.metadata, path, "onnx")


def load_ort(path: Path) -> LoadedModel:
    """River's predict API over onnxruntime (CPU) for an ONNX Runtime Mobile `.ort` file."""
    backend = OnnxRuntimeBackend(path)
    return OnnxModel(backend, backend.metadata, path, "ort")
