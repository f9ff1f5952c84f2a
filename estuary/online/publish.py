"""The worker half of a snapshot: write every format, load each in its real runtime, compare
with the frozen River outputs, and commit the version (published only if every format passed).

With the default formats, a float32 format (TF.js; Core ML's float32 models) that does not
match River on this version's rows is dropped instead: its artifact is not served and the
manifest says why, and the float64 formats, which did match, are published. Asked for by
name, every format must pass.

`publish` is a plain function of picklable values, so it runs in a thread or another process.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import shutil
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__, ir
from ..converters import formats as _formats  # noqa: F401  (registers every installed format)
from ..converters.registry import default_formats, format_for
from ..errors import UnsupportedModelError
from ..parity.report import ParityReport
from ..runtimes import load
from ..signing import signature_path, signing_key
from .freeze import Frozen, to_snapshot
from .manifest import SCHEMA_VERSION, FormatEntry, Manifest, ParitySummary
from .parity import compare_reference
from .store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishResult:
    """What became of one snapshot: `published` (and `latest` now names `version`, unless
    `not_promoted` says why not: the store is pinned) or not."""

    version: int | None
    published: bool
    reports: dict[str, ParityReport] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # format → what went wrong
    dropped: dict[str, str] = field(default_factory=dict)  # float32 format → why not served
    n_events: int = 0
    reason: str = ""
    stall_ms: float = 0.0
    seconds: float = 0.0  # in the worker
    not_promoted: str | None = None  # published and kept, but `latest` stayed (a pin)

    def summary(self) -> str:
        where = "published" if self.published else "REJECTED"
        if self.not_promoted:
            where += " (not promoted: the store is pinned)"
        parts = [f"{fmt} {'ok' if r.passed else 'FAIL'} (max diff {r.max_abs_diff:.2g})"
                 for fmt, r in sorted(self.reports.items())]
        parts += [f"{fmt} error: {e.splitlines()[0][:120]}" for fmt, e in sorted(self.errors.items())]
        parts += [f"{fmt} dropped: {why}" for fmt, why in sorted(self.dropped.items())]
        return (f"v{self.version} {where} after {self.n_events} events ({self.reason}): "
                + "; ".join(parts))


def _one_format(name: str, snap: ir.Snapshot, frozen: Frozen, staging: Path, explicit: bool,
                key: Any = None) -> tuple[ParityReport | None, str | None, str | None, str | None]:
    """(report, error, file name, reason the format does not apply to this model); with a
    signing `key`, the artifact is signed and its signature checked on load."""
    fmt = format_for(name)
    path = staging / f"model{fmt.suffix}"
    if path.exists():  # two formats share a suffix: name the second after its format
        path = staging / f"model-{name}{fmt.suffix}"
    try:
        fmt.write(snap, path, signing_key=key or False)
        # the real runtime; re-runs the golden vectors (and checks the signature just made)
        loaded = load(path, trusted_key=key.public_key() if key else None)
        report = compare_reference(loaded, frozen.probes, frozen.reference,
                                   ir.content_hash(frozen.model))
        return report, None, path.name, None
    except UnsupportedModelError as e:
        if explicit:
            return None, f"{type(e).__name__}: {e}", None, None
        # a format that cannot express this model (TF.js and trees) is not applicable: skip it
        _discard(path)
        return None, None, None, str(e)
    except Exception as e:  # a broken emitter or runtime rejects this snapshot, not the loop
        log.warning("%s export failed: %s", name, e)
        return None, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}", None, None


def _discard(path: Path) -> None:
    """Remove a staged artifact (a file and its signature, or a directory such as .tfjs) that
    will not be served."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
        signature_path(path).unlink(missing_ok=True)


def _drop_float32(name: str, report: ParityReport, path: Path) -> str:
    """Remove a float32 artifact that does not follow River on this version; say why."""
    _discard(path)
    labels = "" if report.label_agreement is None else f", labels {report.label_agreement:.2%}"
    why = (f"{name} computes in float32 and does not match River on this version's rows "
           f"(max diff {report.max_abs_diff:.2g}{labels}): not served for this version; the "
           "float64 formats are")
    log.warning("%s", why)
    return why


def publish(frozen: Frozen, store: Store | str | Path, formats: Sequence[str] | None = None,
            keep: int = 10) -> PublishResult:
    """Export `frozen` to every format in `formats` (default: every registered one but those
    published only when named, such as `ort`), check
    parity in each real runtime, and commit it to `store`.

    >>> publish(freeze(model, rows), Store("models")).published
    """
    start = time.perf_counter()
    store = store if isinstance(store, Store) else Store(store, keep=keep)
    names = list(formats) if formats else default_formats()
    snap = to_snapshot(frozen)
    staging = store.new_staging()
    try:
        return _publish_staged(frozen, store, names, snap, staging, start, bool(formats))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _publish_staged(frozen: Frozen, store: Store, names: list[str], snap: ir.Snapshot,
                    staging: Path, start: float, explicit: bool) -> PublishResult:
    (staging / "snapshot.json").write_text(ir.to_json(snap, indent=1), encoding="utf-8")
    key = signing_key(store.signing_key)
    reports: dict[str, ParityReport] = {}
    errors: dict[str, str] = {}
    dropped: dict[str, str] = {}
    entries: dict[str, FormatEntry] = {}
    for name in names:
        report, error, file, not_applicable = _one_format(name, snap, frozen, staging, explicit,
                                                          key)
        if not_applicable:
            entries[name] = FormatEntry(None, None, None, not_applicable=not_applicable)
            continue
        if report is not None and not report.passed and not explicit \
                and report.precision == "float32":
            why = _drop_float32(name, report, staging / str(file))
            dropped[name] = why
            summary = ParitySummary.from_report(dataclasses.replace(report, artifact=""))
            entries[name] = FormatEntry(None, False, summary, not_applicable=why)
            continue
        if report is not None:  # the report names the file as it will be once committed
            report = dataclasses.replace(report, artifact=str(file))
            reports[name] = report
        if error is not None:
            errors[name] = error
        entries[name] = FormatEntry(file, bool(report and report.passed),
                                    ParitySummary.from_report(report) if report else None, error)
    passed = bool(reports) and not errors and all(r.passed for r in reports.values())
    seconds = time.perf_counter() - start
    manifest = functools.partial(  # the store adds version, status and files
        Manifest,
        schema_version=SCHEMA_VERSION,
        ir_hash=ir.content_hash(frozen.model),
        snapshot_id=snap.provenance.snapshot_id,
        source=frozen.model.source,
        task=frozen.model.task,
        created_at=frozen.created_at,
        n_events=frozen.n_events,
        reason=frozen.reason,
        estuary_version=__version__,
        river_version=snap.provenance.river_version,
        formats=entries,
        probes=len(frozen.probes),
        metrics={**frozen.metrics, "stall_ms": round(frozen.stall_ms, 4),
                 "export_seconds": round(seconds, 4)})
    version = store.commit(staging, manifest, passed)
    reports = {f: dataclasses.replace(r, artifact=str(version.path / r.artifact))
               for f, r in reports.items()}
    return PublishResult(version.number, passed, reports, errors, dropped, frozen.n_events,
                         frozen.reason, frozen.stall_ms, seconds, version.not_promoted)


__all__ = ["PublishResult", "publish"]
