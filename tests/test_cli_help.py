"""What a new user of the `estuary` CLI reads: every help text as written (rich markup eats
`[x]`), and messages that say what to do next."""

from __future__ import annotations

import re

import click
import typer
from typer.testing import CliRunner

from estuary.cli import app

runner = CliRunner()


def commands(command: click.Command, path: list[str]):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, path + [name])


def shown(path: list[str]) -> str:
    result = runner.invoke(app, path + ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())


def test_bracketed_help_text_is_shown():
    checked = []
    for path, command in commands(typer.main.get_command(app), []):
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        for text in texts:
            for bracketed in re.findall(r"\S*\\?\[[^\]]*\]", text):
                want = bracketed.replace("\\[", "[")
                assert want in shown(path), f"`estuary {' '.join(path)} --help` lost {want!r}"
                checked.append(want)
    assert "estuary-ml[spark]" in checked
    assert "estuary-ml[mlflow]" in checked


def test_serve_allow_learn_on_a_missing_store_says_to_make_it(tmp_path):
    store = tmp_path / "fresh"
    result = runner.invoke(app, ["serve", str(store), "--allow-learn"])
    assert result.exit_code == 2
    assert " ".join(result.stderr.split()) == (
        f"error: {store} is not a directory; make it first (`mkdir -p {store}`): "
        "--allow-learn's learner publishes into it")


def test_store_command_on_a_root_of_named_models_names_them(tmp_path):
    import json

    from estuary.online.testing import phishing

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"x": x, "y": y}) + "\n" for x, y in phishing(50)))
    for name in ("fraud", "churn"):
        learned = runner.invoke(app, ["learn", "--source", str(rows), "--store", str(tmp_path / "m"),
                                      "--name", name, "--formats", "onnx"])
        assert learned.exit_code == 0, learned.output
    result = runner.invoke(app, ["store", "list", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert " ".join(result.stderr.split()) == (
        f"error: {tmp_path / 'm'} holds named models (churn, fraud), each a store of its own: "
        f"pass one, e.g. {tmp_path / 'm' / 'churn'}")
    assert runner.invoke(app, ["store", "list", str(tmp_path / "m" / "churn")]).exit_code == 0


def test_score_with_a_store_path_that_does_not_exist_says_so(tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("a\n1\n")
    result = runner.invoke(app, ["score", str(rows), str(tmp_path / "out.csv"),
                                 "--model", str(tmp_path / "modles")])
    assert result.exit_code == 2
    assert " ".join(result.stderr.split()) == (
        f"error: {tmp_path / 'modles'} does not exist: pass the directory `estuary learn "
        "--store` or a Learner publishes to")


def test_learn_with_a_pickle_that_is_not_a_model_is_one_line(tmp_path):
    import pickle

    rows = tmp_path / "rows.csv"
    rows.write_text("a,y\n1,true\n")
    not_a_model = tmp_path / "config.pkl"
    not_a_model.write_bytes(pickle.dumps({"alpha": 0.1}))
    result = runner.invoke(app, ["learn", "--source", str(rows), "--store", str(tmp_path / "m"),
                                 "--model", str(not_a_model)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert " ".join(result.stderr.split()) == (
        f"error: {not_a_model} holds a builtins.dict, not a River model (it has no learn_one): "
        "pickle the model itself, or use one of logreg, linreg, hoeffding, gaussiannb, hst, "
        "kmeans")


def test_learn_from_a_source_it_cannot_read_lists_every_source_it_reads(tmp_path):
    parquet = tmp_path / "x.parquet"
    parquet.write_bytes(b"PAR1")
    result = runner.invoke(app, ["learn", "--source", str(parquet), "--store", str(tmp_path / "m")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert " ".join(result.stderr.split()) == (
        f"error: source {parquet}: not a source estuary reads; expected redis://HOST:PORT/DB "
        "(or rediss://, unix://) for a Redis Stream, kafka://HOST:PORT for a Kafka topic "
        "(`estuary learn`), or a .csv, .jsonl, .ndjson file that exists")
    assert not (tmp_path / "m").exists()


def test_learn_help_names_every_source_the_loop_accepts():
    """`learn --source`'s help is the loop's own list (built from the readers), so a reader
    added to estuary.readers shows in the help and in the error alike."""
    from estuary.online.loop import ACCEPTED_SOURCES
    from estuary.readers import READERS

    text = shown(["learn"])
    assert " ".join(ACCEPTED_SOURCES.split()) in text
    for suffix in READERS:
        assert suffix in text, suffix
    assert "kafka://HOST:PORT" in text and "redis://HOST:PORT/DB" in text
