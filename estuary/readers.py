"""Data files → rows: CSV and JSON Lines, read the same way by every command and the learn loop.

CSV: a header row of feature names, then one row per line. Integer-looking cells stay ints (River
names one-hot keys `f"{key}_{value}"`, so 1 and 1.0 are different categories), other numbers
become floats, an empty cell leaves the key out (missing), the rest stay strings.
JSON Lines (`.jsonl`, `.ndjson`): one object a line, either `{feature: value}` or
`{"x": {feature: value}, "y": label}`. Errors are `DataFileError`s naming the file and the line.

>>> read_rows(Path("sample.csv"), limit=100)[0]
{'age_of_domain': 1, 'empty_server_form_handler': 0.0, ...}
>>> for x, y in read_events(Path("events.jsonl"), target="y"):
...     model.learn_one(x, y)
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import EstuaryError


class DataFileError(EstuaryError, ValueError):
    """A CSV / JSON Lines data file is missing, of an unknown type or malformed; the message
    names the file and the line."""


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?inf(inity)?", re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?\d+")


def cell(value: str) -> int | float | str:
    """One CSV cell: `"7"` → 7, `"-2e3"` → -2000.0, `"inf"` → inf, anything else as written."""
    text = value.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    return float(text) if _NUMBER.fullmatch(text) else value


def _csv_records(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise DataFileError(f"{path} line 1: expected a header row of feature names")
        if len(set(header)) != len(header) or "" in header:
            raise DataFileError(f"{path} line 1: header names must be unique and non-empty")
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise DataFileError(f"{path} line {reader.line_num}: {len(cells)} cells, but the "
                                    f"header has {len(header)}")
            yield reader.line_num, {k: cell(c) for k, c in zip(header, cells) if c.strip()}


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataFileError(f"{path} line {number}: not valid JSON ({e.msg})") from e
            if not isinstance(obj, dict):
                raise DataFileError(f"{path} line {number}: expected a JSON object, "
                                    f"got {type(obj).__name__}")
            yield number, obj


READERS: dict[str, Callable[[Path], Iterable[tuple[int, dict]]]] = {
    ".csv": _csv_records, ".jsonl": _jsonl_records, ".ndjson": _jsonl_records,
}


def is_data_file(path: Path) -> bool:
    """True when `path` has a suffix estuary reads (it may still not exist)."""
    return path.suffix.lower() in READERS


def records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every data line: a CSV row as a dict of cells, or a JSON object
    as written (a `{"x": ..., "y": ...}` object stays whole)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataFileError(f"{path}: unknown data file type; use one of {', '.join(READERS)}")
    if not path.is_file():
        raise DataFileError(f"{path} does not exist")
    line = 0
    try:
        for line, obj in reader(path):
            yield line, obj
    except UnicodeDecodeError as e:  # text is decoded in blocks: the line is a lower bound
        raise DataFileError(f"{_after(path, line)}: not UTF-8 text ({e.reason})") from e
    except csv.Error as e:
        raise DataFileError(f"{_after(path, line)}: bad CSV ({e})") from e


def _after(path: Path, line: int) -> str:
    return f"{path} after line {line}" if line else str(path)


def _features(obj: dict) -> dict:
    return obj["x"] if isinstance(obj.get("x"), dict) else obj


def read_rows(path: Path, limit: int | None = None) -> list[dict]:
    """The feature rows of a data file (the first `limit`); a file without rows is an error.

    >>> read_rows(Path("rows.csv"))
    [{'a': 1.5, 'c': 'red'}, {'a': -2000.0, 'b': inf, 'c': 7}]
    """
    rows: list[dict] = []
    for _, obj in records(path):
        if limit is not None and len(rows) >= limit:
            break
        rows.append(_features(obj))
    if not rows:
        raise DataFileError(f"{path} has no data rows")
    return rows


def read_events(path: Path, target: str) -> Iterator[tuple[dict, Any]]:
    """(x, y) pairs: y is the `target` column of a CSV row or flat JSON object (None when
    absent, and the key is removed from x), or the `"y"` of a `{"x": ..., "y": ...}` object.

    >>> next(read_events(Path("events.jsonl"), target="label"))
    ({'a': 1.0}, True)
    """
    for _, obj in records(path):
        if isinstance(obj.get("x"), dict):
            yield obj["x"], obj.get("y")
        else:
            yield obj, obj.pop(target, None)


__all__ = ["READERS", "DataFileError", "cell", "is_data_file", "read_events", "read_rows", "records"]
