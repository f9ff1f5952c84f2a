"""Helpers for testing code built on estuary.online (estuary's own tests use them too):
a real uvicorn server on 127.0.0.1, a real redis-server in a temporary directory, a throwaway
format whose emitter is wrong, and a small bundled stream.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import ir
from ..converters import registry

REDIS_INSTALL = "apt-get update && apt-get install -y redis-server"


def phishing(n: int | None = None) -> list[tuple[dict, bool]]:
    """The bundled Phishing dataset (1250 rows, no download) as (x, y) pairs."""
    from river import datasets

    rows = list(datasets.Phishing())
    return rows if n is None else rows[:n]


def logreg():
    from river import linear_model, preprocessing

    return preprocessing.StandardScaler() | linear_model.LogisticRegression()


def _wrong_but_consistent(snap: ir.Snapshot) -> ir.Snapshot:
    """Weights changed, golden vectors recomputed from the wrong model with the numpy evaluator:
    the artifact passes its own golden check on load; only parity against River catches it."""
    est = snap.model.estimator
    wrong = dataclasses.replace(est, weights=tuple(tuple(2 * w + 0.5 for w in row)
                                                   for row in est.weights))
    model = dataclasses.replace(snap.model, estimator=wrong)
    X = np.array([[np.nan if v is None else v for v in r] for r in snap.golden_inputs])
    out = ir.evaluate(model, X)
    outputs = out["probabilities"] if "probabilities" in out else out["value"].reshape(-1, 1)
    return dataclasses.replace(snap, model=model,
                               golden_outputs=tuple(tuple(map(float, r)) for r in outputs))


@contextmanager
def broken_format(name: str = "broken", corrupt_file: bool = False) -> Iterator[str]:
    """Register an ONNX format whose emitter gets linear weights wrong (or, with
    `corrupt_file`, writes garbage); unregistered on exit."""
    from ..converters.onnx import write_onnx

    def write(snap, path):
        if corrupt_file:
            Path(path).write_bytes(b"\x08\x07garbage")
            return path
        return write_onnx(_wrong_but_consistent(snap), path)

    registry.register_format(registry.Format(name, ".onnx", write, "test: wrong weights"))
    try:
        yield name
    finally:
        registry.FORMATS.pop(name, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(app, timeout: float = 20.0) -> Iterator[str]:
    """A real uvicorn server for `app` on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@contextmanager
def redis_server(timeout: float = 10.0) -> Iterator[str]:
    """Start `redis-server` on a free loopback port in a temporary directory (no persistence);
    yield its URL; stop it. Fails with the install command if redis-server is missing."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError(f"redis-server is not installed: {REDIS_INSTALL}")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="estuary-redis-") as d:
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), 0.2) as s:
                        s.sendall(b"PING\r\n")
                        if s.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: {proc.stderr.read()[:500]!r}")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()


__all__ = ["REDIS_INSTALL", "broken_format", "free_port", "logreg", "phishing", "redis_server",
           "running_server"]
