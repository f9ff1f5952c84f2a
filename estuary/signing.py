"""Ed25519 signatures of artifacts and store manifests: who exported this, and is it unchanged.

The embedded SHA-256 (integrity.py) catches corruption, but whoever can rewrite a file can
rewrite its digest. A signature needs the private key: with `trusted_key` set (argument, or
$ESTUARY_TRUSTED_KEY), `estuary.load`, the store's readers, the server and the JS client refuse
an artifact that is unsigned, signed by another key, or changed after signing (`SignatureError`).

A signature is a detached JSON file beside what it signs: `model.onnx.sig`, `model.pmml.sig`,
`model.mlmodel.sig`, `model.tfjs/model.json.sig` (inside the directory, so it moves with it) and
a store's `manifest.json.sig`. It signs `estuary-signature-v1:<sha256 hex>` where the hash is
`integrity.artifact_sha256` (a file's bytes; for TF.js model.json and its shards), so a
browser verifies it with WebCrypto's SHA-256 and Ed25519 alone (js/src/signing.js).

Keys: `estuary keygen KEY` writes KEY (PKCS#8 PEM private key, mode 0600) and KEY.pub (PEM
public key); $ESTUARY_SIGNING_KEY names the private key file exporters and publishers sign
with. `cryptography` is imported only here, only when a key is used (extra `sign`).

>>> generate_keypair("release.key"); sign_artifact("model.onnx", signing_key("release.key"))
>>> verify_artifact("model.onnx", trusted_key("release.key.pub"))
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SignatureError, SigningKeyError
from .integrity import TFJS_MAIN, artifact_sha256

SIGNING_KEY_ENV = "ESTUARY_SIGNING_KEY"
TRUSTED_KEY_ENV = "ESTUARY_TRUSTED_KEY"
SIG_SUFFIX = ".sig"
SIGNATURE_VERSION = 1
MESSAGE_PREFIX = b"estuary-signature-v1:"
MAX_SIG_BYTES = 4096  # a signature file is ~250 bytes: anything bigger is not ours
KeySpec = Any  # a key object, a path (str | Path), PEM text/bytes, or 32 raw bytes


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ModuleNotFoundError as e:  # pragma: no cover  (dev and all install it)
        raise SigningKeyError("signing needs the `cryptography` library: "
                              "pip install estuary-ml[sign]") from e
    return ed25519


def _serialization() -> Any:
    _crypto()
    from cryptography.hazmat.primitives import serialization

    return serialization


# ---------------------------------------------------------------------------------------- keys


def generate_keypair(path: str | Path) -> tuple[Path, Path]:
    """Write a new Ed25519 private key to `path` (PEM, mode 0600, never overwritten) and its
    public key to `path`.pub; returns both paths. Keep the private key out of the store."""
    ed25519, ser = _crypto(), _serialization()
    path = Path(path)
    public = path.with_name(path.name + ".pub")
    for p in (path, public):
        if p.exists():
            raise SigningKeyError(f"{p} already exists: choose another path (a key is never "
                                  "overwritten)")
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                    ser.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public.write_bytes(public_pem(key.public_key()))
    return path, public


def public_pem(key: Any) -> bytes:
    """The PEM (SubjectPublicKeyInfo) of a public key: what KEY.pub and the store hold."""
    ser = _serialization()
    return key.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_key: Any) -> str:
    """A short name of a public key (first 16 hex digits of the SHA-256 of its raw bytes)."""
    ser = _serialization()
    raw = public_key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _key_bytes(spec: KeySpec, what: str) -> tuple[bytes, str]:
    """(bytes, where they came from) of a key given as a path, PEM text or raw bytes."""
    if isinstance(spec, bytes):
        return spec, f"the {what} bytes"
    if isinstance(spec, str) and spec.lstrip().startswith("-----BEGIN"):
        return spec.encode(), f"the {what} PEM text"
    if isinstance(spec, (str, Path)):
        try:
            with Path(spec).open("rb") as f:
                return f.read(MAX_SIG_BYTES + 1), str(spec)
        except (OSError, ValueError) as e:
            raise SigningKeyError(f"cannot read the {what} {str(spec)!r} "
                                  f"({getattr(e, 'strerror', None) or e}): pass the path of a "
                                  "key written by `estuary keygen`") from e
    raise SigningKeyError(f"a {what} is a path, PEM text or an Ed25519 key object, not "
                          f"{type(spec).__name__}")


def _resolve(spec: KeySpec | None, env: str, load: Callable[[KeySpec], Any]) -> Any:
    """`load(spec)`, else `load` of the path in $`env` (unset or empty: None); `False` means
    no key whatever the environment says."""
    if spec is None:
        spec = os.environ.get(env) or None
    return None if spec is None or spec is False else load(spec)


def signing_key(spec: KeySpec | None = None) -> Any:
    """The Ed25519 private key to sign with: `spec`, else $ESTUARY_SIGNING_KEY (a path), else
    None (exports are then unsigned); `False` means unsigned whatever the environment says."""
    return _resolve(spec, SIGNING_KEY_ENV, _private_key)


def _private_key(spec: KeySpec) -> Any:
    """`signing_key`'s key from a key object, path, PEM text or 32 raw bytes."""
    ed25519, ser = _crypto(), _serialization()
    if isinstance(spec, ed25519.Ed25519PrivateKey):
        return spec
    data, where = _key_bytes(spec, "signing key")
    try:
        key = (ed25519.Ed25519PrivateKey.from_private_bytes(data) if len(data) == 32
               else ser.load_pem_private_key(data, password=None))
    except (ValueError, TypeError) as e:
        raise SigningKeyError(f"{where} is not an unencrypted Ed25519 private key (PEM or 32 raw "
                              f"bytes): {e}; make one with `estuary keygen`") from e
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningKeyError(f"{where} is a {type(key).__name__}, not an Ed25519 key: make one "
                              "with `estuary keygen`")
    return key


def trusted_key(spec: KeySpec | None | bool = None) -> Any:
    """The Ed25519 public key artifacts must be signed with: `spec` (a public key, or a private
    key whose public half is used), else $ESTUARY_TRUSTED_KEY (a path), else None (signatures
    are not required). `False` turns the check off whatever the environment says."""
    return _resolve(None if spec is True else spec, TRUSTED_KEY_ENV, _public_key)


def _public_key(spec: KeySpec) -> Any:
    """`trusted_key`'s public key from a key object (a private key's public half), path, PEM
    text or 32 raw bytes."""
    ed25519, ser = _crypto(), _serialization()
    if isinstance(spec, ed25519.Ed25519PublicKey):
        return spec
    if isinstance(spec, ed25519.Ed25519PrivateKey):
        return spec.public_key()
    data, where = _key_bytes(spec, "trusted key")
    try:
        if len(data) == 32:
            key = ed25519.Ed25519PublicKey.from_public_bytes(data)
        elif b"PRIVATE KEY" in data:
            key = ser.load_pem_private_key(data, password=None).public_key()
        else:
            key = ser.load_pem_public_key(data)
    except (ValueError, TypeError, AttributeError) as e:
        raise SigningKeyError(f"{where} is not an Ed25519 public key (PEM or 32 raw bytes): "
                              f"{e}; pass the .pub file `estuary keygen` wrote") from e
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningKeyError(f"{where} is a {type(key).__name__}, not an Ed25519 public key")
    return key


# ---------------------------------------------------------------------------------------- files


def signature_path(path: str | Path) -> Path:
    """Where the signature of `path` lives: inside a TF.js directory, else beside the file."""
    path = Path(path)
    if path.is_dir():
        return path / (TFJS_MAIN + SIG_SUFFIX)
    return path.with_name(path.name + SIG_SUFFIX)


def _message(sha256_hex: str) -> bytes:
    return MESSAGE_PREFIX + sha256_hex.encode("ascii")


_REEXPORT = ("the artifact", f"export it with ${SIGNING_KEY_ENV} set (or signing_key=)")
_REPUBLISH = ("this store version", f"publish it again with ${SIGNING_KEY_ENV} set (`estuary "
              "learn`, or `Learner(..., store=Store(root, signing_key=...))`)")


@dataclass(frozen=True)
class Signature:
    """A signature file's content."""

    key_id: str
    sha256: str
    signature: bytes

    def to_bytes(self) -> bytes:
        doc = {"estuary_signature": SIGNATURE_VERSION, "algorithm": "Ed25519",
               "key_id": self.key_id, "sha256": self.sha256,
               "signature": base64.b64encode(self.signature).decode("ascii")}
        return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def read(cls, where: Path, redo: tuple[str, str] = _REEXPORT) -> Signature:
        """The signature file at `where`, or `SignatureError` saying why it is none; `redo`
        names what is unsigned and how to sign it (re-export an artifact, re-publish a store
        version)."""
        try:
            with where.open("rb") as f:
                data = f.read(MAX_SIG_BYTES + 1)
        except FileNotFoundError:
            raise SignatureError(
                f"{where} is missing: {redo[0]} is unsigned and a trusted key is set; {redo[1]}, "
                "or do not require a signature") from None
        except OSError as e:
            raise SignatureError(f"{where} cannot be read ({e.strerror}): refused") from e
        try:
            doc = json.loads(data) if len(data) <= MAX_SIG_BYTES else None
            sig = cls(doc["key_id"], doc["sha256"], base64.b64decode(doc["signature"],
                                                                     validate=True))
            ok = (doc["estuary_signature"] == SIGNATURE_VERSION and doc["algorithm"] == "Ed25519"
                  and isinstance(sig.key_id, str) and isinstance(sig.sha256, str)
                  and len(sig.signature) == 64)
        except (ValueError, TypeError, KeyError, RecursionError):
            ok = False
        if not ok:
            raise SignatureError(f"{where} is not an estuary signature file: the artifact's "
                                 "signature is corrupt; re-export (or re-publish) it")
        return sig


def sign_artifact(path: str | Path, key: Any) -> Path:
    """Sign the artifact (or manifest) at `path` with an Ed25519 private key; returns the
    signature file's path. Ed25519 is deterministic: the same bytes give the same file."""
    path = Path(path)
    digest = artifact_sha256(path)
    sig = Signature(key_id(key.public_key()), digest, key.sign(_message(digest)))
    where = signature_path(path)
    where.write_bytes(sig.to_bytes())
    return where


def verify_artifact(path: str | Path, key: Any) -> Signature:
    """Check the signature of the artifact at `path` against the trusted public key `key`;
    `SignatureError` says whether it is unsigned, signed by another key, or changed since."""
    path = Path(path)
    sig = Signature.read(signature_path(path))
    _check(sig, key, path)
    if artifact_sha256(path) != sig.sha256:
        raise SignatureError(f"{path}: its bytes are not the bytes signed by key {sig.key_id}; "
                             "the artifact was changed after it was signed: refused, re-export it")
    return sig


def verify_bytes(data: bytes, where: Path, key: Any) -> Signature:
    """Check the signature beside `where` against `data`, the bytes already read from it (a
    store manifest: what is checked is what is parsed)."""
    sig = Signature.read(signature_path(where), _REPUBLISH)
    _check(sig, key, where)
    if hashlib.sha256(data).hexdigest() != sig.sha256:
        raise SignatureError(f"{where}: its bytes are not the bytes signed by key {sig.key_id}; "
                             "it was changed after it was signed: refused")
    return sig


def _check(sig: Signature, key: Any, path: Path) -> None:
    """The signature is by `key` and signs the digest it names."""
    from cryptography.exceptions import InvalidSignature

    trusted = key_id(key)
    if sig.key_id != trusted:
        raise SignatureError(f"{path} is signed by key {sig.key_id}, not by the trusted key "
                             f"{trusted}: refused; trust the key it was signed with, or re-export "
                             "it with the trusted key")
    try:
        key.verify(sig.signature, _message(sig.sha256))
    except InvalidSignature:
        raise SignatureError(f"{path}: its signature does not verify with the trusted key "
                             f"{trusted}: the signature file was forged or altered; refused"
                             ) from None


__all__ = ["SIGNING_KEY_ENV", "TRUSTED_KEY_ENV", "Signature", "generate_keypair", "key_id",
           "public_pem", "sign_artifact", "signature_path", "signing_key", "trusted_key",
           "verify_artifact", "verify_bytes"]
