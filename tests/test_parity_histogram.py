"""The parity report's per-row difference histogram: exact bins, in the JSON and the HTML
report and in the store's manifest."""

from __future__ import annotations

import numpy as np

import estuary
from estuary.online.manifest import ParitySummary
from estuary.online.testing import logreg, phishing
from estuary.parity.harness import diff_histogram
from estuary.parity.report import DIFF_BIN_LABELS


def test_bins_are_exact():
    d = np.array([0.0, 3e-17, 1e-16, 9.9e-16, 3e-3, 0.1, 1.0, np.inf])
    got = dict(zip(DIFF_BIN_LABELS, diff_histogram(d), strict=True))
    assert {k: n for k, n in got.items() if n} == {"0": 1, "<1e-16": 1, "1e-16": 2, "1e-3": 1,
                                                    "1e-1": 1, "≥1": 2}
    assert diff_histogram(np.zeros(0)) == (0,) * len(DIFF_BIN_LABELS)


def test_report_json_html_and_manifest(tmp_path):
    model = logreg()
    rows = phishing(200)
    for x, y in rows:
        model.learn_one(x, y)
    xs = [x for x, _ in rows[:50]]
    path = estuary.export(model, tmp_path / "m.onnx", sample=xs).path
    report = estuary.verify(model, path, xs)
    assert report.passed and len(report.diff_counts) == len(DIFF_BIN_LABELS)
    assert sum(report.diff_counts) == report.n_rows
    assert sum(report.diff_counts[DIFF_BIN_LABELS.index("1e-6"):]) == 0  # all within 1e-6
    assert report.to_dict()["diff_counts"] == list(report.diff_counts)
    page = report.to_html()
    svg = page.split("aria-label='rows by difference from River, one bar a decade'>")[1]
    assert svg.split("</svg>")[0].count("<rect") == len(DIFF_BIN_LABELS)
    assert f"{report.diff_counts[0]} rows</title>" in svg
    summary = ParitySummary.from_report(report)  # what a manifest stores
    assert summary.diff_counts == report.diff_counts
