"""Parity checks in your own tests (and in CI): `assert_parity`.

>>> from estuary.testing import assert_parity
>>> assert_parity(model, "model.onnx", rows)          # AssertionError with the worst rows
>>> assert_parity(model, "model.onnx", rows, reports="reports", name="churn")

With the pytest plugin (installed with estuary: `pytest --estuary-reports DIR`), the
`estuary_parity` fixture calls this with DIR and the test's name, so CI collects
`DIR/<test>.json`, `.junit.xml` and `.html` for every check, passed or failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

WORST = 5  # worst rows quoted in a failure message


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "parity"


def write_reports(report: Any, directory: str | Path, name: str) -> dict[str, Path]:
    """`report` as JSON, JUnit XML and HTML in `directory` (created), named after `name`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = _stem(name)
    paths = {"json": directory / f"{stem}.json", "junit": directory / f"{stem}.junit.xml",
             "html": directory / f"{stem}.html"}
    paths["json"].write_text(report.to_json() + "\n", encoding="utf-8")
    paths["junit"].write_text(report.to_junit_xml() + "\n", encoding="utf-8")
    paths["html"].write_text(report.to_html(), encoding="utf-8")
    return paths


def failure_message(report: Any, worst: int = WORST) -> str:
    """The report's summary and its worst rows (input, River's output, the artifact's)."""
    lines = [f"estuary parity failed: {report.summary()}", f"  artifact {report.artifact}"]
    for w in report.worst_rows[:worst]:
        lines.append(f"  worst row #{w.index} ({w.tag}): " + (
            f"refused by the artifact's input contract: {w.refused}" if w.refused
            else f"diff {w.diff:.3g}, label ok {w.label_ok}"))
        lines.append(f"    row       {json.dumps(w.row, default=str, sort_keys=True)[:400]}")
        lines.append(f"    River     {w.reference}")
        if not w.refused:  # a refused row has no artifact answer
            lines.append(f"    artifact  {w.artifact}")
    return "\n".join(lines)


def assert_parity(model: Any, artifact: str | Path, rows: Sequence[Mapping] = (), *,
                  adversarial: bool = True, reports: str | Path | None = None,
                  name: str | None = None):
    """Check that `artifact` predicts what `model` predicts on `rows` (+ estuary's adversarial
    probes unless `adversarial=False`) in its real runtime; write the reports to `reports` if
    given; raise AssertionError quoting the worst rows if parity fails. Returns the report.

    >>> assert_parity(model, "model.onnx", rows).max_abs_diff
    """
    from .api import verify

    report = verify(model, artifact, rows, adversarial=adversarial)
    if reports is not None:
        write_reports(report, reports, name or f"{Path(artifact).name}")
    if not report.passed:
        raise AssertionError(failure_message(report))
    return report


__all__ = ["assert_parity", "failure_message", "write_reports"]
