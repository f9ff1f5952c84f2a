"""The `estuary` command line: export, verify, inspect, demo.

Exit codes: 0 ok; 1 parity or golden vectors failed; 2 bad usage or bad input. Progress goes to
stderr; `--json` puts exactly one JSON document on stdout. Errors estuary raises on purpose are
printed as their message (it says what to do next), never as a traceback.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

import estuary

from .api import artifact_size
from .cli_progress import progress_bar, shows_progress
from .converters.registry import FORMATS, format_for
from .errors import EstuaryError, GoldenCheckError
from .online.loop import ACCEPTED_SOURCES
from .parity import ParityReport
from .readers import read_rows

app = typer.Typer(
    name="estuary",
    help="Export online River models to ONNX (and more), with parity proven in the real runtime.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

PICKLE_WARNING = ("MODEL.pkl is your own pickle of a River model (pickle.dump(model, f)). "
                  "Unpickling runs code, so only load files you made yourself; estuary never "
                  "loads pickle from a store or the network.")
FORMAT_HELP = f"Target format: one of {', '.join(sorted(FORMATS))}."
DATA_HELP = ("CSV with a header row, or JSON Lines (.jsonl) of {feature: value} objects "
             "or {\"x\": {...}, \"y\": ...} objects.")


class BadInput(Exception):
    """Bad usage or input found by the CLI itself (exit 2)."""


# ------------------------------------------------------------------------------------ plumbing


def _say(console: Console, message: str, style: str | None = None) -> None:
    console.print(Text(message, style=style or ""))


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _fail(message: str, code: int, as_json: bool, kind: str) -> NoReturn:
    # one line on the terminal (runtimes' messages carry newlines); JSON keeps them
    err.print(Text("error: ", style="bold red") + Text(" ".join(message.split())))
    if as_json:
        _emit_json({"ok": False, "error": message, "error_type": kind, "exit_code": code})
    raise typer.Exit(code)


@contextmanager
def _handled(as_json: bool) -> Iterator[None]:
    """Turn estuary's own errors into a message and an exit code (1 golden, 2 bad input)."""
    try:
        yield
    except GoldenCheckError as e:
        _fail(str(e), 1, as_json, type(e).__name__)
    except (EstuaryError, BadInput) as e:
        _fail(str(e), 2, as_json, type(e).__name__)
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        _fail(f"cannot access{where}: {e.strerror or e}", 2, as_json, type(e).__name__)


@contextmanager
def _unexpected(as_json: bool) -> Iterator[None]:
    """Inspect reads untrusted files: even an error estuary did not foresee is one line, exit 2."""
    try:
        yield
    except (EstuaryError, BadInput, OSError):
        raise
    except Exception as e:
        _fail(f"unexpected {type(e).__name__} reading the artifact ({str(e)[:200]}); it is "
              "probably corrupt. This is a bug in estuary: please report it", 2, as_json,
              type(e).__name__)


def _progress(status: Any) -> Callable[[str], None]:
    """Update the spinner on a terminal; elsewhere (CI logs) print each step as a line."""
    if err.is_terminal:
        return status.update
    return lambda message: _say(err, message, "dim")


def _status(message: str, as_json: bool) -> Any:
    """A spinner on a terminal for a one-step command; nothing with --json or when piped."""
    return err.status(message) if shows_progress(err, as_json) else nullcontext()


def _load_model(path: Path) -> Any:
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise BadInput(f"{path} {what}: pass the pickle of your River model "
                       "(written with pickle.dump(model, f))")
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except Exception as e:  # unpickling can raise anything the pickled code raises
        raise BadInput(
            f"cannot unpickle {path} ({type(e).__name__}: {str(e)[:200]}); pass a file written "
            "with pickle.dump(model, f) in an environment with the same river version") from e


def _report_console(as_json: bool) -> Console:
    return err if as_json else out


def _print_report(report: ParityReport, console: Console) -> None:
    style = "green" if report.passed else "bold red"
    lines = report.to_text().splitlines()
    _say(console, lines[0], style)
    for line in lines[1:]:
        _say(console, line)


# ------------------------------------------------------------------------------------ commands


@app.callback(invoke_without_command=True)
def main(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False
         ) -> None:
    if version:
        typer.echo(f"estuary {estuary.__version__}")
        raise typer.Exit(0)


@app.command(help=f"Export a pickled River model to an artifact file.\n\n{PICKLE_WARNING}")
def export(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL.pkl", help="Your own pickle of a River model.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the artifact in.")],
    format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "onnx",
    sample: Annotated[Path | None, typer.Option(
        "--sample", help=f"Rows for the golden vectors and probes. {DATA_HELP}")] = None,
    name: Annotated[str, typer.Option("--name", help="File name without suffix.")] = "model",
    option: Annotated[list[str] | None, typer.Option(
        "--option", metavar="KEY=VALUE",
        help="A format option, e.g. --option opset=17 (ONNX); repeat for more.")] = None,
    opset: Annotated[int | None, typer.Option(
        "--opset", help="ONNX: the ai.onnx opset to write (same as --option opset=N).")] = None,
    signing_key: Annotated[Path | None, typer.Option(
        "--signing-key", help="Ed25519 private key file (`estuary keygen`) to sign the artifact "
        "with: writes <file>.sig (default $ESTUARY_SIGNING_KEY; unset: unsigned).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    with _handled(as_json):
        fmt = format_for(format)
        options = fmt.resolve_options(_format_options(option or [], opset))
        if not name or Path(name).name != name or name in (".", ".."):
            raise BadInput(f"--name {name!r} must be a plain file name without a directory")
        model = _load_model(model_path)
        rows = read_rows(sample) if sample is not None else []
        path = out_dir / f"{name}{fmt.suffix}"
        with _status(f"exporting {fmt.name} → {path}", as_json):
            artifact = estuary.export(model, path, sample=rows, format=fmt.name, options=options,
                                      signing_key=signing_key)
    facts = {"path": str(artifact.path), "format": artifact.format,
             "size_bytes": artifact.size_bytes, "ir_hash": artifact.ir_hash,
             "snapshot_id": artifact.snapshot_id, "sample_rows": len(rows), "options": options}
    if as_json:
        _emit_json({"ok": True, **facts})
        return
    _say(out, f"wrote {artifact.path} ({artifact.size_bytes:,} bytes, {artifact.format})", "green")
    _say(out, f"  ir hash      {artifact.ir_hash}")
    _say(out, f"  snapshot id  {artifact.snapshot_id}")
    _say(out, f"  sample rows  {len(rows)}")


def _format_options(pairs: list[str], opset: int | None) -> dict[str, str | int]:
    """`--option key=value` pairs (values stay strings: the format converts them) and `--opset`."""
    options: dict[str, str | int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--option {pair!r}: write KEY=VALUE, e.g. --option opset=17")
        options[key.strip()] = value.strip()
    if opset is not None:
        options["opset"] = opset
    return options


@app.command(help=f"Check that an artifact predicts what the River model predicts, in the "
                  f"artifact's real runtime. Exit 1 if not.\n\n{PICKLE_WARNING}")
def verify(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL.pkl", help="Your own pickle of a River model.")],
    artifact: Annotated[Path, typer.Argument(metavar="ARTIFACT", help="The exported file.")],
    data: Annotated[Path, typer.Option("--data", help=f"Rows to compare on. {DATA_HELP}")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")
                       ] = False,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML report.")
                     ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Use the first N rows.")
                     ] = None,
) -> None:
    with _handled(as_json):
        model = _load_model(model_path)
        rows = read_rows(data, limit=limit)
        with progress_bar(err, f"verifying {artifact.name} (River's side)", as_json) as advance:
            report = estuary.verify(model, artifact, rows, progress=advance)
        for path, text in ((junit, report.to_junit_xml), (html, report.to_html)):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text(), encoding="utf-8")
    if as_json:
        _emit_json(report.to_dict())
    _print_report(report, _report_console(as_json))
    raise typer.Exit(0 if report.passed else 1)


def _inspect_facts(loaded: Any, path: Path) -> dict:
    meta = loaded.metadata
    features = [{"name": f.name, "key": f.key, "kind": f.kind, "categories": list(f.categories),
                 "columns": len(f.columns)} for f in meta.schema.features]
    return {
        "path": str(path), "format": loaded.format, "runtime": str(loaded.runtime),
        "size_bytes": artifact_size(path), "task": meta.task, "classes": list(meta.classes),
        "source": meta.source, "ir_hash": meta.ir_hash, "provenance": meta.provenance,
        "precision": meta.precision,
        "schema": {"features": features, "n_columns": len(meta.schema.columns)},
    }


def _print_inspect(facts: dict, golden: dict) -> None:
    table = Table("feature", "kind", "columns", "categories", title="input schema")
    for f in facts["schema"]["features"]:
        cats = ", ".join(map(str, f["categories"]))
        table.add_row(Text(f["name"]), f["kind"], str(f["columns"]),
                      Text(cats if len(cats) <= 60 else cats[:57] + "..."))
    out.print(table)
    rows = [("artifact", facts["path"]), ("format", facts["format"]),
            ("runtime", facts["runtime"]), ("size", f"{facts['size_bytes']:,} bytes"),
            ("task", facts["task"]), ("source", facts["source"]),
            ("columns", str(facts["schema"]["n_columns"])), ("ir hash", facts["ir_hash"]),
            ("precision", facts["precision"])]
    if facts["classes"]:
        rows.insert(5, ("classes", ", ".join(map(repr, facts["classes"]))))
    rows += [(f"provenance.{k}", str(v)) for k, v in sorted(facts["provenance"].items())]
    for key, value in rows:
        out.print(Text(f"{key:<28}", style="bold") + Text(value))
    if golden["passed"]:
        _say(out, f"golden vectors: {golden['vectors']} reproduce "
                  f"(max abs diff {golden['max_abs_diff']:.3g})", "green")


@app.command(help="Show what an artifact contains and re-run its embedded golden vectors "
                  "(exit 1 if they do not reproduce).")
def inspect(
    artifact: Annotated[Path, typer.Argument(metavar="ARTIFACT", help="The exported file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    with _handled(as_json), _unexpected(as_json):
        loaded = estuary.load(artifact, check=False)
        facts = _inspect_facts(loaded, artifact)
    golden: dict[str, Any] = {"vectors": len(loaded.metadata.golden_inputs), "passed": True,
                              "max_abs_diff": None, "error": None}
    try:
        with _unexpected(as_json):
            golden["max_abs_diff"] = loaded.check_golden()
    except GoldenCheckError as e:
        golden.update(passed=False, error=str(e))
    except EstuaryError as e:  # no golden vectors, or the artifact fails to run: exit 2
        _fail(str(e), 2, as_json, type(e).__name__)
    if as_json:
        _emit_json({**facts, "golden": golden})
    else:
        _print_inspect(facts, golden)
    if not golden["passed"]:
        err.print(Text("error: ", style="bold red") + Text(golden["error"]))
        raise typer.Exit(1)


def _demo_table(runs: list) -> Table:
    table = Table(title="estuary demo", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("format", "runtime", "rows", "labels", "max |diff|", "passed", "export",
                   "verify", "size"):
        table.add_column(header, justify="left" if header in
                         ("format", "runtime", "passed") else "right")
    for run in runs:
        r = run.report
        labels = "-" if r.label_agreement is None else f"{r.label_agreement:.2%}"
        passed = Text("yes", style="green") if r.passed else Text("NO", style="bold red")
        table.add_row(run.format, r.runtime, str(r.n_rows), labels, f"{r.max_abs_diff:.2g}",
                      passed, f"{run.export_ms:.0f} ms", f"{run.verify_ms:.0f} ms",
                      f"{run.size_bytes / 1024:.1f} KiB")
    return table


def _versions_table(versions: list) -> Table:
    table = Table(title="estuary demo: online versions", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("version", "events", "trigger", "formats", "published", "stall", "export"):
        table.add_column(header, justify="left" if header in ("trigger", "formats", "published")
                         else "right")
    for v in versions:
        formats = ", ".join(f"{f} {'ok' if r.passed else 'FAIL'}" for f, r in sorted(v.reports.items()))
        formats += "".join(f", {f} error" for f in sorted(v.errors))
        table.add_row(str(v.version), str(v.n_events), v.reason, formats,
                      Text("yes", style="green") if v.published else Text("NO", style="bold red"),
                      f"{v.stall_ms:.2f} ms", f"{v.seconds * 1000:.0f} ms")
    return table


@app.command(help="Learn a River model on a bundled dataset, export it to every format and "
                  "prove parity in each runtime; then stream the dataset through a Learner that "
                  "publishes verified snapshots to OUT/store and print each version's report. "
                  "Exit 1 if any format fails.")
def demo(
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Directory for the artifacts (default: a fresh temporary directory).")
    ] = None,
    dataset: Annotated[str, typer.Option(
        "--dataset", help="phishing (LogisticRegression), chickweights (Select/OneHotEncoder "
                          "union + LinearRegression) or trumpapproval (LinearRegression).")
    ] = "phishing",
    every: Annotated[int, typer.Option(
        "--every", min=1, help="The online part: snapshot every N events into OUT/store.")
    ] = 250,
    task: Annotated[str | None, typer.Option(
        "--task", help="Run a task's demo instead of --dataset: anomaly (HalfSpaceTrees on a "
                       "synthetic stream), cluster (KMeans on Bananas), forecast (HoltWinters "
                       "on AirlinePassengers), classification or regression.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    from .demo import DATASETS, TASK_DATASETS, demo_runs, online_demo

    with _handled(as_json):
        if task is not None:
            if task not in TASK_DATASETS:
                raise BadInput(f"unknown task {task!r}; choose one of {', '.join(TASK_DATASETS)}")
            dataset = TASK_DATASETS[task]
        if dataset not in DATASETS:
            raise BadInput(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
        if out_dir is None:
            out_dir = Path(tempfile.mkdtemp(prefix="estuary-demo-"))
        _say(err, f"writing artifacts to {out_dir}")
        with err.status(f"demo on {dataset}") as status:
            runs = demo_runs(out_dir, dataset, progress=_progress(status))
            versions = online_demo(out_dir, dataset, every, progress=_progress(status))
    passed = all(run.report.passed for run in runs) and bool(versions) and all(
        v.published for v in versions)
    if as_json:
        _emit_json({"ok": passed, "dataset": dataset, "out_dir": str(out_dir), "runs": [
            {"format": run.format, "path": str(run.path), "size_bytes": run.size_bytes,
             "export_ms": run.export_ms, "verify_ms": run.verify_ms,
             "report": run.report.to_dict()} for run in runs],
            "store": str(out_dir / "store"), "versions": [
            {"version": v.version, "published": v.published, "n_events": v.n_events,
             "reason": v.reason, "stall_ms": v.stall_ms, "export_seconds": v.seconds,
             "errors": v.errors, "reports": {f: r.to_dict() for f, r in v.reports.items()}}
            for v in versions]})
    console = _report_console(as_json)
    # CI logs are not terminals: rich would assume 80 columns and squeeze the table
    wide = console if console.is_terminal else Console(file=console.file, width=120)
    wide.print(_demo_table(runs))
    for run in runs:
        _print_report(run.report, console)
    wide.print(_versions_table(versions))
    for v in versions:
        for report in v.reports.values():
            _say(console, f"v{v.version} {report.summary()}", "green" if report.passed else "bold red")
        for fmt, error in v.errors.items():
            _say(console, f"v{v.version} {fmt}: {error.splitlines()[0]}", "bold red")
    raise typer.Exit(0 if passed else 1)


# ------------------------------------------------------------------------------------ online


_SOURCE = "Source (→ estuary.online.loop.Source)"
_SNAPSHOTS = "Snapshots and store (→ estuary.online.loop.Snapshots)"
_CHECKPOINTS = "Training checkpoints (→ estuary.online.loop.Checkpointing)"


def _learn_model(name: str) -> Any:
    from .online.models import MODELS

    if name in MODELS:
        return MODELS[name]()
    if name.endswith(".pkl"):
        model = _load_model(Path(name))
        if not callable(getattr(model, "learn_one", None)):
            kind = f"{type(model).__module__}.{type(model).__qualname__}"
            raise BadInput(f"{name} holds a {kind}, not a River model (it has no learn_one): "
                           f"pickle the model itself, or use one of {', '.join(MODELS)}")
        return model
    raise BadInput(f"--model {name!r}: use one of {', '.join(MODELS)} or your own MODEL.pkl")


def _print_learned(run: Any, target: str, as_json: bool) -> None:
    if run.skipped:
        _say(err, f"skipped {run.skipped} events without a {target!r} field", "yellow")
    if as_json:
        _emit_json(run.to_dict())
    else:
        _say(out, f"learned {run.events} events; latest version {run.latest} in {run.store}",
             "green" if run.ok else "bold red")


@app.command(help="Learn from a live source (a Redis Stream or Kafka topic read by a consumer "
                  "group, or a data file: see --source) and publish verified snapshots to a "
                  "versioned store. Exit 1 if the last snapshot was rejected (or no event had "
                  "the label)."
                  f"\n\n{PICKLE_WARNING}")
def learn(
    source: Annotated[str, typer.Option("--source", help=f"Where events come from: {ACCEPTED_SOURCES}.", rich_help_panel=_SOURCE)],
    store: Annotated[Path, typer.Option("--store", help="The versioned store directory.", rich_help_panel=_SNAPSHOTS)],
    model: Annotated[str, typer.Option("--model", help="logreg, linreg, hoeffding, gaussiannb, hst (MinMaxScaler | HalfSpaceTrees: anomaly scores), kmeans (StandardScaler | KMeans) or MODEL.pkl.")] = "logreg",
    name: Annotated[str | None, typer.Option("--name", help="Publish as the named model STORE/NAME (one store root, many models: `estuary serve STORE` serves them all).", rich_help_panel=_SNAPSHOTS)] = None,
    stream: Annotated[str, typer.Option("--stream", help="Redis Stream key.", rich_help_panel=_SOURCE)] = "events",
    group: Annotated[str, typer.Option("--group", help="Redis or Kafka consumer group.", rich_help_panel=_SOURCE)] = "estuary",
    topic: Annotated[str, typer.Option("--topic", help="Kafka topic (with --source kafka://HOST:PORT): a learner per assigned partition, each in STORE/<topic>-<p>; needs --checkpoint-dir.", rich_help_panel=_SOURCE)] = "events",
    key_field: Annotated[str | None, typer.Option("--key-field", help="Kafka: a model per value of this event field inside each partition (per-tenant models), each in STORE/<topic>-<key>.", rich_help_panel=_SOURCE)] = None,
    consumer: Annotated[str | None, typer.Option("--consumer", help="Consumer name (default host-pid).", rich_help_panel=_SOURCE)] = None,
    target: Annotated[str, typer.Option("--target", help="The field holding the label.", rich_help_panel=_SOURCE)] = "y",
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Stop when the stream is idle for --idle-ms.", rich_help_panel=_SOURCE)] = False,
    idle_ms: Annotated[int, typer.Option("--idle-ms", min=1, rich_help_panel=_SOURCE)] = 1000,
    every: Annotated[int, typer.Option("--every", min=1, help="Snapshot every N events.", rich_help_panel=_SNAPSHOTS)] = 1000,
    every_seconds: Annotated[float | None, typer.Option("--every-seconds", help="Also every T seconds.", rich_help_panel=_SNAPSHOTS)] = None,
    drift: Annotated[bool, typer.Option("--drift", help="Also on drift (ADWIN on the error).", rich_help_panel=_SNAPSHOTS)] = False,
    formats: Annotated[str | None, typer.Option("--formats", help="Comma-separated formats (default: all but ort, which is published only when named: onnx,ort).", rich_help_panel=_SNAPSHOTS)] = None,
    keep: Annotated[int, typer.Option("--keep", min=1, help="Versions to keep.", rich_help_panel=_SNAPSHOTS)] = 10,
    max_events: Annotated[int | None, typer.Option("--max-events", min=1, help="Stop after N events.")] = None,
    checkpoint_dir: Annotated[Path | None, typer.Option("--checkpoint-dir", help="Training checkpoints (signed with $ESTUARY_CHECKPOINT_KEY; outside the store): resume from the newest valid one, and checkpoint at each snapshot.", rich_help_panel=_CHECKPOINTS)] = None,
    checkpoint_every: Annotated[int | None, typer.Option("--checkpoint-every", min=1, help="Also checkpoint every N events.", rich_help_panel=_CHECKPOINTS)] = None,
    checkpoint_seconds: Annotated[float | None, typer.Option("--checkpoint-seconds", help="Also checkpoint every T seconds.", rich_help_panel=_CHECKPOINTS)] = None,
    checkpoint_keep: Annotated[int, typer.Option("--checkpoint-keep", min=1, help="Checkpoints to keep.", rich_help_panel=_CHECKPOINTS)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
) -> None:
    from .online import loop

    def report(result: Any) -> None:
        _say(err, result.summary(), "green" if result.published else "bold red")

    with _handled(as_json):
        names = tuple(f.strip() for f in formats.split(",") if f.strip()) if formats else None
        snapshots = loop.Snapshots(every=every, every_seconds=every_seconds, drift=drift,
                                   formats=names, keep=keep)
        events = loop.Source(source, target=target, stream=stream, group=group,
                             consumer=consumer, idle_ms=idle_ms, until_idle=until_idle)
        ckpt = (loop.Checkpointing(checkpoint_dir, every=checkpoint_every,
                                   every_seconds=checkpoint_seconds, keep=checkpoint_keep)
                if checkpoint_dir else None)
        if name is not None:
            if source.startswith("kafka://"):
                raise BadInput("--name is for one model: from Kafka every partition publishes "
                               "its own, STORE/<topic>-<p>")
            from .online.catalog import named_store

            store = named_store(store, name).root  # ModelNameError: what a name may be
        if source.startswith("kafka://"):
            from .online.kafka import learn_kafka

            stats = learn_kafka(source, topic, group, lambda: _learn_model(model), store, ckpt,
                                snapshots, idle_ms if until_idle else None, key_field)
            if as_json:
                _emit_json(stats)
            else:
                _say(out, f"learned {stats['events']} events from {topic}", "green")
            raise typer.Exit(0)
        if key_field is not None:
            raise BadInput("--key-field needs --source kafka://HOST:PORT")
        bar = shows_progress(err, as_json)
        with progress_bar(err, f"learning from {source}", as_json) as advance:
            run = loop.learn(_learn_model(model), events, store, snapshots,
                             max_events=max_events, on_result=report,
                             progress=None if bar else (lambda line: _say(err, line, "dim")),
                             checkpointing=ckpt, counted=lambda n: advance(n, max_events))
    _print_learned(run, target, as_json)
    raise typer.Exit(0 if run.ok else 1)


@app.command(help="Score a table (Parquet or CSV) with a published version: adds prediction "
                  "(and probabilities) columns. --engine spark runs the same scoring in Spark "
                  "(pip install estuary-ml\\[spark]) and writes Spark's output directory; "
                  "--engine spark-sql compiles the model to Spark SQL (no Python workers; "
                  "linear models and majority-class trees of a store).")
def score(
    input: Annotated[Path, typer.Argument(metavar="INPUT", help="rows.parquet or rows.csv")],
    output: Annotated[Path, typer.Argument(metavar="OUTPUT", help="scored.parquet or scored.csv")],
    model: Annotated[str, typer.Option("--model", help="A store directory, or an .onnx file.")],
    version: Annotated[int | None, typer.Option("--version", min=1, help="Default: latest.")] = None,
    engine: Annotated[str, typer.Option("--engine", help="local, spark or spark-sql.")
                      ] = "local",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
) -> None:
    from .scale.score import score as score_table

    with _handled(as_json):
        if engine not in ("local", "spark", "spark-sql"):
            raise BadInput(f"--engine {engine!r}: use local, spark or spark-sql")
        with _status(f"scoring {input} ({engine})", as_json):
            rows = score_table(input, output, model, version, engine)
    if as_json:
        _emit_json({"rows": rows, "output": str(output), "engine": engine})
    else:
        _say(out, f"scored {rows} rows into {output} ({engine})", "green")


@app.command(help="Serve the latest verified version of a store over HTTP, hot-reloading new "
                  "versions: POST /predict, GET /models/latest, GET /models/<n>/<file>, "
                  "GET /healthz, GET /metrics (Prometheus). A store root of named models "
                  "(STORE/<name>/, `learn --name`) is served whole: POST /models/<name>/predict, "
                  "GET /models/<name>/latest, GET /models, ?model=<name> on any route.")
def serve(
    store: Annotated[Path, typer.Argument(metavar="STORE", help="A store written by `estuary learn` or a Learner.")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    format: Annotated[str, typer.Option("--format", help="The artifact to predict with.")] = "onnx",
    poll: Annotated[float, typer.Option("--poll", help="Seconds between looks at `latest`.")] = 0.25,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", min=0.001, help="Largest request body in MB (413 beyond it, refused while reading).")] = 10.0,
    allow_learn: Annotated[bool, typer.Option("--allow-learn", help="Accept POST /learn events, with `Authorization: Bearer $ESTUARY_LEARN_TOKEN`, for a fresh --model that publishes into STORE every --every events. Off by default.")] = False,
    model: Annotated[str, typer.Option("--model", help="With --allow-learn: logreg, linreg, hoeffding, gaussiannb, hst or kmeans.")] = "logreg",
    every: Annotated[int, typer.Option("--every", min=1, help="With --allow-learn: snapshot every N events.")] = 1000,
    log_format: Annotated[str, typer.Option("--log-format", help="text, or json: swaps, refusals and failed requests as JSON lines on stderr.")] = "text",
    trusted_key: Annotated[Path | None, typer.Option("--trusted-key", help="Ed25519 public key file (`estuary keygen`): serve only versions whose manifest and artifact it signed; others are refused and the previous one keeps serving (default $ESTUARY_TRUSTED_KEY).")] = None,
) -> None:
    from .online.server import serve as run_server

    with _handled(False):
        if not store.is_dir():
            raise BadInput(f"{store} is not a directory; "
                           + (f"make it first (`mkdir -p {store}`): --allow-learn's learner "
                              "publishes into it" if allow_learn else
                              "create one with `estuary learn --store`"))
        learner = _serve_learner(store, model, every) if allow_learn else None
        _say(err, f"serving {store} on http://{host}:{port} ({format})"
                  + (f"; POST /learn on for a new {model}" if learner else ""))
        try:
            run_server(store, host, port, format=format, poll=poll, learner=learner,
                       allow_learn=allow_learn, max_body_bytes=int(max_body_mb * 1e6),
                       log_format=log_format, trusted_key=trusted_key)
        except ValueError as e:  # --allow-learn without a usable token, a bad --log-format
            raise BadInput(str(e)) from e
        finally:
            if learner is not None:
                learner.close()


def _serve_learner(store: Path, model: str, every: int) -> Any:
    """The Learner behind `serve --allow-learn`: a registered model only (never a pickle)."""
    from .online import EveryN, Learner, Store
    from .online.models import MODELS

    if model not in MODELS:
        raise BadInput(f"--model {model!r}: with --allow-learn use one of {', '.join(MODELS)}")
    return Learner(MODELS[model](), store=Store(store), policy=EveryN(every))


@app.command(help="Write a new Ed25519 key pair for signing artifacts and store manifests: "
                  "KEY (private, PEM, mode 0600; keep it out of the store) and KEY.pub (give it "
                  "to `estuary serve --trusted-key`, estuary.load(trusted_key=) and pages).")
def keygen(
    key: Annotated[Path, typer.Argument(metavar="KEY", help="Where to write the private key.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    from .signing import generate_keypair, key_id, trusted_key

    with _handled(as_json):
        private, public = generate_keypair(key)
        facts = {"private_key": str(private), "public_key": str(public),
                 "key_id": key_id(trusted_key(public))}
    if as_json:
        _emit_json({"ok": True, **facts})
        return
    _say(out, f"wrote {private} (private, keep it secret) and {public} (key id "
              f"{facts['key_id']})", "green")
    _say(out, f"  sign:   export ESTUARY_SIGNING_KEY={private}")
    _say(out, f"  verify: estuary serve STORE --trusted-key {public}")


@app.command("setup-js", help="Install the npm packages of the Node runtimes (.tfjs, "
                              "onnxruntime-web) and of the web page: `npm ci` from the lockfile "
                              "shipped with estuary, into $ESTUARY_JS_HOME (default "
                              "~/.cache/estuary/js). Needs Node 20+ and npm.")
def setup_js(
    dir: Annotated[Path | None, typer.Option("--dir", help="Install here instead; then set "
                                             "ESTUARY_JS_HOME to this folder.")] = None,
    prefer_offline: Annotated[bool, typer.Option("--prefer-offline", help="Use npm's cache "
                                                 "first.")] = False,
) -> None:
    from .assets import ENV_HOME, js_home
    from .assets import setup_js as run_setup

    with _handled(False):
        target = dir.expanduser().resolve() if dir is not None else js_home()
        with err.status(f"npm ci in {target} (a few hundred MB the first time)"):
            run_setup(target, prefer_offline=prefer_offline)
    _say(out, f"estuary's npm packages are installed in {target}", "green")
    if dir is not None and target != js_home():
        _say(out, f"  export {ENV_HOME}={target}")


# ------------------------------------------------------------------------------------ store

from .cli_store import store_app  # noqa: E402  (it uses the plumbing above)

app.add_typer(store_app, name="store")

# ------------------------------------------------------------------------------------ pg

pg_app = typer.Typer(help="Score rows inside PostgreSQL on insert: PL/Python functions that load "
                          "verified versions of a store (needs estuary's postgres extra here and "
                          "postgresql-plpython3-15 on the server).", no_args_is_help=True)
app.add_typer(pg_app, name="pg")
PG_DIR_HELP = ("Deployment directory the database server reads (site packages + verified copies "
               "of published versions), made readable by the server's group only.")


@pg_app.command("install", help="Build --dir (numpy + onnxruntime for the server's Python via pip "
                                "--target, a slim estuary, a copy of STORE's newest published "
                                "version) and create estuary_predict(model, row jsonb), "
                                "estuary_add_trigger(table, model, ...) and estuary_check(model) "
                                "in the database. --dsn must name a superuser (plpython3u).")
def pg_install(
    dsn: Annotated[str, typer.Option("--dsn", help="e.g. postgresql://postgres@localhost/app")],
    dir: Annotated[Path, typer.Option("--dir", help=PG_DIR_HELP)],
    store: Annotated[Path | None, typer.Option("--store", help="A store written by `estuary learn` or a Learner.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Name in SQL (default: the store directory's name).")] = None,
) -> None:
    from .integrations.postgres import install

    with _handled(False):
        with err.status("installing estuary's PostgreSQL functions"):
            done = install(dsn, store, dir, model)
    _say(out, f"estuary_predict and estuary_add_trigger are installed; site {done.site}", "green")
    if done.checked:
        _say(out, f"  model {done.model!r}: version {done.version}, the server loads it "
                  f"({done.checked['runtime']}); run `estuary pg sync` after each publish")


@pg_app.command("sync", help="Copy STORE's newest published version (sha256-checked) into --dir; "
                             "the database scores with it from its next row, no restart.")
def pg_sync(
    store: Annotated[Path, typer.Option("--store", help="The store to copy from.")],
    dir: Annotated[Path, typer.Option("--dir", help=PG_DIR_HELP)],
    model: Annotated[str | None, typer.Option("--model", help="Name in SQL (default: the store directory's name).")] = None,
    watch: Annotated[float | None, typer.Option("--watch", min=0.05, metavar="SECONDS", help="Keep running: sync whenever the store publishes (polled every SECONDS).")] = None,
) -> None:
    from .integrations import postgres

    with _handled(False):
        if watch is None:
            version = postgres.sync(store, dir, model)
            _say(out, f"version {version} is what the database scores with now")
            return
        _say(err, f"watching {store} every {watch:g} s (Ctrl-C stops)")
        try:
            postgres.watch(store, dir, model, watch, on_sync=lambda n: _say(
                out, f"version {n} is what the database scores with now"))
        except KeyboardInterrupt:
            pass


@pg_app.command("trigger", help="Add a BEFORE INSERT trigger on TABLE that fills the prediction "
                                "(and probabilities, version) columns from the feature columns.")
def pg_trigger(
    dsn: Annotated[str, typer.Option("--dsn")],
    table: Annotated[str, typer.Option("--table")],
    model: Annotated[str, typer.Option("--model")],
    prediction_column: Annotated[str, typer.Option("--prediction-column")] = "prediction",
    proba_column: Annotated[str | None, typer.Option("--proba-column", help="A jsonb column for {class: probability}.")] = None,
    version_column: Annotated[str | None, typer.Option("--version-column", help="An integer column for the model version.")] = None,
) -> None:
    from .integrations.postgres import add_trigger

    with _handled(False):
        name = add_trigger(dsn, table, model, prediction_column, proba_column, version_column)
    _say(out, f"trigger {name} on {table} scores every insert with model {model!r}")


# ------------------------------------------------------------------------------------ ci

ci_app = typer.Typer(help="Parity checks in your CI: the jobs that run your parity tests.",
                     no_args_is_help=True)
app.add_typer(ci_app, name="ci")


@ci_app.command("init", help="Write a GitHub Actions workflow (.github/workflows/parity.yml) and a "
                             "GitLab CI job (.gitlab-ci.yml) into PROJECT that install "
                             "requirements.txt (written if missing) and run `pytest "
                             "--estuary-reports reports`, keeping reports/ as CI artifacts.")
def ci_init(
    project: Annotated[Path, typer.Argument(help="Your project's root.")] = Path("."),
    github: Annotated[bool, typer.Option("--github/--no-github")] = True,
    gitlab: Annotated[bool, typer.Option("--gitlab/--no-gitlab")] = True,
    force: Annotated[bool, typer.Option("--force", help="Overwrite CI files that exist with other content.")] = False,
    show: Annotated[bool, typer.Option("--print", help="Print the files instead of writing them.")] = False,
) -> None:
    from . import ci

    systems = tuple(s for s, on in (("github", github), ("gitlab", gitlab)) if on)
    if show:
        for s in systems:
            typer.echo(f"# --- {ci.FILES[s][0]}\n{ci.FILES[s][1]}")
        return
    with _handled(False):
        done = ci.init(project, systems, force)
    for path in done.written:
        _say(out, f"wrote {path}", "green")
    for path in done.unchanged:
        _say(out, f"{path} is already as estuary writes it")
    for note in done.notes:
        _say(err, note, "yellow")


# ------------------------------------------------------------------------------------ mlflow

mlflow_app = typer.Typer(help="Register a store's verified versions in an MLflow model registry "
                              "(pip install estuary-ml\\[mlflow]).", no_args_is_help=True)
app.add_typer(mlflow_app, name="mlflow")


@mlflow_app.command("sync", help="Register every version of STORE not registered yet (runs, parity "
                                 "metrics, a pyfunc model over the ONNX artifact); the alias moves "
                                 "to published versions only.")
def mlflow_sync(
    store: Annotated[Path, typer.Option("--store", help="A store written by `estuary learn` or a Learner.")],
    name: Annotated[str | None, typer.Option("--name", help="Registered model name (default: the store directory's name).")] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="Default: sqlite:///STORE/mlflow/mlflow.db.")] = None,
    alias: Annotated[str, typer.Option("--alias")] = "champion",
) -> None:
    from .integrations.mlflow import MlflowRegistry

    with _handled(False):
        registry = MlflowRegistry(store, name, tracking_uri, alias)
        done = registry.sync()
    for r in done:
        moved = f", alias {alias}" if r.alias_moved else ""
        _say(out, f"store version {r.store_version} → {r.name} version {r.model_version}{moved}")
    if not done:
        _say(out, f"nothing to register: every version of {store} is in {registry.tracking_uri}")


__all__ = ["app"]
