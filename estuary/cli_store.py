"""`estuary store list|show|diff|pin|unpin|rollback|gc STORE`: the CLI half (parsing, Rich
tables, `--json`); what the commands do is estuary.online.store_admin. Exit 2 on a refusal
(a version that does not verify, a rejected one, a pinned store, ...): nothing was changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from .cli import BadInput, _emit_json, _handled, _say, err, out

store_app = typer.Typer(help="Look after a versioned store: list, show and diff versions; pin, "
                             "unpin or roll back `latest` (to verified versions only, logged "
                             "in STORE/log.jsonl); gc old versions.", no_args_is_help=True)

StoreArg = Annotated[Path, typer.Argument(metavar="STORE", help="A store written by `estuary learn` or a Learner.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-m", help="Why (recorded in STORE/log.jsonl).")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who (default: the login name).")]


def _store(path: Path) -> Any:
    from .online.catalog import model_names
    from .online.store import Store

    if not (path / "versions").is_dir() and not (path / "rejected").is_dir():
        names = model_names(path)
        if names:  # a root of named models (`estuary learn --name`, Kafka's partitions)
            raise BadInput(f"{path} holds named models ({', '.join(names)}), each a store of "
                           f"its own: pass one, e.g. {path / names[0]}")
        raise BadInput(f"{path} is not a store: no versions/ in it (pass the directory "
                       "`estuary learn --store` or a Learner wrote)")
    return Store(path)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB"


def _parity_cell(parity: dict[str, dict], sep: str = "  ") -> Text:
    """`onnx ok 1e-16` per format (state, then the largest difference from River)."""
    text = Text()
    for i, (name, p) in enumerate(parity.items()):
        style = {"ok": "green", "n/a": "dim", "dropped": "yellow"}.get(p["state"], "bold red")
        diff = p["max_abs_diff"]
        shown = f" {diff:.1g}" if isinstance(diff, float) and p["state"] == "ok" else ""
        text.append((sep if i else "") + f"{name} {p['state']}{shown}", style=style)
    return text


def _list_table(rows: list) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("version", "status", "events", "trigger", "parity", "size", "age"):
        table.add_column(header, no_wrap=header in ("parity", "size"),
                         justify="right" if header in ("version", "events", "size", "age")
                         else "left")
    for r in rows:
        status = Text(r.status, style="green" if r.status == "published" else "bold red")
        marks = [m for m, on in (("latest", r.latest), ("pinned", r.pinned)) if on]
        if marks:
            status.append("\n" + ", ".join(marks), style="bold")
        table.add_row(str(r.number), status,
                      "" if r.n_events is None else f"{r.n_events:,}", r.trigger,
                      _parity_cell(r.parity, "\n") if not r.error else Text(r.error[:80], "red"),
                      _size(r.size_bytes), _age(r.age_seconds))
    return table


@store_app.command("list", help="Every version (published and rejected): events, trigger "
                                "(N, T, drift, manual), parity per format, size, age.")
def list_(store: StoreArg, as_json: JsonOpt = False) -> None:
    from .online import store_admin

    with _handled(as_json):
        rows = store_admin.list_versions(_store(store))
    if as_json:
        _emit_json({"store": str(store), "versions": [r.to_dict() for r in rows]})
    elif not rows:
        _say(out, f"{store} has no versions yet")
    else:
        out.print(_list_table(rows))


@store_app.command(help="One version's manifest (default: latest), every file's SHA-256 checked.")
def show(store: StoreArg,
         version: Annotated[int | None, typer.Argument(min=1, help="Version number.")] = None,
         as_json: JsonOpt = False) -> None:
    from .online import store_admin

    with _handled(as_json):
        v = store_admin.show(_store(store), version)
    m = v.manifest
    if as_json:
        _emit_json(m.to_dict())
        return
    for key, value in (("version", m.version), ("status", m.status), ("source", m.source),
                       ("task", m.task), ("created at", m.created_at), ("events", m.n_events),
                       ("reason", m.reason), ("ir hash", m.ir_hash), ("estuary", m.estuary_version),
                       ("river", m.river_version), ("files", len(m.files))):
        out.print(Text(f"{key:<12}", style="bold") + Text(str(value)))
    out.print(Text("parity      ", style="bold") + _parity_cell(store_admin.parity_summary(m)))
    for name, value in sorted(m.metrics.items()):
        out.print(Text(f"  {name:<22}") + Text(str(value)))


@store_app.command(help="What changed between two versions: schema, classes, IR hash, parity, "
                        "metrics.")
def diff(store: StoreArg,
         a: Annotated[int, typer.Argument(min=1, help="The older version.")],
         b: Annotated[int, typer.Argument(min=1, help="The newer version.")],
         as_json: JsonOpt = False) -> None:
    from .online import store_admin

    with _handled(as_json):
        d = store_admin.diff(_store(store), a, b)
    if as_json:
        _emit_json(d)
        return
    table = Table("", f"v{a}", f"v{b}", box=box.SIMPLE_HEAD, pad_edge=False)
    s = d["schema"]
    table.add_row("schema", "", "same" if s["same"] else
                  f"+{s['added']} -{s['removed']} changed {s['changed']}")
    for key in ("classes", "ir_hash", "status", "n_events", "reason"):
        p = d[key]
        table.add_row(key, Text(str(p["a"])), Text(str(p["b"]), style="" if p["same"] else "bold"))
    for name, p in d["parity"].items():
        table.add_row(f"parity {name}", *(_parity_cell({name: p[side]}) if p[side] else "-"
                                          for side in ("a", "b")))
    for name, p in d["metrics"].items():
        table.add_row(name, str(p["a"]), Text(str(p["b"]), style="" if p["same"] else "bold"))
    out.print(table)


def _done(change: Any, as_json: bool, message: str) -> None:
    if as_json:
        _emit_json({"ok": True, **change.to_dict()})
    else:
        _say(out, message, "green")


@store_app.command(help="Move `latest` to VERSION (default: where it is) after checking every "
                        "file's SHA-256, and keep it there: new publishes are verified and kept "
                        "but not promoted until `unpin`.")
def pin(store: StoreArg, reason: ReasonOpt,
        version: Annotated[int | None, typer.Argument(min=1, help="Version number.")] = None,
        by: ByOpt = None, as_json: JsonOpt = False) -> None:
    from .online import store_admin

    with _handled(as_json):
        c = store_admin.pin(_store(store), version, reason=reason, by=by)
    _done(c, as_json, f"pinned {store} to version {c.to} (was {c.from_}); logged by {c.user}")


@store_app.command(help="Let new publishes move `latest` again (it stays put until the next one).")
def unpin(store: StoreArg, reason: ReasonOpt = "", by: ByOpt = None,
          as_json: JsonOpt = False) -> None:
    from .online import store_admin

    with _handled(as_json):
        c = store_admin.unpin(_store(store), reason=reason, by=by)
    waiting = c.extra.get("waiting") or []
    _done(c, as_json, f"unpinned {store} (was pinned to {c.from_})"
          + (f"; newer verified versions {waiting}: the next publish moves `latest`"
             if waiting else ""))


@store_app.command(help="Move `latest` back to an earlier verified version (default: the one "
                        "before it), after checking every file's SHA-256. --pin keeps it there.")
def rollback(store: StoreArg, reason: ReasonOpt,
             to: Annotated[int | None, typer.Option("--to", min=1, help="Version number.")] = None,
             keep_pinned: Annotated[bool, typer.Option("--pin", help="Pin it too.")] = False,
             by: ByOpt = None, as_json: JsonOpt = False) -> None:
    from .online import store_admin

    with _handled(as_json):
        c = store_admin.rollback(_store(store), to, reason=reason, by=by, keep_pinned=keep_pinned)
    _done(c, as_json, f"rolled {store} back from version {c.from_} to {c.to}"
          + (" (pinned)" if keep_pinned else ""))


@store_app.command(help="Remove published versions beyond the newest --keep; never `latest`, "
                        "the pinned version or a rejected one (kept for audit).")
def gc(store: StoreArg,
       keep: Annotated[int, typer.Option("--keep", min=1, help="Published versions to keep.")] = 10,
       dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
       reason: ReasonOpt = "", by: ByOpt = None, as_json: JsonOpt = False) -> None:
    from .online import store_admin

    with _handled(as_json):
        r = store_admin.gc(_store(store), keep, dry_run=dry_run, reason=reason, by=by)
    if as_json:
        _emit_json({"ok": True, **r.to_dict()})
        return
    verb = "would remove" if dry_run else "removed"
    _say(out, f"{verb} {r.removed or 'nothing'}; kept {r.kept} (never removed: {r.protected} and "
              f"rejected {r.rejected_kept})", "green")


__all__ = ["err", "store_app"]
