"""Training checkpoints: a learner's private state (its River model and its position in the
source), so that a killed learner resumes where its last checkpoint was taken.

Checkpoints are **not** published artifacts. They live in their own directory (never under a
store's `versions/`), are read only by a `Learner` that was given the key, and never by the
server or `estuary.load`. The River model inside is a pickle: River models have no other complete
serialisation (their state is Python objects: dicts of statistics, tree nodes, drift detectors),
and a pickle runs code when loaded. That is why every checkpoint file is signed with
HMAC-SHA256 under a secret key and **nothing in it is parsed, let alone unpickled, before the
signature verifies**: only someone holding the key can make a file this module will unpickle.
Keep the key as secret as write access to the learner itself.

File layout (one file per checkpoint, `ckpt-<seq>.estuary-ckpt`, written atomically):
`MAGIC | HMAC-SHA256 (32 bytes) | header length (8 bytes, big-endian) | header JSON | pickle`,
the HMAC covering everything after it. The header holds the position (`n_events`, source
`offsets`), the sequence number and the time; a tampered, truncated or foreign file raises
`CheckpointIntegrityError`, and `CheckpointDir.latest()` falls back to the previous one.

>>> ckpts = CheckpointDir("ckpt", key=os.environ["ESTUARY_CHECKPOINT_KEY"], keep=3)
>>> ckpts.save(model, n_events=1200, offsets={"records": 1250})
>>> ckpts.latest().n_events
1200
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import pickle
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._atomic import fsync_path, remove, staged, write_durably
from ..errors import EstuaryError

log = logging.getLogger(__name__)

KEY_ENV = "ESTUARY_CHECKPOINT_KEY"
MAGIC = b"ESTUARY-CKPT\x001\n"
SUFFIX = ".estuary-ckpt"
_NAME = re.compile(r"ckpt-(\d{12})\.estuary-ckpt")
_MAC = 32
_LEN = 8


class CheckpointError(EstuaryError, ValueError):
    """A training checkpoint cannot be written or read."""


class CheckpointKeyError(CheckpointError):
    """No key (or an unusable one) to sign or verify checkpoints."""


class CheckpointIntegrityError(CheckpointError):
    """A checkpoint file whose HMAC does not verify: tampered, truncated, or signed with
    another key. It is never unpickled."""


def checkpoint_key(key: str | bytes | None = None) -> bytes:
    """The signing key: `key` if given, else the `ESTUARY_CHECKPOINT_KEY` environment
    variable; at least 16 bytes."""
    if key is None:
        key = os.environ.get(KEY_ENV) or None
    if key is None:
        raise CheckpointKeyError(
            f"training checkpoints need a secret key: set {KEY_ENV} (e.g. "
            f"`export {KEY_ENV}=$(python -c 'import secrets; print(secrets.token_hex(32))')`) "
            "or pass key=...; keep it secret, it guards what the learner unpickles")
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if len(raw) < 16:
        raise CheckpointKeyError(f"the checkpoint key must be at least 16 bytes (got {len(raw)}); "
                                 f"set {KEY_ENV} to a long random value")
    return raw


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the River model and where in the source it was taken."""

    model: Any
    n_events: int
    offsets: dict[str, Any]
    seq: int
    created_at: float
    path: Path
    extra: dict[str, Any] = field(default_factory=dict)


def _sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def encode(key: bytes, header: dict[str, Any], payload: bytes) -> bytes:
    """Header + pickled payload → the signed file's bytes."""
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    body = len(head).to_bytes(_LEN, "big") + head + payload
    return MAGIC + _sign(key, body) + body


def decode(key: bytes, data: bytes, name: str = "checkpoint") -> tuple[dict[str, Any], bytes]:
    """Verify the HMAC, then split header and payload; raises `CheckpointIntegrityError`."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _MAC + _LEN:
        raise CheckpointIntegrityError(f"{name}: not an estuary checkpoint, or truncated")
    mac, body = data[len(MAGIC):len(MAGIC) + _MAC], data[len(MAGIC) + _MAC:]
    if not hmac.compare_digest(mac, _sign(key, body)):
        raise CheckpointIntegrityError(
            f"{name}: HMAC-SHA256 does not verify (tampered, truncated, or written with another "
            f"key than {KEY_ENV}); refused without unpickling it")
    n = int.from_bytes(body[:_LEN], "big")
    return json.loads(body[_LEN:_LEN + n]), body[_LEN + n:]


class CheckpointDir:
    """The checkpoints of one learner: a directory of signed files, the newest `keep` kept.

    `save` pickles on the caller's thread (the model must not change while it is read) and,
    with `background=True`, signs, writes, fsyncs and prunes in one writer thread, coalescing
    when the disk is slower than the checkpoints (the newest wins).
    """

    def __init__(self, root: str | Path, key: str | bytes | None = None, keep: int = 3,
                 background: bool = False):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.root = Path(root)
        self.key = checkpoint_key(key)
        self.keep = keep
        if (self.root / "versions").is_dir() or (self.root / "latest").exists():
            raise CheckpointError(f"{self.root} looks like a store: keep checkpoints in their "
                                  "own directory, apart from published versions")
        self.refused: list[tuple[Path, str]] = []  # files `latest` skipped, with the reason
        for tmp in self.root.glob(".ckpt-*") if self.root.is_dir() else ():
            remove(tmp)  # half-written by a learner killed mid-write (one learner per directory)
        self._seq = max(self._numbers(), default=0)
        self._writer = ThreadPoolExecutor(1, "estuary-ckpt") if background else None
        self._lock = threading.Lock()
        self._pending: tuple[bytes, int, dict, Future] | None = None
        self.written = self.coalesced = 0
        self.durable: tuple[int, dict[str, Any]] | None = None  # (n_events, offsets) on disk

    # ------------------------------------------------------------------------------ writing

    def save(self, model: Any, n_events: int, offsets: dict[str, Any] | None = None,
             extra: dict[str, Any] | None = None) -> Future:
        """Checkpoint `model` at this position; the future gives the file's path once durable
        (already done when not in the background)."""
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        self._seq += 1
        header = {"format": 1, "seq": self._seq, "n_events": n_events,
                  "offsets": offsets or {}, "created_at": time.time(), "extra": extra or {},
                  "payload_sha256": hashlib.sha256(payload).hexdigest()}
        data = encode(self.key, header, payload)
        fut: Future = Future()
        if self._writer is None:
            fut.set_result(self._write(data, self._seq, header))
            return fut
        with self._lock:
            if self._pending is not None:
                self.coalesced += 1
                self._pending[3].cancel()
            self._pending = (data, self._seq, header, fut)
        self._writer.submit(self._drain)
        return fut

    def _drain(self) -> None:
        with self._lock:
            job, self._pending = self._pending, None
        if job is not None:
            data, seq, header, fut = job
            try:
                fut.set_result(self._write(data, seq, header))
            except BaseException as e:  # reported through the future
                log.error("writing checkpoint %d failed: %r", seq, e)
                fut.set_exception(e)

    def _write(self, data: bytes, seq: int, header: dict[str, Any]) -> Path:
        path = self.root / f"ckpt-{seq:012d}{SUFFIX}"
        with staged(path, SUFFIX) as tmp:
            write_durably(tmp, data)
        fsync_path(self.root)
        self.written += 1
        self.durable = (header["n_events"], header["offsets"])
        for old in self._numbers()[:-self.keep]:
            remove(self.root / f"ckpt-{old:012d}{SUFFIX}")
        return path

    def flush(self) -> None:
        """Wait until every checkpoint saved so far is on disk."""
        if self._writer is not None:
            self._writer.submit(lambda: None).result()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    # ------------------------------------------------------------------------------ reading

    def _numbers(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.root.iterdir()
                      if (m := _NAME.fullmatch(p.name)))

    def paths(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        return [self.root / f"ckpt-{n:012d}{SUFFIX}" for n in self._numbers()]

    def load(self, path: str | Path) -> Checkpoint:
        """Verify and load one checkpoint file; raises `CheckpointIntegrityError`."""
        path = Path(path)
        header, payload = decode(self.key, path.read_bytes(), str(path))
        if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
            raise CheckpointIntegrityError(f"{path}: payload does not match its header")
        model = pickle.loads(payload)  # only after the HMAC verified: see the module docstring
        return Checkpoint(model, int(header["n_events"]), dict(header["offsets"]),
                          int(header["seq"]), float(header["created_at"]), path,
                          dict(header.get("extra") or {}))

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint that verifies (refused files are logged and listed in
        `refused`, and left in place for inspection); None when there is none."""
        for path in reversed(self.paths()):
            try:
                return self.load(path)
            except (CheckpointIntegrityError, OSError) as e:
                log.warning("checkpoint refused, trying the previous one: %s", e)
                self.refused.append((path, str(e)))
        return None


__all__ = ["KEY_ENV", "Checkpoint", "CheckpointDir", "CheckpointError",
           "CheckpointIntegrityError", "CheckpointKeyError", "checkpoint_key", "decode", "encode"]
