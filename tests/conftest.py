"""Shared fixtures: bundled River datasets (no downloads) and models learned on them once."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest
from river import datasets

sys.path.insert(0, str(Path(__file__).parent))

from catalog import all_cases, extractor_refusal  # noqa: E402

from estuary import streams  # noqa: E402
from estuary.converters.river_to_ir.anomaly import TARGET  # noqa: E402
from estuary.converters.river_to_ir.learning import learn, learning_mode, scored_row  # noqa: E402

DATASETS = {
    "Phishing": datasets.Phishing,
    "Bananas": datasets.Bananas,
    "ImageSegments": datasets.ImageSegments,
    "TrumpApproval": datasets.TrumpApproval,
    "ChickWeights": datasets.ChickWeights,
    "AirlinePassengers": datasets.AirlinePassengers,
    # no bundled River data for these tasks: seeded streams (estuary.streams)
    "Ratings": streams.Ratings,
    "MultiLabelPhishing": streams.MultiLabelPhishing,
    "MultiTargetTrump": streams.MultiTargetTrump,
}


@cache
def dataset_rows(name: str) -> tuple[tuple[dict, object], ...]:
    if name.endswith(".y"):  # detectors that score the target: their rows are {"y": y}
        return tuple(({TARGET: y}, y) for _, y in DATASETS[name[:-2]]())
    return tuple(DATASETS[name]())


@cache
def _learned(case_id: str):
    for cid, dataset, factory in all_cases():
        if cid == case_id:
            model = factory()
            rows = dataset_rows(dataset)
            for x, y in rows:  # River's learn_one for the model's task (learning.learn)
                learn(model, dict(x), y)
            mode = learning_mode(model)  # a forecaster's rows are steps ahead
            return model, tuple(dict(scored_row(mode, dict(x), y)) for x, y in rows)
    raise KeyError(case_id)


def learned(case_id: str):
    """(model, rows) for a catalogue case, learned on its whole bundled dataset. The model is
    learned once per session; the rows are fresh copies on every call, because River steps such
    as compose.Renamer rename keys in the dict they are given, and one test's predictions must
    not rename another test's rows."""
    model, rows = _learned(case_id)
    return model, [dict(x) for x in rows]


# the cases that export; those an extractor refuses outright are asserted as
# refusals in test_parity_suite.py
CASE_IDS = [c[0] for c in all_cases() if not extractor_refusal(c[2])]


@pytest.fixture(params=CASE_IDS)
def case(request):
    model, rows = learned(request.param)
    return request.param, model, rows
