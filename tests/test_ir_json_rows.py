"""The IR's canonical JSON (its content hash) writes each row of a table of tuples once per row
object and reuses that text for the next snapshot of a learning tree: the text must be
`json.dumps`'s, character for character, whatever was held before."""

from __future__ import annotations

import json

import pytest
from river import datasets, tree

from estuary.converters.river_to_ir import to_ir
from estuary.ir import serialize
from estuary.ir.nodes import IRError


def dumps(value) -> str:
    return json.dumps(serialize.to_dict(value), sort_keys=True, allow_nan=False,
                      separators=(",", ":"))


def test_a_learning_trees_json_is_json_dumps_with_rows_reused():
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.5, tau=0.5, leaf_prediction="nba")
    stream = list(datasets.ImageSegments().take(2020))
    for x, y in stream[:2000]:
        model.learn_one(x, y)
    first = to_ir(model)
    assert serialize.to_json(first) == dumps(first)
    for x, y in stream[2000:]:
        model.learn_one(x, y)
    second = to_ir(model)
    rows = [r for r in second.estimator.nb.mu if any(r is s for s in first.estimator.nb.mu)]
    assert rows  # leaves that did not learn share their tables with the last snapshot
    assert serialize.to_json(second) == dumps(second)
    assert serialize.to_json(second) == dumps(second)  # every row held now


def test_a_row_holding_a_list_is_written_again_after_it_changed():
    inner = [1.5, 2.5]
    row = (inner, (3.0, 4.0))
    table = {"t": (row,) + tuple(((float(k), 6.0), (7.0, 8.0)) for k in range(serialize.MIN_TABLE))}
    assert serialize._has_table(serialize.to_dict(table))
    assert serialize.to_json(table) == dumps(table)
    inner[0] = -1.0  # a mutable row's text is not reused
    assert serialize.to_json(table) == dumps(table)
    assert '"t":[[[-1.0,2.5],[3.0,4.0]]' in serialize.to_json(table)


def test_keys_nesting_and_scalars_match_json_dumps():
    value = {"b": [{"z": 1, "a": (1.0, -0.0, 1e300)}, None], "a": ((True, None), ("x\u00e9", 2)),
             "c": "q\"uote", "d": ()}
    assert serialize.to_json(value) == dumps(value)


def test_nan_in_a_row_is_refused():
    with pytest.raises(IRError, match="non-finite"):
        serialize.to_json({"t": ((1.0, float("nan")),) * serialize.MIN_TABLE})
