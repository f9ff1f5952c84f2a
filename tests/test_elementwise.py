"""Fill (StatImputer) and Binarize (Binarizer): the rows that exercise them, in every format's
real runtime. The catalogue's rows are complete and River raises on an absent key, so the
parity suite never reaches a fill: here keys are present with None, which River fills and the
input contract reads as missing (NaN), so every format must fill it as River does."""

from __future__ import annotations

import math

import pytest
from conftest import learned

import estuary
from estuary import ir
from estuary.converters.registry import FORMATS, REFUSALS
from estuary.converters.river_to_ir import to_ir
from estuary.errors import UnsupportedModelError
from estuary.ir import arithmetic
from estuary.ir.arithmetic import NUMPY
from estuary.ir.elementwise import Binarize, Fill

IMPUTED = ("imputer(mean,const)|scaler|logreg", "imputer(median)|htr")


def with_nones(rows: list[dict], keys: tuple) -> list[dict]:
    """Every third row with each of `keys` set to None in turn."""
    out = []
    for i, x in enumerate(rows[:150]):
        if i % 3 == 0:
            for k in keys:
                out.append({**x, k: None})
        out.append(x)
    return out


@pytest.mark.parametrize("case_id", IMPUTED)
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_imputed_rows_match_river_in_every_runtime(case_id, fmt, tmp_path):
    model, rows = learned(case_id)
    imputer = list(model.steps.values())[0]
    keys = tuple(imputer.stats)
    probe = with_nones(rows, keys)
    path = tmp_path / f"model{FORMATS[fmt].suffix}"
    estuary.export(model, path, sample=probe[:50], format=fmt)
    report = estuary.verify(model, path, probe)
    assert report.passed, report.to_text()
    assert report.rows_by_tag.get("sample", 0) >= len(probe)  # the None rows were compared
    if report.task == "classification":
        assert report.label_agreement == 1.0


def test_fill_formula_and_node():
    x = NUMPY.const([[1.0, math.nan, math.nan]])
    out = arithmetic.fill_missing(NUMPY, x, NUMPY.const([[9.0, 2.5, math.nan]]))
    assert out[0, 0] == 1.0 and out[0, 1] == 2.5 and math.isnan(out[0, 2])
    node = Fill(("b",), (2.5,))
    assert node.output_columns(("a", "b", "c")) == ("a", "b", "c")
    with pytest.raises(ir.IRError, match="not there"):
        node.output_columns(("a",))
    with pytest.raises(ir.IRError, match="finite"):
        Fill(("b",), (math.inf,))


def test_binarize_formula_keeps_missing_and_compares_strictly():
    x = NUMPY.const([[0.0, 5e-324, -1.0, math.nan, 0.5]])
    out = arithmetic.binarize(NUMPY, x, 0.0)
    assert out[0, :3].tolist() == [0.0, 1.0, 0.0] and math.isnan(out[0, 3]) and out[0, 4] == 1.0
    assert Binarize(("a",), 0.5).mask(("a", "b")).tolist() == [True, False]


def test_float32_formats_refuse_binarize_with_the_reason():
    for fmt in ("tfjs", "coreml"):
        assert "float32" in REFUSALS[(fmt, Binarize)]


def test_imputer_of_a_category_is_refused():
    from river import compose, linear_model, preprocessing, stats

    model = (preprocessing.StatImputer(("diet", stats.Mode()))
             | compose.Select("time") | linear_model.LinearRegression())
    for x, y in [({"diet": "a", "time": 1.0}, 2.0), ({"diet": "b", "time": 2.0}, 3.0)]:
        model.learn_one(x, y)
    with pytest.raises(UnsupportedModelError, match="not a finite number"):
        to_ir(model)


def test_normalizer_needs_a_closed_row():
    """River's norm counts keys the model never learned: without a Select in front (or behind
    a step that makes keys from values, a OneHotEncoder) it is refused; a union is closed when
    every branch is."""
    from river import compose, datasets, linear_model, preprocessing

    def learned_on_bananas(model):
        for x, y in datasets.Bananas().take(50):
            model.learn_one(x, y)
        return model

    open_row = learned_on_bananas(preprocessing.Normalizer() | linear_model.LogisticRegression())
    with pytest.raises(UnsupportedModelError, match="compose.Select"):
        to_ir(open_row)
    half_open = learned_on_bananas((compose.Select("1") + compose.Discard("1"))
                                   | preprocessing.Normalizer() | linear_model.LogisticRegression())
    with pytest.raises(UnsupportedModelError, match="compose.Select"):
        to_ir(half_open)
    closed = learned_on_bananas((compose.Select("1") + compose.Select("2"))
                                | compose.Renamer({"1": "a"}) | preprocessing.Normalizer()
                                | linear_model.LogisticRegression())
    assert any(type(s).__name__ == "Normalize" for s in to_ir(closed).transform.steps)
    with pytest.raises(UnsupportedModelError, match="order=1"):
        to_ir(learned_on_bananas(compose.Select("1", "2") | preprocessing.Normalizer(order=1)
                                 | linear_model.LogisticRegression()))
