"""Progress on long CLI work: a bar on a terminal, nothing with --json or when piped, no colour
under NO_COLOR; and the hooks behind it (verify's River side, the learn loop) really count."""

from __future__ import annotations

import io
import json
import re

from rich.console import Console
from typer.testing import CliRunner

import estuary
from estuary.cli import app
from estuary.cli_progress import progress_bar, shows_progress
from estuary.online.loop import Snapshots, Source, learn
from estuary.online.testing import logreg, phishing

COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-9](;[0-9;]*)?m")  # an SGR foreground colour


def _terminal(**kwargs) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100, **kwargs), buffer


def test_a_terminal_gets_a_bar_with_counts():
    console, buffer = _terminal()
    with progress_bar(console, "verifying model.onnx", as_json=False) as advance:
        advance(300, 1200)
        console.file.flush()
    assert shows_progress(console, as_json=False)
    assert "verifying model.onnx" in buffer.getvalue() and "300/1200" in buffer.getvalue()


def test_json_or_a_pipe_gets_nothing():
    console, buffer = _terminal()
    with progress_bar(console, "verifying", as_json=True) as advance:
        advance(5, 10)
    piped = Console(file=io.StringIO(), force_terminal=False)
    with progress_bar(piped, "verifying", as_json=False) as advance:
        advance(5, 10)
    assert buffer.getvalue() == "" and piped.file.getvalue() == ""
    assert not shows_progress(console, as_json=True) and not shows_progress(piped, False)


def test_no_color_is_honoured(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    console, buffer = _terminal()
    with progress_bar(console, "learning", as_json=False) as advance:
        advance(100, None)
    assert console.no_color and "learning" in buffer.getvalue()
    assert not COLOUR.search(buffer.getvalue())
    monkeypatch.delenv("NO_COLOR")
    coloured, out = _terminal()
    with progress_bar(coloured, "learning", as_json=False) as advance:
        advance(100, None)
    assert COLOUR.search(out.getvalue())  # the check above can fail


def test_verify_reports_river_side_progress_up_to_every_probe_row(tmp_path):
    model, rows = logreg(), []
    for x, y in phishing(300):
        model.learn_one(x, y)
        rows.append(x)
    path = estuary.export(model, tmp_path / "m.onnx", sample=rows[:20]).path
    calls: list[tuple[int, int]] = []
    report = estuary.verify(model, path, rows, progress=lambda done, total: calls.append(
        (done, total)))
    totals = {total for _, total in calls}
    assert len(totals) == 1 and totals.pop() >= report.n_rows > 300  # probes added to the rows
    assert [done for done, _ in calls] == list(range(0, calls[-1][0] + 1, 100))


def test_learn_counts_every_hundred_events(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps({"x": x, "y": y}) + "\n" for x, y in phishing(450)))
    counts: list[int] = []
    run = learn(logreg(), Source(str(path)), tmp_path / "m",
                Snapshots(every=5000, formats=("onnx",)), counted=counts.append)
    assert run.events == 450 and counts == [100, 200, 300, 400]


def test_cli_verify_with_json_writes_only_json(tmp_path):
    import pickle

    model, rows = logreg(), []
    for x, y in phishing(200):
        model.learn_one(x, y)
        rows.append(x)
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    estuary.export(model, tmp_path / "m.onnx", sample=rows[:20])
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "m.pkl"), str(tmp_path / "m.onnx"),
                                      "--data", str(tmp_path / "rows.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passed"] is True
