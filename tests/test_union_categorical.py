"""A Hoeffding tree behind a `compose.TransformerUnion` that carries a string key: passed on raw
(the tree's nominal split reads the raw categories) or one-hot encoded by a union branch (the tree
splits on `car_<value>`), in both union spellings, exported and checked in each real runtime on the
data plus rows with unseen categories and unknown keys. A union that one-hot encodes a key another
branch passes on as a number is refused, naming the key and the fix."""

from __future__ import annotations

import random

import pytest
from river import compose, preprocessing, tree

import estuary
from estuary.converters.registry import FORMATS
from estuary.errors import UnsupportedModelError
from estuary.runtimes.base import TOLERANCE

FAST = {"c3", "c7", "c10"}
EDGE_ROWS = [  # River's compose.Select raises KeyError on a row without a selected key
    {"a": 1.0, "b": 0.0, "car": "zz"},  # a category neither the encoder nor the tree has seen
    {"a": -0.5, "b": 2.0, "car": "c10"},
    {"a": 0.3, "b": -1.0, "car": "c7", "extra": "x"},  # an unknown key is ignored
    {"a": 0.3, "b": -1.0, "car": ""},
]


def stream(n: int = 3000, seed: int = 0) -> list[tuple[dict, bool]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        car = f"c{rng.randrange(12)}"
        y = (car in FAST) != (rng.random() < 0.05)
        rows.append(({"a": rng.gauss(0, 1), "b": rng.gauss(0, 1), "car": car}, y))
    return rows


def numeric() -> compose.Pipeline:
    return compose.Select("a", "b") | preprocessing.StandardScaler()


UNIONS = {
    "select-raw": lambda: compose.TransformerUnion(numeric(), compose.Select("car")),
    "plus-raw": lambda: numeric() + compose.Select("car"),
    "select-onehot": lambda: compose.TransformerUnion(
        numeric(), compose.Select("car") | preprocessing.OneHotEncoder()),
    "plus-onehot": lambda: numeric() + (compose.Select("car") | preprocessing.OneHotEncoder()),
    "prefixed-raw": lambda: numeric() + (compose.Select("car") | compose.Prefixer("p_")),
    "raw-and-onehot": lambda: compose.TransformerUnion(
        numeric(), compose.Select("car"), compose.Select("car") | preprocessing.OneHotEncoder()),
    # the encoder knows fewer categories than the raw key passed next to it carries to the tree
    "fixed-onehot-and-raw": lambda: compose.TransformerUnion(
        numeric(), compose.Select("car") | preprocessing.OneHotEncoder(
            categories={"car": {"c1", "c3", "c10", "never"}}), compose.Select("car")),
}


def learned(form: str):
    model = UNIONS[form]() | tree.HoeffdingTreeClassifier(grace_period=50, delta=0.01)
    rows = stream()
    for x, y in rows:
        model.learn_one(x, y)
    return model, [x for x, _ in rows]


def split_features(model) -> set:
    return {n.feature for n in model[-1]._root.iter_dfs() if hasattr(n, "feature")}


def check(model, rows: list[dict], fmt: str, path) -> None:
    estuary.export(model, path, sample=rows[:50], format=fmt)
    report = estuary.verify(model, path, rows + EDGE_ROWS)
    assert report.passed and report.label_agreement == 1.0, report.to_text()
    loaded = estuary.load(path)
    tol = TOLERANCE[loaded.metadata.precision]
    for x in EDGE_ROWS:
        assert loaded.predict_one(dict(x)) == model.predict_one(dict(x)), x
        want, got = model.predict_proba_one(dict(x)), loaded.predict_proba_one(dict(x))
        assert set(got) == set(want), x
        assert all(abs(got[k] - want[k]) <= tol for k in want), (x, got, want)


def test_the_tree_splits_where_the_union_says():
    """The cases test what they claim: raw forms split on the raw key, one-hot forms on the
    encoder's `car_<value>` keys."""
    assert "car" in split_features(learned("select-raw")[0])
    assert "p_car" in split_features(learned("prefixed-raw")[0])
    assert {"car_c3", "car_c7", "car_c10"} <= split_features(learned("plus-onehot")[0])


@pytest.mark.parametrize("form", sorted(UNIONS))
def test_onnx(form, tmp_path):
    model, rows = learned(form)
    check(model, rows, "onnx", tmp_path / "model.onnx")


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - {"onnx"}))
@pytest.mark.parametrize("form", ["plus-raw", "plus-onehot"])
def test_other_formats(form, fmt, tmp_path):
    model, rows = learned(form)
    check(model, rows, fmt, tmp_path / f"model{FORMATS[fmt].suffixes[0]}")


def encoder_over_every_key(numeric_branch) -> tuple:
    """A union whose OneHotEncoder also receives the numeric key `a` (three values, so that the
    encoder's vocabulary stays small), learned on a stream where `car == "x"` is the label."""
    rng = random.Random(1)
    rows = [{"a": float(rng.randrange(3)), "car": rng.choice("xyz")} for _ in range(300)]
    model = compose.TransformerUnion(numeric_branch, preprocessing.OneHotEncoder()) \
        | tree.HoeffdingTreeClassifier(grace_period=50, delta=0.01)
    for x in rows:
        model.learn_one(x, x["car"] == "x")
    return model, rows


def test_an_encoder_over_every_key_next_to_a_numeric_branch_is_refused(tmp_path):
    """River's OneHotEncoder encodes every key it receives, so `a` reaches the tree both as a
    number (the tree's leaves read it) and as `a_<value>` columns: one schema feature cannot be
    both."""
    model, rows = encoder_over_every_key(compose.Select("a"))
    assert "car_x" in split_features(model)
    with pytest.raises(UnsupportedModelError, match=r"HoeffdingTreeClassifier.*River passes 'a' "
                       r"to the tree as a number.*compose\.Select\(<string keys>\) in front of "
                       r"the encoder"):
        estuary.export(model, tmp_path / "model.onnx", sample=rows[:5])


def test_a_scaler_branch_next_to_an_encoder_over_every_key_is_refused(tmp_path):
    model, rows = encoder_over_every_key(compose.Select("a") | preprocessing.StandardScaler())
    with pytest.raises(UnsupportedModelError, match=r"StandardScaler.*\['a'\].*compose\.Select "
                       r"the numeric keys for the scaler and the string keys for the encoder"):
        estuary.export(model, tmp_path / "model.onnx", sample=rows[:5])
