"""A versioned model store on a local directory. Plain files and JSON: never pickle.

    STORE/
      versions/<n>/        model.onnx, model.pmml, ..., snapshot.json, manifest.json (and
                           with a signing key: model.onnx.sig, ..., manifest.json.sig)
      rejected/<n>/        the same, for snapshots whose parity failed (manifest says why)
      latest               {"version": n, "manifest_sha256": ...}, replaced atomically
      pin                  {"version": n, "manifest_sha256", "by", "at", "reason"} while pinned
      public_key.pem       the public key versions are signed with (when a signing key is set)
      log.jsonl            who moved `latest` by hand, when and why (append-only; store_admin)
      .staging/            versions being written (pid in the name); never read

A version is written in `.staging/`, every file fsync'd, then renamed into `versions/` or
`rejected/`; `latest` is swapped (write + fsync + rename) only for a version whose parity passed,
and only while the store is not pinned: a pinned store keeps new verified versions in
`versions/` without promoting them (`estuary store unpin` ends that; see store_admin.py).
A process killed at any point leaves either the old `latest` or the new one, never a torn
version behind it; what it leaves in `.staging/` and a half-written `.latest.*` are removed by
the next publish. Readers check, before loading: `latest`'s `manifest_sha256` (when they open
the version it names), that the version directory is a real directory (not a symlink) whose
manifest says the same number, the manifest (a typed `manifest.Manifest`, whose file names
cannot be absolute or contain `..`), that every file resolves inside the version directory (no
symlink out of it), and every file's SHA-256.

>>> store = Store("models"); store.open().manifest.formats["onnx"].passed
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._atomic import fsync_path as _fsync_path
from .._atomic import write_atomic
from .._atomic import write_durably as _write_durably
from ..errors import ArtifactError
from ..signing import public_pem, sign_artifact, signing_key, trusted_key, verify_bytes
from .manifest import FileEntry, Manifest

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_SIG = MANIFEST + ".sig"  # signing.signature_path(manifest), never listed in `files`
LATEST = "latest"
PIN = "pin"
PUBLIC_KEY = "public_key.pem"
MAX_POINTER_BYTES = 4096  # `latest` is ~100 bytes: anything bigger is not ours


class StoreError(ArtifactError):
    """A version is missing, incomplete or does not match its manifest: do not serve it."""


@dataclass(frozen=True)
class Pointer:
    """What `latest` says: the published version and the SHA-256 of its manifest.json."""

    version: int
    manifest_sha256: str


@dataclass(frozen=True)
class Pin:
    """What `pin` says: `latest` stays on `version` (whose manifest hashes to
    `manifest_sha256`) until unpinned; who pinned it, when (ISO 8601 UTC) and why."""

    version: int
    manifest_sha256: str
    by: str
    at: str
    reason: str

    def describe(self) -> str:
        return (f"the store is pinned to version {self.version} by {self.by} at {self.at} "
                f"({self.reason}): `estuary store unpin` to let publishes move `latest` again")


@dataclass(frozen=True)
class Version:
    """A verified version on disk: its number, directory and manifest. `not_promoted`, on a
    version `commit` just published, says why `latest` was not moved to it (a pin)."""

    number: int
    path: Path
    manifest: Manifest
    not_promoted: str | None = None

    def file_for(self, format: str) -> Path:
        entry = self.manifest.formats.get(format)
        if entry is None or entry.file is None:
            raise StoreError(f"version {self.number} has no {format!r} artifact; it has "
                             f"{self.manifest.served_formats()}")
        return self.path / entry.file


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _canonical(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_number(name: str) -> bool:
    """A version directory's name: ASCII digits ('²'.isdigit() is True, int('²') fails)."""
    return name.isascii() and name.isdigit() and len(name) < 19


def _read_regular(file: Path, inside: Path) -> bytes:
    """The bytes of `file`, refused if it resolves outside `inside` (a symlink out)."""
    if not file.resolve().is_relative_to(inside.resolve()):
        raise StoreError(f"{file} resolves outside {inside} (a symlink): do not serve it")
    return file.read_bytes()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


class Store:
    """Versions of one model on a local directory; see the module docstring for the layout."""

    def __init__(self, root: str | Path, keep: int = 10, *, signing_key: Any = None,
                 trusted_key: Any = None):
        """`signing_key` (default $ESTUARY_SIGNING_KEY) signs every manifest and artifact
        committed; `trusted_key` (default $ESTUARY_TRUSTED_KEY) makes every reader refuse a
        manifest not signed by it (signing.py). Both are a path or a key; False: none."""
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.root = Path(root)
        self.keep = keep
        self.signing_key = signing_key
        self.trusted_key = trusted_key
        self.versions = self.root / "versions"
        self.rejected = self.root / "rejected"
        self.staging = self.root / ".staging"

    # ---------------------------------------------------------------------------- writing

    def _prepare(self) -> None:
        for d in (self.versions, self.rejected, self.staging):
            d.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._prepare()
        with (self.root / ".lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def new_staging(self) -> Path:
        """A fresh directory to write a version in (removed again if it is never committed)."""
        self._prepare()
        self.clean_staging()
        path = self.staging / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        path.mkdir()
        return path

    def clean_staging(self) -> None:
        """Remove what killed writers left in `.staging/` (live writers' directories stay)."""
        if not self.staging.is_dir():
            return
        for d in self.staging.iterdir():
            pid = d.name.split("-", 1)[0]
            if not _is_number(pid) or not _pid_alive(int(pid)):
                shutil.rmtree(d, ignore_errors=True)

    def _clean_pointer_temps(self) -> None:
        """Remove `.latest.*` files a writer killed inside `write_atomic` left behind. Only a
        writer holding the lock writes `latest`, and we hold it: every such file is garbage."""
        for tmp in self.root.glob(f".{LATEST}.*"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _next_number(self) -> int:
        numbers = [int(p.name) for d in (self.versions, self.rejected) if d.is_dir()
                   for p in d.iterdir() if _is_number(p.name)]
        try:
            pointer = self.read_latest()
        except StoreError:  # a hostile or broken `latest` does not stop publishing
            pointer = None
        if pointer is not None:
            numbers.append(pointer.version)
        return max(numbers, default=0) + 1

    def commit(self, staging: Path, manifest: Callable[..., Manifest], published: bool
               ) -> Version:
        """Hash the staged files, write the manifest, rename the directory into `versions/`
        (and swap `latest`) if `published`, else into `rejected/`. Atomic at every step.
        `manifest(version=, status=, files=)` makes the manifest once those are known
        (e.g. `functools.partial(Manifest, ...)` with every other field)."""
        files = {}
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            name = path.relative_to(staging).as_posix()
            if name == MANIFEST:
                continue
            _fsync_path(path)
            files[name] = FileEntry(sha256_file(path), path.stat().st_size)
        for d in sorted({p.parent for p in staging.rglob("*")} | {staging}, reverse=True):
            _fsync_path(d)
        key = signing_key(self.signing_key)
        with self._locked():
            self._clean_pointer_temps()
            number = self._next_number()
            made = manifest(version=number, files=files,
                            status="published" if published else "rejected")
            data = made.to_json().encode()
            _write_durably(staging / MANIFEST, data)
            if key is not None:  # manifest.json.sig: the manifest's hashes cover every file
                _fsync_path(sign_artifact(staging / MANIFEST, key))
                self._publish_key(key)
            _fsync_path(staging)
            target = (self.versions if published else self.rejected) / str(number)
            os.rename(staging, target)
            _fsync_path(target.parent)
            held = self._pinned_why() if published else None
            if published and held is None:
                self._point_latest(number, hashlib.sha256(data).hexdigest())
            self._retain(self.versions if published else self.rejected)
        if held:
            log.warning("published version %d, not promoted: %s", number, held)
        else:
            log.info("%s version %d", made.status, number)
        return Version(number, target, made, held)

    def _publish_key(self, key: Any) -> None:
        """`public_key.pem`: the public half of the key this store is signed with, for readers
        to pin (trust it from a channel you trust, not because the store says so)."""
        pem, where = public_pem(key.public_key()), self.root / PUBLIC_KEY
        if _read_small(where) != pem:
            write_atomic(where, pem)

    def _pinned_why(self) -> str | None:
        """Why `latest` must not move now (the store is pinned, or `pin` is unreadable), or None."""
        try:
            pin = self.read_pin()
        except StoreError as e:  # cannot tell whether the operator pinned: do not move `latest`
            return f"{e}; `latest` is not moved while the pin cannot be read"
        return None if pin is None else pin.describe()

    def _point_latest(self, number: int, manifest_sha256: str) -> None:
        write_atomic(self.root / LATEST,
                     _canonical({"version": number, "manifest_sha256": manifest_sha256}))

    def _retain(self, where: Path) -> None:
        """Keep the newest `keep` versions in `where` (and always the ones `latest` and `pin`
        name)."""
        protected = self.protected() if where == self.versions else set()
        numbers = sorted((int(p.name) for p in where.iterdir() if _is_number(p.name)),
                         reverse=True)
        for n in numbers[self.keep:]:
            if n not in protected:
                self.remove(where, n)

    def remove(self, where: Path, n: int) -> None:
        """Delete version `n` of `where` (versions/ or rejected/): renamed out of view at once,
        then deleted. The caller holds the lock and has checked `protected()`."""
        trash = self.staging / f"trash-{n}-{uuid.uuid4().hex[:8]}"
        os.rename(where / str(n), trash)
        shutil.rmtree(trash, ignore_errors=True)

    def protected(self) -> set[int]:
        """Published versions that are never deleted: the one `latest` names and the pinned one
        (when `latest` or `pin` cannot be read, every published version is kept)."""
        try:
            numbers = {self.latest_number(), getattr(self.read_pin(), "version", None)}
        except StoreError:
            return set(self.version_numbers())
        return {n for n in numbers if n is not None}

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (the one `commit` takes) for an operator's change."""
        with self._locked():
            self._clean_pointer_temps()
            yield

    def point_latest(self, number: int, manifest_sha256: str) -> None:
        """Swap `latest` to `number` atomically; hold `locked()` and verify the version first."""
        self._point_latest(number, manifest_sha256)

    def write_pin(self, pin: Pin | None) -> None:
        """Write (or, with None, remove) `pin` atomically; hold `locked()`."""
        where = self.root / PIN
        if pin is None:
            where.unlink(missing_ok=True)
            _fsync_path(self.root)
        else:
            write_atomic(where, _canonical(dataclasses.asdict(pin)))

    # ---------------------------------------------------------------------------- reading

    def latest_number(self) -> int | None:
        """The published version `latest` names, or None before the first publish."""
        pointer = self.read_latest()
        return None if pointer is None else pointer.version

    def read_latest(self) -> Pointer | None:
        """`latest`, checked: None before the first publish, else a `Pointer`; `StoreError` for
        anything else (unreadable, too big, not JSON, nested, not an object, no manifest hash)."""
        where = self.root / LATEST
        data = _read_small(where)
        if data is None:
            return None
        if len(data) > MAX_POINTER_BYTES:
            raise StoreError(f"{where} is over {MAX_POINTER_BYTES} bytes: not a pointer estuary "
                             "wrote; publish again to replace it")
        try:
            pointer = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise StoreError(f"{where} is not JSON ({type(e).__name__}); publish again to "
                             "replace it") from e
        version = pointer.get("version") if isinstance(pointer, dict) else None
        digest = pointer.get("manifest_sha256") if isinstance(pointer, dict) else None
        if type(version) is not int or version < 1:
            raise StoreError(f"{where} does not name a version: publish again to replace it")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise StoreError(f"{where} has no manifest_sha256 for version {version}: publish "
                             "again to replace it")
        return Pointer(version, digest)

    def read_pin(self) -> Pin | None:
        """`pin`, checked: None when the store is not pinned, else a `Pin`; `StoreError` for a
        file estuary did not write."""
        where = self.root / PIN
        data = _read_small(where)
        if data is None:
            return None
        try:
            raw = json.loads(data) if len(data) <= MAX_POINTER_BYTES else None
            pin = Pin(**raw)
        except (ValueError, TypeError, RecursionError):
            pin = None
        if pin is None or type(pin.version) is not int or pin.version < 1 \
                or not isinstance(pin.manifest_sha256, str) \
                or not _SHA256.fullmatch(pin.manifest_sha256) \
                or not all(isinstance(v, str) for v in (pin.by, pin.at, pin.reason)):
            raise StoreError(f"{where} is not a pin estuary wrote: `estuary store pin` or "
                             "`estuary store unpin` to replace it")
        return pin

    def version_numbers(self, rejected: bool = False) -> list[int]:
        where = self.rejected if rejected else self.versions
        if not where.is_dir():
            return []
        return sorted(int(p.name) for p in where.iterdir() if _is_number(p.name))

    def open(self, number: int | None = None, rejected: bool = False, *,
             manifest_sha256: str | None = None, trusted_key: Any = None) -> Version:
        """Version `number` (default: latest), after checking every file against its manifest.
        The manifest must hash to `manifest_sha256` when given, and to what `latest` says when
        `number` is the version `latest` names; with a trusted key (`trusted_key`, else the
        store's, else $ESTUARY_TRUSTED_KEY) it must be signed by it (`SignatureError`). Raises
        `StoreError`, or `ManifestError` for a manifest that is not a valid one.

        >>> Store("models").open().manifest.formats["onnx"].report.passed
        """
        if number is None:
            pointer = self.read_latest()
            if pointer is None:
                raise StoreError(f"{self.root} has no published version yet" if self.root.is_dir()
                                 else f"{self.root} does not exist: pass the directory "
                                      "`estuary learn --store` or a Learner publishes to")
            number, manifest_sha256 = pointer.version, pointer.manifest_sha256
        elif manifest_sha256 is None and not rejected:
            with contextlib.suppress(StoreError):  # a broken `latest` says nothing of `number`
                pointer = self.read_latest()
                if pointer is not None and pointer.version == number:
                    manifest_sha256 = pointer.manifest_sha256
        key = trusted_key if trusted_key is not None else self.trusted_key
        try:
            return self._open(number, rejected, manifest_sha256, key)
        except OSError as e:  # permissions, a file where a directory should be, ...
            raise StoreError(f"version {number} cannot be read ({type(e).__name__}: {e})") from e

    def _open(self, number: int, rejected: bool, expected: str | None, trusted: Any
              ) -> Version:
        path = (self.rejected if rejected else self.versions) / str(number)
        if path.is_symlink():
            raise StoreError(f"version {number}: {path} is a symlink; a version is a directory "
                             "written by estuary, never a link to another one: do not serve it")
        try:
            data = _read_regular(path / MANIFEST, path)
        except FileNotFoundError as e:
            raise StoreError(f"version {number} is not in {path.parent}") from e
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise StoreError(f"version {number}: manifest.json does not match `latest`")
        key = trusted_key(trusted)
        if key is not None:  # SignatureError: unsigned, another key, or edited since
            verify_bytes(data, path / MANIFEST, key)
        manifest = Manifest.from_json(data)  # names relative and without '..', or ManifestError
        if manifest.version != number:
            raise StoreError(f"version {number}: its manifest says version {manifest.version}; "
                             "the directory was renamed or copied: do not serve it")
        root = path.resolve()
        for name, entry in manifest.files.items():
            file = path / name
            if not file.resolve().is_relative_to(root):
                raise StoreError(f"version {number}: {name} resolves outside the version "
                                 "directory (a symlink): do not serve it")
            if not file.is_file():
                raise StoreError(f"version {number}: {name} is missing")
            if sha256_file(file) != entry.sha256:
                raise StoreError(f"version {number}: {name} does not match its SHA-256 in the "
                                 "manifest; the file was changed or is corrupt: do not serve it")
        return Version(number, path, manifest)

    def load(self, number: int | None = None, format: str = "onnx"):
        """Verify version `number` (default latest) and load its `format` artifact in the real
        runtime, re-running the golden vectors."""
        from ..runtimes import load

        return load(self.open(number).file_for(format), trusted_key=self.trusted_key)



def _read_small(where: Path) -> bytes | None:
    """At most MAX_POINTER_BYTES + 1 bytes of a pointer file (`latest`, `pin`): a hostile
    file cannot make a reader load it whole. None when it does not exist."""
    try:
        with where.open("rb") as f:
            return f.read(MAX_POINTER_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StoreError(f"{where} is unreadable ({e})") from e

__all__ = ["MANIFEST", "MANIFEST_SIG", "PIN", "Pin", "Pointer", "Store", "StoreError", "Version", "sha256_file"]
