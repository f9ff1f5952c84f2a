"""Operating a store by hand: list, show and diff versions; pin, unpin, roll back; gc.

`latest` moves by hand only to a *verified* published version: every file's SHA-256 is checked
again (and the manifest's against what `latest` will say) under the store's lock, and the swap
is the same atomic write `commit` makes. A pinned store keeps `latest` where the operator put
it: new publishes are still verified and kept in `versions/`, and their `PublishResult` says
they were not promoted. Every change is appended to `log.jsonl` in the store (time, user,
action, from, to, reason), one JSON object a line, fsync'd; nothing in it is ever rewritten.

gc keeps the newest `keep` published versions and never removes the one `latest` names, the
pinned one, or any rejected version (rejected/ is the audit trail of what failed parity;
`commit` keeps its newest `keep` as before).

>>> rollback(Store("models"), by="ana", reason="v7 misroutes Paris traffic").to
6
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import ir
from ..errors import ArtifactError
from .manifest import Manifest
from .store import MANIFEST, Pin, Store, StoreError, Version, sha256_file

LOG = "log.jsonl"


class StoreAdminError(StoreError):
    """An operator's command on a store that cannot be carried out as asked (nothing changed)."""


class NoSuchVersionError(StoreAdminError):
    """The version is neither in versions/ nor in rejected/."""


class NotVerifiedError(StoreAdminError):
    """The version's files (or manifest) do not match what was published: never served."""


class RejectedVersionError(StoreAdminError):
    """The version failed parity when it was published: it cannot become `latest`."""


class PinnedError(StoreAdminError):
    """The store is pinned: roll back by pinning another version, or unpin first."""


class NotPinnedError(StoreAdminError):
    """`unpin` on a store that is not pinned."""


class NothingToRollBackToError(StoreAdminError):
    """No published version is earlier than `latest`, or the target is not earlier."""


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class VersionInfo:
    """One row of `estuary store list`."""

    number: int
    status: str  # published | rejected | unreadable
    latest: bool = False
    pinned: bool = False
    n_events: int | None = None
    reason: str = ""
    trigger: str = ""  # N | T | drift | manual | end | other
    created_at: str = ""
    age_seconds: float | None = None
    size_bytes: int = 0
    parity: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _finite(dataclasses.asdict(self))


_EVERY_N = re.compile(r"every \d+ events")
_EVERY_T = re.compile(r"every [0-9.e+-]+ s")


def trigger(reason: str) -> str:
    """What made a snapshot, from the manifest's `reason`: N (every N events), T (every T
    seconds), drift, manual, end (of a stream) or other.

    >>> trigger("drift (ADWIN)")
    'drift'
    """
    if reason.startswith("drift"):
        return "drift"
    if _EVERY_N.fullmatch(reason):
        return "N"
    if _EVERY_T.fullmatch(reason):
        return "T"
    return {"manual": "manual", "end of stream": "end"}.get(reason, "other")


def _age(created_at: str, now: datetime) -> float | None:
    try:
        return round((now - datetime.fromisoformat(created_at)).total_seconds(), 3)
    except (ValueError, TypeError):  # naive or not ISO: no age rather than a wrong one
        return None


def parity_summary(manifest: Manifest) -> dict[str, dict[str, Any]]:
    out = {}
    for name, entry in sorted(manifest.formats.items()):
        report = entry.report
        if entry.error:
            state = "error"  # the export or the runtime's load failed
        elif entry.file is None:  # does not apply, or a float32 format dropped for this version
            state = "n/a" if entry.passed is None else "dropped"
        else:
            state = "ok" if entry.passed else "FAIL"
        out[name] = {"state": state,
                     "max_abs_diff": report.max_abs_diff if report else None,
                     "label_agreement": report.label_agreement if report else None}
    return out


def _info(manifest: Manifest, latest: int | None, pinned: int | None, now: datetime
          ) -> VersionInfo:
    n = manifest.version
    published = manifest.published
    return VersionInfo(n, manifest.status, published and n == latest, published and n == pinned,
                       manifest.n_events, manifest.reason, trigger(manifest.reason),
                       manifest.created_at, _age(manifest.created_at, now),
                       sum(f.size for f in manifest.files.values()), parity_summary(manifest),
                       dict(manifest.metrics))


def _read_manifest(path: Path) -> Manifest:
    return Manifest.from_json((path / MANIFEST).read_bytes())


def _pointers(store: Store) -> tuple[int | None, int | None]:
    """(`latest`'s version, the pinned version); a broken file reads as None here (listing
    goes on; `pin`, `rollback` and publish refuse on it)."""
    out = []
    for read in (store.read_latest, store.read_pin):
        try:
            out.append(getattr(read(), "version", None))
        except StoreError:
            out.append(None)
    return out[0], out[1]


def list_versions(store: Store) -> list[VersionInfo]:
    """Every version (published and rejected), oldest first, from the manifests (file hashes
    are checked by `show`, `pin` and `rollback`, not here)."""
    latest, pinned = _pointers(store)
    now = datetime.now(UTC)
    rows = []
    for rejected in (False, True):
        where = store.rejected if rejected else store.versions
        for n in store.version_numbers(rejected):
            try:
                rows.append(_info(_read_manifest(where / str(n)), latest, pinned, now))
            except (ArtifactError, OSError) as e:
                rows.append(VersionInfo(n, "unreadable", error=f"{type(e).__name__}: {e}"))
    return sorted(rows, key=lambda r: r.number)


def _where(store: Store, number: int) -> bool:
    """True when `number` is a rejected version, False when published; NoSuchVersionError."""
    if number in store.version_numbers():
        return False
    if number in store.version_numbers(rejected=True):
        return True
    raise NoSuchVersionError(f"{store.root} has no version {number}; versions: "
                             f"{store.version_numbers()}, rejected: "
                             f"{store.version_numbers(rejected=True)} (`estuary store list`)")


def _verified(store: Store, number: int, rejected: bool = False) -> Version:
    try:
        return store.open(number, rejected)
    except NoSuchVersionError:
        raise
    except ArtifactError as e:  # StoreError, ManifestError
        raise NotVerifiedError(f"version {number} does not verify ({e})") from e


def show(store: Store, number: int | None = None) -> Version:
    """Version `number` (default: the one `latest` names), every file's SHA-256 checked."""
    if number is None:
        number = store.latest_number()
        if number is None:
            raise NoSuchVersionError(f"{store.root} has no published version yet")
    return _verified(store, number, _where(store, number))


def _schema(version: Version) -> tuple[dict[str, dict[str, Any]], list] | None:
    path = version.path / "snapshot.json"
    if "snapshot.json" not in version.manifest.files:
        return None
    snap = ir.from_json(path.read_text(encoding="utf-8"))
    return {f.name: {"kind": f.kind, "categories": list(f.categories)}
            for f in snap.model.schema.features}, list(snap.model.classes)


def _pair(a: Any, b: Any) -> dict[str, Any]:
    return {"a": a, "b": b, "same": a == b}


def diff(store: Store, a: int, b: int) -> dict[str, Any]:
    """What changed from version `a` to version `b`: schema (features added, removed or whose
    kind or categories changed), classes, IR hash, parity per format and metrics."""
    va, vb = show(store, a), show(store, b)
    (sa, ca), (sb, cb) = _schema(va) or ({}, []), _schema(vb) or ({}, [])
    ma, mb = va.manifest, vb.manifest
    pa, pb = parity_summary(ma), parity_summary(mb)
    metrics = {k: _pair(ma.metrics.get(k), mb.metrics.get(k))
               for k in sorted(set(ma.metrics) | set(mb.metrics))}
    return _finite({
        "a": a, "b": b,
        "schema": {"added": sorted(set(sb) - set(sa)), "removed": sorted(set(sa) - set(sb)),
                   "changed": sorted(k for k in set(sa) & set(sb) if sa[k] != sb[k]),
                   "same": sa == sb},
        "classes": _pair(ca, cb),
        "ir_hash": _pair(ma.ir_hash, mb.ir_hash),
        "status": _pair(ma.status, mb.status),
        "n_events": _pair(ma.n_events, mb.n_events),
        "reason": _pair(ma.reason, mb.reason),
        "parity": {f: _pair(pa.get(f), pb.get(f)) for f in sorted(set(pa) | set(pb))},
        "metrics": metrics,
    })


def _finite(value: Any) -> Any:
    """JSON-safe: non-finite floats as "inf", "-inf", "nan" (as in manifests)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# ---------------------------------------------------------------------------- changing


@dataclass(frozen=True)
class Change:
    """What an operator's command did, as appended to log.jsonl."""

    time: str
    user: str
    action: str  # pin | unpin | rollback | gc
    from_: int | None
    to: int | None
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "user": self.user, "action": self.action,
                "from": self.from_, "to": self.to, "reason": self.reason, **self.extra}


def _user(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no $USER (a bare container)
        return f"uid {os.getuid()}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(store: Store, action: str, from_: int | None, to: int | None, reason: str,
            by: str | None, **extra: Any) -> Change:
    """Append one line to log.jsonl (O_APPEND, fsync'd); the caller holds the lock."""
    change = Change(_now(), _user(by), action, from_, to, reason, extra)
    line = (json.dumps(change.to_dict(), sort_keys=True) + "\n").encode()
    fd = os.open(store.root / LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return change


def read_log(store: Store) -> list[dict[str, Any]]:
    """The store's log, oldest first (an empty list before the first change)."""
    try:
        text = (store.root / LOG).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise StoreAdminError("say why (--reason): the store's log records who moved `latest` "
                              "and why")
    return reason.strip()


def _current(store: Store) -> int | None:
    return store.latest_number()  # StoreError on a broken `latest`: fix it by pinning


def _promote(store: Store, number: int) -> str:
    """Check version `number` for `latest` (published, every file's SHA-256) and swap
    `latest` to it; the caller holds the lock. Returns its manifest's SHA-256."""
    digest = _check_servable(store, number)
    store.point_latest(number, digest)
    return digest


def _check_servable(store: Store, number: int) -> str:
    """The SHA-256 of published version `number`'s manifest, once every file checks out;
    RejectedVersionError, NotVerifiedError or NoSuchVersionError otherwise."""
    if _where(store, number):
        raise RejectedVersionError(f"version {number} was rejected (its parity failed when it "
                                   "was published): it cannot be served; pick a published one "
                                   "(`estuary store list`)")
    try:
        digest = sha256_file(store.versions / str(number) / MANIFEST)
        store.open(number, manifest_sha256=digest)
    except (ArtifactError, OSError) as e:
        raise NotVerifiedError(f"version {number} does not verify, nothing changed: "
                               f"{e}") from e
    return digest


def pin(store: Store, number: int | None = None, *, reason: str, by: str | None = None
        ) -> Change:
    """Move `latest` to verified version `number` (default: where it is) and keep it there:
    publishes no longer promote until `unpin`."""
    reason = _reason(reason)
    with store.locked():
        try:
            current = _current(store)
        except StoreError:
            current = None  # pinning a good version is how a broken `latest` is repaired
        target = current if number is None else number
        if target is None:
            raise NoSuchVersionError(f"{store.root} has no published version to pin")
        digest = _check_servable(store, target)  # before anything is written
        # the pin first: a crash before `latest` moves leaves publishes held, never promoted
        store.write_pin(Pin(target, digest, _user(by), _now(), reason))
        store.point_latest(target, digest)
        return _record(store, "pin", current, target, reason, by)


def unpin(store: Store, *, reason: str = "", by: str | None = None) -> Change:
    """Let publishes move `latest` again (`latest` stays where it is until the next one)."""
    with store.locked():
        pinned = store.read_pin()
        if pinned is None:
            raise NotPinnedError(f"{store.root} is not pinned")
        store.write_pin(None)
        newer = [n for n in store.version_numbers() if n > pinned.version]
        return _record(store, "unpin", pinned.version, None, reason.strip() or "unpinned", by,
                       waiting=newer)


def rollback(store: Store, to: int | None = None, *, reason: str, by: str | None = None,
             keep_pinned: bool = False) -> Change:
    """Move `latest` to an earlier verified published version (default: the newest one before
    it). The next publish moves it on again unless `keep_pinned` (which pins it)."""
    reason = _reason(reason)
    with store.locked():
        held = store.read_pin()
        if held is not None:
            raise PinnedError(f"{store.root} is pinned to version {held.version}: "
                              f"`estuary store pin {store.root} N -m REASON` moves the pin, "
                              f"`estuary store unpin {store.root}` lifts it")
        current = _current(store)
        if current is None:
            raise NothingToRollBackToError(f"{store.root} has no published version yet")
        earlier = [n for n in store.version_numbers() if n < current]
        target = to if to is not None else (earlier[-1] if earlier else None)
        if target is None:
            raise NothingToRollBackToError(f"no published version is earlier than {current} "
                                           f"in {store.root}")
        if target >= current:
            raise NothingToRollBackToError(
                f"version {target} is not earlier than `latest` ({current}); `estuary store "
                f"pin {store.root} {target} -m REASON` moves `latest` to any verified version")
        digest = _promote(store, target)
        if keep_pinned:
            store.write_pin(Pin(target, digest, _user(by), _now(), reason))
        return _record(store, "rollback", current, target, reason, by, pinned=keep_pinned)


@dataclass(frozen=True)
class GcResult:
    removed: list[int]
    kept: list[int]
    protected: list[int]
    rejected_kept: list[int]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def gc(store: Store, keep: int, *, dry_run: bool = False, reason: str = "",
       by: str | None = None) -> GcResult:
    """Remove published versions beyond the newest `keep`, except the one `latest` names and
    the pinned one; rejected versions are never removed (audit). Also clears `.staging/`."""
    if keep < 1:
        raise StoreAdminError(f"--keep must be at least 1, got {keep}")
    with store.locked():
        protected = store.protected()
        numbers = store.version_numbers()
        newest = set(numbers[-keep:])
        removed = [n for n in numbers if n not in newest and n not in protected]
        if not dry_run:
            store.clean_staging()
            for n in removed:
                store.remove(store.versions, n)
            if removed:
                _record(store, "gc", None, None, reason.strip() or f"keep {keep}", by,
                        removed=removed)
    return GcResult(removed, [n for n in numbers if n not in removed], sorted(protected),
                    store.version_numbers(rejected=True), dry_run)


__all__ = ["LOG", "Change", "GcResult", "NoSuchVersionError", "NotPinnedError",
           "NotVerifiedError", "NothingToRollBackToError", "PinnedError", "RejectedVersionError",
           "StoreAdminError", "VersionInfo", "diff", "gc", "list_versions", "parity_summary",
           "pin", "read_log", "rollback", "show", "trigger", "unpin"]
