"""A learning tree's next IR shares most leaves' table rows with the last one (by identity):
the canonical JSON (its content hash) reuses those rows' text and the tables' numpy arrays
their values. The text must be `json.dumps`'s and the arrays `np.asarray`'s, exactly, whatever
was held before, and a row that could have changed (a list inside) is never reused."""

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


def test_table_arrays_of_a_learning_tree_equal_a_whole_conversion():
    import numpy as np

    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.5, tau=0.5, leaf_prediction="nba")
    stream = list(datasets.ImageSegments().take(2100))
    for x, y in stream[:2000]:
        model.learn_one(x, y)
    names = [("mu", np.float64), ("gauss_on", np.bool_), ("prior", np.float64),
             ("present", np.bool_)]
    for start in (2000, 2020, 2040):  # each state: most leaves' tables shared with the last one
        for x, y in stream[start:start + 20]:
            model.learn_one(x, y)
        nb = to_ir(model).estimator.nb
        for name, dtype in names:
            got, whole = nb.array(name, dtype), np.asarray(getattr(nb, name), dtype=dtype)
            assert got.dtype == whole.dtype and got.shape == whole.shape
            assert got.tobytes() == whole.tobytes() and not got.flags.writeable


def test_a_table_row_holding_a_list_is_converted_again():
    import numpy as np

    from estuary.ir.trees import MIN_ROWS, table_array

    inner = [1.0, 2.0]
    rows = ((inner, (3.0, 4.0)),) + tuple(((float(k), 0.5), (0.25, -0.0)) for k in range(MIN_ROWS))
    assert table_array(rows, np.float64, "t_mutable").tobytes() == np.asarray(rows).tobytes()
    inner[0] = -7.0
    again = table_array(rows, np.float64, "t_mutable")
    assert again[0, 0, 0] == -7.0 and again.tobytes() == np.asarray(rows).tobytes()
    ragged = rows[1:] + (((1.0, 2.0, 3.0), (4.0, 5.0, 6.0)),)  # another shape: numpy's own error
    with pytest.raises(ValueError):
        table_array(ragged, np.float64, "t_mutable")
