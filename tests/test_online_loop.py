"""`estuary.online.loop`: the learn loop behind `estuary learn`, for files and Redis alike."""

from __future__ import annotations

import asyncio
import json

import pytest

from estuary.errors import UnknownFormatError
from estuary.online import EveryN, EveryT, Learner, OnDrift, Store
from estuary.online.loop import LearnRun, Snapshots, Source, learn, learn_events
from estuary.online.sources import Event
from estuary.online.testing import logreg, phishing
from estuary.readers import DataFileError


def _jsonl(path, events):
    path.write_text("".join(json.dumps({"x": x, "y": y}) + "\n" for x, y in events))
    return path


def test_learn_from_file_skips_unlabelled_and_publishes_the_end(tmp_path):
    events = phishing(250)
    path = _jsonl(tmp_path / "e.jsonl", events[:100] + [(events[100][0], None)] + events[101:])
    seen = []
    run = learn(logreg(), Source(str(path)), tmp_path / "m", Snapshots(every=100, formats=("onnx",)),
                on_result=seen.append)
    assert (run.events, run.skipped) == (249, 1)
    assert run.ok and run.latest == run.results[-1].version and seen == run.results
    assert run.results[-1].reason == "end of stream" and run.results[-1].n_events == 249
    manifest = Store(tmp_path / "m").open().manifest
    assert manifest.n_events == 249 and set(manifest.formats) == {"onnx"}
    summary = run.to_dict()
    assert summary["ok"] is True and summary["events"] == 249 and summary["skipped"] == 1
    assert summary["versions"][-1]["reports"]["onnx"]["passed"] is True


def test_max_events_and_progress(tmp_path):
    path = _jsonl(tmp_path / "e.jsonl", phishing(1250))
    lines = []
    run = learn(logreg(), Source(str(path)), tmp_path / "m", Snapshots(every=5000, formats=("onnx",)),
                max_events=1100, progress=lines.append)
    assert run.events == 1100 and lines == ["1000 events"]
    assert [r.reason for r in run.results] == ["end of stream"]


def test_bad_source_and_format_fail_before_anything_is_written(tmp_path):
    every = ("expected redis://HOST:PORT/DB (or rediss://, unix://) for a Redis Stream, "
             "kafka://HOST:PORT for a Kafka topic (`estuary learn`), or a .csv, .jsonl, .ndjson "
             "file that exists")
    with pytest.raises(DataFileError) as e:
        learn(logreg(), Source(str(tmp_path / "nope.jsonl")), tmp_path / "m")
    assert str(e.value) == f"source {tmp_path / 'nope.jsonl'}: no such file; {every}"
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(DataFileError) as e:
        learn(logreg(), Source(str(tmp_path / "x.parquet")), tmp_path / "m")
    assert str(e.value) == f"source {tmp_path / 'x.parquet'}: not a source estuary reads; {every}"
    with pytest.raises(DataFileError, match="not a source estuary reads; expected redis://"):
        learn(logreg(), Source(str(tmp_path)), tmp_path / "m")
    assert not (tmp_path / "m").exists()
    with pytest.raises(UnknownFormatError, match="tflite"):
        Snapshots(formats=("onnx", "tflite"))


def test_snapshot_policy_from_options():
    assert isinstance(Snapshots(every=7).policy(), EveryN)
    policy = Snapshots(every=7, every_seconds=2.5, drift=True).policy()
    members = policy.policies
    assert [type(p) for p in members] == [EveryN, EveryT, OnDrift]
    assert members[0].n == 7 and members[1].seconds == 2.5 and policy.needs_prediction


def test_learn_events_takes_pairs_and_event_objects_sync_or_async():
    learner = Learner(logreg())  # no store: nothing is published
    pairs = phishing(10)

    async def events():
        for i, (x, y) in enumerate(pairs):
            yield Event(str(i), x, y)

    plain = LearnRun(store=None)  # type: ignore[arg-type]
    asyncio.run(learn_events(learner, pairs[:4] + [({"a": 1.0}, None)], plain))
    assert (plain.events, plain.skipped, learner.n_events) == (4, 1, 4)
    stream = LearnRun(store=None)  # type: ignore[arg-type]
    asyncio.run(learn_events(learner, events(), stream, max_events=7))
    assert (stream.events, stream.skipped, learner.n_events) == (7, 0, 11)


def test_restart_on_a_finished_file_is_not_a_failure(tmp_path, monkeypatch):
    """`estuary learn` resumed after the end of its file learns nothing and rejected nothing: exit 0."""
    from typer.testing import CliRunner

    from estuary.cli import app
    from estuary.online.checkpoint import KEY_ENV

    monkeypatch.setenv(KEY_ENV, "test-key-0123456789abcdef")
    path = _jsonl(tmp_path / "e.jsonl", phishing(120))
    args = ["learn", "--source", str(path), "--store", str(tmp_path / "m"), "--every", "100",
            "--formats", "onnx", "--checkpoint-dir", str(tmp_path / "ckpt"), "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, args)
    summary = json.loads(again.stdout)
    assert (again.exit_code, summary["ok"], summary["events"]) == (0, True, 0)
    assert (summary["resumed_from"], summary["latest"]) == (120, 2)
    flat = tmp_path / "flat.jsonl"
    flat.write_text("".join(json.dumps({**x, "y": y}) + "\n" for x, y in phishing(120)))
    unlabelled = CliRunner().invoke(app, ["learn", "--source", str(flat), "--store",
                                          str(tmp_path / "u"), "--target", "label", "--json"])
    summary = json.loads(unlabelled.stdout)  # no event has the label: that run failed
    assert (unlabelled.exit_code, summary["ok"], summary["skipped"]) == (1, False, 120)
