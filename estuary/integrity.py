"""A SHA-256 of an artifact's own bytes, embedded in its metadata: byte corruption is refused on
load even outside a store (where the manifest's hashes do the same job).

The metadata JSON carries `"integrity": "sha256:000…0"` (a placeholder, 64 zeros) when a format
writes it; `stamp` then hashes the files with that placeholder in place and writes the digest
over it, which changes no length (protobuf, XML and JSON all stay valid). `check` zeroes the
digest again and compares. It is a checksum, not a signature: whoever can rewrite the file can
rewrite the digest too (signing is what stops tampering).

>>> stamp(Path("model.onnx")); check(Path("model.onnx"), "sha256:…")
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .errors import ArtifactError, IntegrityError

PREFIX = "sha256:"
PLACEHOLDER = PREFIX + "0" * 64
_STAMP = re.compile(rb"sha256:[0-9a-f]{64}")
TFJS_MAIN = "model.json"


def _parts(path: Path) -> tuple[Path, list[Path]]:
    """The file holding the metadata, and the other files the artifact is made of (sorted):
    for TF.js, model.json and the weight shards it lists (a stray file beside them, such as a
    .DS_Store, is not part of the artifact)."""
    if not path.is_dir():
        return path, []
    main = path / TFJS_MAIN
    try:
        manifest = json.loads(main.read_bytes()).get("weightsManifest") or []
        names = sorted({name for group in manifest for name in group.get("paths", [])})
    except (ValueError, AttributeError, TypeError) as e:
        raise IntegrityError(f"{main}: cannot list the weight files to check its digest "
                             f"({type(e).__name__}); the file is corrupt: re-export it") from e
    if not all(isinstance(n, str) and n and Path(n).name == n for n in names):
        raise IntegrityError(f"{main}: a weight file path leaves the artifact's directory; the "
                             "file is corrupt or hostile: re-export it")
    others = [path / n for n in names]
    inside(path, [main, *others])
    return main, others


def inside(directory: Path, files: list[Path]) -> None:
    """Refuse (ArtifactError) a file of a directory artifact that resolves outside it: a weight
    shard replaced by a symlink to /etc/passwd must not be read, hashed or served."""
    root = directory.resolve()
    for f in files:
        if not f.resolve().is_relative_to(root):
            raise ArtifactError(f"{f} resolves outside {directory} (a symlink out of the "
                                "artifact): refused; re-export the artifact")


def artifact_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of an artifact as it is on disk: a file's bytes, or a TF.js directory's
    model.json and the weight shards it lists (what a signature covers: estuary/signing.py)."""
    path = Path(path)
    try:
        main, others = _parts(path)
        return _digest(main.read_bytes(), others)
    except OSError as e:
        raise ArtifactError(f"cannot read {path} to hash it: {e.strerror or e}") from e


def _digest(main: bytes, others: list[Path]) -> str:
    h = hashlib.sha256(main)
    for p in others:
        data = p.read_bytes()
        h.update(f"\0{p.name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def stamp(path: str | Path) -> bool:
    """Replace the placeholder in a freshly written artifact by its digest; False (and nothing
    written) when the artifact has no placeholder (a writer that embeds no estuary metadata).
    The digest is written over the placeholder in place (same length): rewriting the whole file
    through a truncate made ext4 flush it on close (~2 ms a 4 kB artifact here)."""
    main, others = _parts(Path(path))
    data = main.read_bytes()
    marker = PLACEHOLDER.encode()
    if data.count(marker) != 1:
        return False
    digest = (PREFIX + _digest(data, others)).encode()
    with main.open("r+b") as f:
        f.seek(data.index(marker))
        f.write(digest)
    return True


def check(path: str | Path, claimed: str) -> bool:
    """Verify the digest the metadata claims; False when there is none (an export made before
    digests, or by a writer that does not stamp), `IntegrityError` when the bytes differ."""
    if not claimed or claimed == PLACEHOLDER:
        return False
    path = Path(path)
    try:
        main, others = _parts(path)
        data = main.read_bytes()
        if len(_STAMP.findall(data)) != 1 or data.count(claimed.encode()) != 1:
            raise IntegrityError(f"{path}: its integrity digest is missing or repeated; the "
                                 "file is corrupt: re-export it")
        actual = _digest(data.replace(claimed.encode(), PLACEHOLDER.encode()), others)
    except OSError as e:
        raise ArtifactError(f"cannot read {path} to check its digest: {e.strerror}") from e
    if PREFIX + actual != claimed:
        raise IntegrityError(f"{path}: its bytes do not match the SHA-256 embedded at export; "
                             "the file was corrupted or edited after export: do not serve it, "
                             "re-export it")
    return True


__all__ = ["PLACEHOLDER", "IntegrityError", "artifact_sha256", "check", "inside", "stamp"]
