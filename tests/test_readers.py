"""`estuary.readers`: the one reader of CSV / JSON Lines data files (CLI rows and learn events)."""

from __future__ import annotations

import json

import pytest

from estuary.errors import EstuaryError
from estuary.readers import DataFileError, read_events, read_rows


def test_csv_cells_and_limit(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b,c\n1.5,,red\n-2e3,inf, 7 \n\n4,5,6\n")
    assert read_rows(path) == [{"a": 1.5, "c": "red"},
                               {"a": -2000.0, "b": float("inf"), "c": 7},
                               {"a": 4, "b": 5, "c": 6}]
    assert type(read_rows(path)[1]["c"]) is int  # River: diet 1 and 1.0 differ
    assert read_rows(path, limit=1) == [{"a": 1.5, "c": "red"}]


def test_jsonl_rows_take_x_of_labelled_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"x": {"a": 1.0}, "y": true}\n\n{"a": 2, "b": "u"}\n')
    assert read_rows(path) == [{"a": 1.0}, {"a": 2, "b": "u"}]


def test_events_from_csv_pop_the_target(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("a,label\n1.5,1\n2,\n")
    assert list(read_events(path, target="label")) == [({"a": 1.5}, 1), ({"a": 2}, None)]


def test_events_from_jsonl_both_shapes(tmp_path):
    path = tmp_path / "e.ndjson"
    path.write_text('{"x": {"a": 1.0}, "y": false, "label": 3}\n{"a": 2.0, "label": "spam"}\n'
                    '{"a": 3.0}\n')
    assert list(read_events(path, target="label")) == [
        ({"a": 1.0}, False), ({"a": 2.0}, "spam"), ({"a": 3.0}, None)]


@pytest.mark.parametrize("name, text, message", [
    ("bad.csv", "a,b\n1,2\n1,2,3\n", "bad.csv line 3: 3 cells, but the header has 2"),
    ("dup.csv", "a,a\n1,2\n", "dup.csv line 1: header names must be unique and non-empty"),
    ("empty.csv", "", "empty.csv line 1: expected a header row of feature names"),
    ("bad.jsonl", '{"a": 1}\n\n{oops\n', "bad.jsonl line 3: not valid JSON"),
    ("list.jsonl", '{"a": 1}\n[1, 2]\n', "list.jsonl line 2: expected a JSON object, got list"),
    ("rows.txt", "a\n1\n", "rows.txt: unknown data file type; use one of .csv, .jsonl, .ndjson"),
])
def test_bad_files_name_the_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(DataFileError) as rows_error:
        read_rows(tmp_path / name)
    assert message in str(rows_error.value)
    with pytest.raises(DataFileError) as events_error:  # the learn loop reads the same way
        list(read_events(tmp_path / name, target="y"))
    assert message in str(events_error.value)


def test_missing_empty_and_non_utf8(tmp_path):
    with pytest.raises(DataFileError, match="nope.csv does not exist"):
        read_rows(tmp_path / "nope.csv")
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(DataFileError, match="h.csv has no data rows"):
        read_rows(tmp_path / "h.csv")
    (tmp_path / "latin.jsonl").write_bytes(json.dumps({"a": 1}).encode() + b'\n{"b": "\xe9"}\n')
    with pytest.raises(DataFileError, match=r"latin.jsonl: not UTF-8 text \(invalid continuation"):
        read_rows(tmp_path / "latin.jsonl")
    (tmp_path / "long.csv").write_bytes(b"a\n" + b"1\n" * 20_000 + b"\xe9\n")
    with pytest.raises(DataFileError, match=r"long.csv after line \d{4,5}: not UTF-8 text"):
        read_rows(tmp_path / "long.csv")
    assert issubclass(DataFileError, EstuaryError) and issubclass(DataFileError, ValueError)
