"""Structured logs: one JSON object a line, through `logging` (`estuary serve --log-format json`).

Each line has `time` (ISO 8601 UTC), `level`, `logger` and `message`, plus the fields the call
passed in `extra=` (`event`: swap, refused, request_error; `version`, `reason`, `route`,
`status`, ...) and `exc` with the traceback when there is one.

>>> use_json_logs()  # then: {"time": "...", "level": "INFO", "event": "swap", "version": 3, ...}
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

# the attributes every LogRecord has: anything else on a record came from `extra=`
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A LogRecord as one line of JSON (values JSON cannot hold are written with `str`)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        out.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps({k: _plain(v) for k, v in out.items()}, default=str)


def _plain(value: Any) -> Any:
    """NaN and infinities as strings: a JSON line must stay JSON."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return value


def use_json_logs(stream: IO[str] | None = None, level: int = logging.INFO,
                  logger: str = "estuary") -> logging.Handler:
    """Send `logger`'s records (INFO and up) to `stream` (default stderr) as JSON lines, and no
    longer to the root logger's handlers. Returns the handler (remove it to undo)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(level)
    target.propagate = False
    return handler


__all__ = ["JsonFormatter", "use_json_logs"]
