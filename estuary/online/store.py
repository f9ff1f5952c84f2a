"""A versioned model store on a local directory. Plain files and JSON: never pickle.

    STORE/
      versions/<n>/        model.onnx, model.pmml, ..., snapshot.json, manifest.json
      rejected/<n>/        the same, for snapshots whose parity failed (manifest says why)
      latest               {"version": n, "manifest_sha256": ...}, replaced atomically
      .staging/            versions being written (pid in the name); never read

A version is written in `.staging/`, every file fsync'd, then renamed into `versions/` or
`rejected/`; `latest` is swapped (write + fsync + rename) only for a version whose parity passed.
A process killed at any point leaves either the old `latest` or the new one, never a torn
version behind it. Readers check the manifest (a typed `manifest.Manifest`, whose file names
cannot leave the version directory) and every file's SHA-256 before loading.

>>> store = Store("models"); store.open().manifest.formats["onnx"].passed
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
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
from .manifest import FileEntry, Manifest

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LATEST = "latest"


class StoreError(ArtifactError):
    """A version is missing, incomplete or does not match its manifest: do not serve it."""


@dataclass(frozen=True)
class Version:
    """A verified version on disk: its number, directory and manifest."""

    number: int
    path: Path
    manifest: Manifest

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


class Store:
    """Versions of one model on a local directory; see the module docstring for the layout."""

    def __init__(self, root: str | Path, keep: int = 10):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.root = Path(root)
        self.keep = keep
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
            if not pid.isdigit() or not _pid_alive(int(pid)):
                shutil.rmtree(d, ignore_errors=True)

    def _next_number(self) -> int:
        numbers = [int(p.name) for d in (self.versions, self.rejected) if d.is_dir()
                   for p in d.iterdir() if p.name.isdigit()]
        try:
            numbers.append(json.loads((self.root / LATEST).read_text())["version"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
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
        with self._locked():
            number = self._next_number()
            made = manifest(version=number, files=files,
                            status="published" if published else "rejected")
            data = made.to_json().encode()
            _write_durably(staging / MANIFEST, data)
            _fsync_path(staging)
            target = (self.versions if published else self.rejected) / str(number)
            os.rename(staging, target)
            _fsync_path(target.parent)
            if published:
                self._point_latest(number, hashlib.sha256(data).hexdigest())
            self._retain(self.versions if published else self.rejected)
        log.info("%s version %d", made.status, number)
        return Version(number, target, made)

    def _point_latest(self, number: int, manifest_sha256: str) -> None:
        write_atomic(self.root / LATEST,
                     _canonical({"version": number, "manifest_sha256": manifest_sha256}))

    def _retain(self, where: Path) -> None:
        """Keep the newest `keep` versions in `where` (and always the one `latest` names)."""
        current = self.latest_number()
        numbers = sorted((int(p.name) for p in where.iterdir() if p.name.isdigit()), reverse=True)
        for n in numbers[self.keep:]:
            if n == current and where == self.versions:
                continue
            trash = self.staging / f"trash-{n}-{uuid.uuid4().hex[:8]}"
            os.rename(where / str(n), trash)  # gone from view at once, deleted after
            shutil.rmtree(trash, ignore_errors=True)

    # ---------------------------------------------------------------------------- reading

    def latest_number(self) -> int | None:
        """The published version `latest` names, or None before the first publish."""
        pointer = self._read_pointer()
        return None if pointer is None else pointer["version"]

    def _read_pointer(self) -> dict | None:
        try:
            pointer = json.loads((self.root / LATEST).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise StoreError(f"{self.root / LATEST} is unreadable ({e})") from e
        if not isinstance(pointer, dict) or not isinstance(pointer.get("version"), int):
            raise StoreError(f"{self.root / LATEST} does not name a version")
        return pointer

    def version_numbers(self, rejected: bool = False) -> list[int]:
        where = self.rejected if rejected else self.versions
        if not where.is_dir():
            return []
        return sorted(int(p.name) for p in where.iterdir() if p.name.isdigit())

    def open(self, number: int | None = None, rejected: bool = False) -> Version:
        """Version `number` (default: latest), after checking every file against its manifest.
        Raises `StoreError`, or `ManifestError` for a manifest that is not a valid one.

        >>> Store("models").open().manifest.formats["onnx"].report.passed
        """
        expected_manifest = None
        if number is None:
            pointer = self._read_pointer()
            if pointer is None:
                raise StoreError(f"{self.root} has no published version yet")
            number, expected_manifest = pointer["version"], pointer.get("manifest_sha256")
        path = (self.rejected if rejected else self.versions) / str(number)
        try:
            data = (path / MANIFEST).read_bytes()
        except FileNotFoundError as e:
            raise StoreError(f"version {number} is not in {path.parent}") from e
        if expected_manifest and hashlib.sha256(data).hexdigest() != expected_manifest:
            raise StoreError(f"version {number}: manifest.json does not match `latest`")
        manifest = Manifest.from_json(data)  # file names inside `path`, or ManifestError
        for name, entry in manifest.files.items():
            file = path / name
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

        return load(self.open(number).file_for(format))


__all__ = ["MANIFEST", "Store", "StoreError", "Version", "sha256_file"]
