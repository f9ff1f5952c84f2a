"""The census (`python -m estuary.support --census`) stays current without re-running it whole.

The whole census exports every public River estimator to every format and verifies it in the real
runtimes (~30-60 s on 2 idle cores, JPMML and Node included); the parity suite already runs every
registered extractor's cases in every runtime. So the committed census output
(benchmarks/results_census.json) is checked against the registry and River's inventory here, the
README's totals against it, and a few classes are re-run live to show the script still computes
what it recorded. Adding an extractor without re-running the census fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import estuary  # noqa: F401  (registers every extractor and format)
from estuary import census
from estuary.converters.registry import EXTRACTORS
from estuary.support import matrix_formats, support

README = Path(__file__).resolve().parent.parent / "README.md"
ROWS = census.load()
CLASSES = {f"{m}.{n}": (cls, kind) for m, n, cls, kind in census.river_classes()}


def test_the_census_covers_rivers_inventory():
    assert {r.qualname: r.kind for r in ROWS} == {q: k for q, (_, k) in CLASSES.items()}
    kinds = [r.kind for r in ROWS]
    assert (kinds.count("predictor"), kinds.count("transformer")) == (73, 36)
    assert kinds.count("clusterer") == 7  # River's cluster module (issue 14)
    assert all(set(r.cells) == set(matrix_formats()) for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.qualname)
def test_each_census_row_agrees_with_the_registry(row):
    cls, _ = CLASSES[row.qualname]
    for fmt, why in row.cells.items():
        if not why:  # exported with parity: the registry must say so too
            assert cls in EXTRACTORS and support(cls, fmt) == (True, ""), (row.qualname, fmt)
        elif cls not in EXTRACTORS:  # refused for want of an extractor: the reason is written
            assert why.startswith("no extractor for ") and ": " in why, (row.qualname, why)
            assert row.qualname in census.WHY
        else:  # registered: the census ran after it was, and says why this one was refused
            assert not why.startswith("no extractor for "), (
                f"{row.qualname} is registered now: re-run python -m estuary.support --census "
                "--write")


def test_every_class_without_extractor_has_its_reason():
    missing = [q for q, (cls, _) in CLASSES.items() if cls not in EXTRACTORS and q not in census.WHY]
    assert not missing, f"name River's behaviour that the IR cannot express for {missing}"


def test_readme_shows_the_census_totals():
    block = re.search(r"<!-- census-totals:start -->\n(.*?)\n<!-- census-totals:end -->",
                      README.read_text(), re.S)
    assert block, "README lost its census-totals markers"
    assert block.group(1).strip() == census.totals_markdown(ROWS).strip(), (
        "README census totals are stale: run python -m estuary.support --census --write")


@pytest.mark.parametrize("qualname", ["dummy.PriorClassifier", "preprocessing.RobustScaler",
                                      "tree.SGTRegressor", "naive_bayes.ComplementNB"])
def test_the_census_recomputes_what_it_recorded(qualname, tmp_path):
    """A live run of a few rows (ONNX only) gives the recorded cells."""
    cls, kind = CLASSES[qualname]
    module, name = qualname.split(".")
    row = census.census_row(module, name, cls, kind, ["onnx"], tmp_path)
    recorded = next(r for r in ROWS if r.qualname == qualname)
    assert row.cells["onnx"] == recorded.cells["onnx"]
