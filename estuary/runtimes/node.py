"""JavaScript runtimes under Node: @tensorflow/tfjs (cpu) for `.tfjs`, onnxruntime-web (wasm)
for `.onnx`, onnxruntime-node (native) for `.onnx` and `.ort`, through estuary's own JS client
library (js/src/estuary.js, the one the page uses).

One long-lived Node process per Python process (js/src/runner.js), started on first use and
shared by every model: a request names the model it loaded, rows travel in batches as JSON
lines. If Node dies, the call that saw it raises `NodeRuntimeError` with Node's last words; the
next call starts a new process and reloads the models it needs. The process ends at exit.

The npm packages (@tensorflow/tfjs, onnxruntime-web) live in the JS home (estuary/assets.py):
`estuary setup-js` installs them from the lockfile shipped in the wheel (into $ESTUARY_JS_HOME,
default ~/.cache/estuary/js; a source checkout uses js/ and `npm ci --prefix js`). When they are
missing, loading raises `JsSetupError` naming the command. Set ESTUARY_NODE to the node binary
when it is not on PATH.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import queue
import shutil
import subprocess
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..assets import js_home, require_js_home
from ..errors import ArtifactError, EstuaryError, UnknownFormatError
from ..ir.tasks import TASKS
from .base import LoadedModel, RuntimeInfo, parse_metadata

log = logging.getLogger(__name__)

TIMEOUT_S = 120.0  # first load imports TF.js and compiles the wasm: a few seconds
TFJS_NAME = "@tensorflow/tfjs (Node cpu)"
ORT_WEB_NAME = "onnxruntime-web (Node wasm)"
ORT_NODE_NAME = "onnxruntime-node (Node native cpu)"


class NodeRuntimeError(EstuaryError, RuntimeError):
    """The Node runner is missing, failed to start, died or answered nonsense."""


def js_dir() -> Path:
    """The JS home the runner runs from (estuary/assets.py decides where; not checked here)."""
    return js_home()


def _node_binary() -> str:
    node = os.environ.get("ESTUARY_NODE") or shutil.which("node")
    if not node:
        raise UnknownFormatError("the Node runtimes need `node` (Node 20+) on PATH or ESTUARY_NODE")
    return node


class NodeRunner:
    """The shared Node process: `call(op, **fields)` sends one request and waits for its answer."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()
        self._stderr: collections.deque = collections.deque(maxlen=40)
        self._next_id = 0
        self.released: collections.deque = collections.deque()  # (generation, handle) to free
        self.generation = 0  # bumped at every (re)start: handles of older processes are void

    def _start(self) -> None:
        root = require_js_home()  # JsSetupError naming `estuary setup-js` if not ready
        script = root / "src" / "runner.js"
        self._proc = subprocess.Popen(
            [_node_binary(), str(script)], cwd=str(root), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            bufsize=1)
        self._lines = queue.Queue()
        self._stderr.clear()
        proc, lines, tail = self._proc, self._lines, self._stderr
        threading.Thread(target=_pump, args=(proc.stdout, lines.put, True), daemon=True).start()
        threading.Thread(target=_pump, args=(proc.stderr, tail.append, False), daemon=True).start()
        self.generation += 1
        log.debug("started Node runner pid %s", proc.pid)

    def ensure(self) -> int:
        """Start the process if needed; returns its generation."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            return self.generation

    def call(self, op: str, timeout: float = TIMEOUT_S, **fields: Any) -> dict:
        with self._lock:
            self.ensure()
            self._next_id += 1
            rid = self._next_id
            release = []
            while self.released:
                generation, handle = self.released.popleft()
                if generation == self.generation:
                    release.append(handle)
            line = json.dumps({"id": rid, "op": op, "release": release, **fields}, allow_nan=False)
            try:
                self._proc.stdin.write(line + "\n")
                self._proc.stdin.flush()
                answer = self._lines.get(timeout=timeout)
            except (BrokenPipeError, OSError) as e:
                raise self._died(f"could not send the request ({e})") from e
            except queue.Empty as e:
                self._kill()
                raise NodeRuntimeError(
                    f"the Node runner did not answer {op!r} within {timeout:.0f} s; it was "
                    f"stopped and restarts on next use. Node said: {self._tail()}") from e
            if answer is None:
                raise self._died(f"it exited while answering {op!r}")
            try:
                reply = json.loads(answer)
            except json.JSONDecodeError as e:
                self._kill()
                raise NodeRuntimeError(f"the Node runner wrote a non-JSON line: {answer[:200]!r}") from e
            if reply.get("id") != rid:
                self._kill()
                raise NodeRuntimeError(f"the Node runner answered request {reply.get('id')}, not {rid}")
            return reply

    def _died(self, what: str) -> NodeRuntimeError:
        self._kill()
        return NodeRuntimeError(f"the Node runner died: {what}; it restarts on next use. "
                                f"Node said: {self._tail()}")

    def _tail(self) -> str:
        return " | ".join(list(self._stderr)[-8:]) or "(nothing)"

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def close(self) -> None:
        """End the process cleanly (stdin closed → Node's loop ends), or kill it."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None or proc.poll() is not None:
                return
            try:
                proc.stdin.close()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=10)


def _pump(stream, put, at_end: bool) -> None:
    for line in stream:
        put(line.rstrip("\n"))
    if at_end:
        put(None)  # end of stdout: the process is gone


_RUNNER = NodeRunner()
atexit.register(_RUNNER.close)


def runner() -> NodeRunner:
    return _RUNNER


_JS_ARTIFACT_ERRORS = ("ArtifactError", "GoldenCheckError", "IntegrityError", "SignatureError",
                       "NoGoldenVectorsError")


def request(op: str, **fields: Any) -> dict:
    """Send one request to the shared runner; estuary errors from JS become Python ones."""
    reply = _RUNNER.call(op, **fields)
    if reply.get("ok"):
        return reply
    err = reply.get("error") or {}
    kind, message = err.get("type"), err.get("message", "unknown error")
    if kind in _JS_ARTIFACT_ERRORS:  # the JS client's own checks: the same Python class
        from .. import errors

        raise getattr(errors, kind)(message)
    if kind in ("InvalidInputError", "OutOfRangeError"):
        from .. import errors

        raise getattr(errors, kind)(err.get("field") or "<row>", message.split(": ", 1)[-1])
    if op in ("load", "run") and fields.get("path", fields.get("model")) is not None:
        # the runner is alive and answered: what failed is this artifact (a JS TypeError or
        # RangeError on a corrupt model.json or weights), not the runtime
        raise ArtifactError(f"{fields.get('path', 'the model')}: {op} fails in Node "
                            f"({kind}: {message[:300]}); the artifact is corrupt or not an "
                            "estuary export: re-export it")
    raise NodeRuntimeError(f"Node runner {op!r} failed: {kind}: {message}")


def _json_number(v: float) -> float | None | str:
    if v != v:
        return None
    if v in (np.inf, -np.inf):
        return "Infinity" if v > 0 else "-Infinity"
    return float(v)


def _floats(values) -> np.ndarray:
    return np.array([[float(v) for v in r] if isinstance(r, list) else float(r) for r in values],
                    dtype=np.float64)


class NodeBackend:
    """One artifact loaded in the Node runner; reloaded transparently after a restart."""

    def __init__(self, kind: str, path: Path, info_name: str):
        self.kind = kind
        self.path = Path(path).resolve()
        self._state = [-1, None]  # [generation, handle]: shared with the finalizer
        reply = self._load()
        self.info = RuntimeInfo(info_name, _version(reply["runtime"]))
        self.metadata = parse_metadata(reply.get("metadata"), path)
        weakref.finalize(self, _unload, self._state)

    def _load(self) -> dict:
        # the Python side re-runs the golden vectors (LoadedModel.check_golden) with its
        # tolerance; JS checks them too in the browser
        generation = _RUNNER.ensure()
        reply = request("load", kind=self.kind, path=str(self.path), check=False)
        self._state[:] = [generation, reply["model"]]
        return reply

    def _current(self) -> int:
        """The model's handle in the running process, reloading it after a restart."""
        if self._state[0] != _RUNNER.ensure():
            self._load()
        return self._state[1]

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        handle = self._current()
        rows = [[_json_number(v) for v in r] for r in np.asarray(X, dtype=np.float64).tolist()]
        if not rows:
            return self._empty()
        outputs = request("run", model=handle, rows=rows)["outputs"]
        out = {k: _floats(v) for k, v in outputs.items()}
        for index in ("label", "cluster", "is_anomaly"):
            if index in out:
                out[index] = out[index].astype(np.int64)
        return out

    def _empty(self) -> dict[str, np.ndarray]:
        spec = TASKS[self.metadata.task]
        if spec.per_target:
            return {name: np.zeros((0, 2) if what == "probabilities" else 0,
                                   np.int64 if what == "label" else np.float64)
                    for name, what, _ in spec.target_outputs(self.metadata.classes)}
        if self.metadata.task == "cluster":
            return {"distances": np.zeros((0, len(self.metadata.classes))),
                    "cluster": np.zeros(0, np.int64)}
        spec = TASKS[self.metadata.task]
        if not spec.per_class:  # value, score, forecast (and a filter's is_anomaly)
            return {spec.output: np.zeros(0), **({"is_anomaly": np.zeros(0, np.int64)}
                                                 if self.metadata.task == "anomaly" else {})}
        return {"probabilities": np.zeros((0, len(self.metadata.classes))),
                "label": np.zeros(0, np.int64)}

    def encode(self, rows: list[dict]) -> list[dict]:
        """The JS library's encoding of River-style rows (for tests against estuary.rows)."""
        return request("encode", model=self._current(), rows=rows)["rows"]

    def bench(self, row: dict, n: int = 1000) -> dict:
        """One-row predict latency measured inside Node (p50/p99 in µs)."""
        return request("bench", model=self._current(), row=row, n=n)


def _version(runtime: dict) -> str:
    return str(runtime.get("version", "unknown"))


def _unload(state: list) -> None:
    # a finalizer may run inside a call (garbage collection): never talk to Node from here,
    # the next request carries the handle to release
    generation, handle = state
    if handle is not None:
        _RUNNER.released.append((generation, handle))


def load_tfjs(path: Path) -> LoadedModel:
    """River's predict API over @tensorflow/tfjs (cpu backend) in Node, for a `.tfjs` directory."""
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(f"{path} is not a TF.js model directory (model.json + weight shards)")
    from ..integrity import inside

    inside(path, list(path.iterdir()))  # a shard symlinked out of the directory is never read
    backend = NodeBackend("tfjs", path, TFJS_NAME)
    return LoadedModel(backend, backend.metadata, path, "tfjs")


def load_onnx_web(path: Path) -> LoadedModel:
    """River's predict API over onnxruntime-web (wasm, one thread) in Node."""
    backend = NodeBackend("onnx", Path(path), ORT_WEB_NAME)
    return LoadedModel(backend, backend.metadata, path, "onnx")


def load_onnx_node(path: Path) -> LoadedModel:
    """River's predict API over onnxruntime-node (native CPU, the npm package's own binary)."""
    backend = NodeBackend("onnx-node", Path(path), ORT_NODE_NAME)
    return LoadedModel(backend, backend.metadata, path, "onnx")


def load_ort_node(path: Path) -> LoadedModel:
    """River's predict API over onnxruntime-node for an ONNX Runtime Mobile `.ort` file (its
    metadata read from the FlatBuffers file by js/src/estuary.js)."""
    backend = NodeBackend("onnx-node", Path(path), ORT_NODE_NAME)
    return LoadedModel(backend, backend.metadata, path, "ort")
