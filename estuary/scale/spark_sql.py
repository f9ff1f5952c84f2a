"""Batch scoring that never leaves the JVM: a published version's frozen IR compiled into Spark
SQL Column expressions (`estuary.spark.predict(..., engine="sql")`).

The Arrow engine (`estuary.scale.spark`) ships every row JVM → Python → JVM; that trip costs
more than scoring (benchmarks/scale.py). Here the model becomes one `select`: Spark's
whole-stage code generation turns it into Java, and no Python worker runs.

The model comes from the version's `snapshot.json` (the IR the artifacts were written from):
`Store.open` checks it against the manifest's SHA-256, and its content hash must equal the
manifest's `ir_hash`. Never pickle. A bare `.onnx` file has no IR beside it: score it with
the Arrow engine.

River's arithmetic is `ir.arithmetic`'s, run over `SparkOps` (Column expressions). Java's +,
-, *, /, sqrt and comparisons are IEEE-754 double, as numpy's and onnxruntime's are, so what is
computed in the same order is equal bit for bit: trees (comparisons only) equal the Arrow
engine's outputs exactly. Not exact, measured in tests/test_spark_sql.py on 12k rows: a linear
model's w·x is summed left to right here (River's order over the schema), while the ONNX
artifact's ReduceSum is vectorised (another order of the same additions), and `exp` is
`java.lang.Math.exp`, which differs from numpy's / onnxruntime's exp by an ulp on some rows.
So linear probabilities and values equal the Arrow engine's within 1e-15 (absolute for
probabilities, relative for values; measured max 2.2e-16 and 6.7e-16), not bit for bit, and
labels are equal; a linear regression equals the IR summed in this order exactly.

Covered: Select, Scale (River's zero-divisor rule), OneHot, Chain, Union; Linear with identity,
sigmoid (River's clamp at ±30), softmax and one-vs-rest links; Hoeffding trees with
majority-class leaves (classifier) and mean leaves (regressor). Anything else is refused with
`UnsupportedModelError` naming the node: use the Arrow engine for it.

>>> scored = predict(spark.read.parquet("rows.parquet"), "models")  # a store, latest version
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .. import ir
from ..errors import ArtifactError, InvalidInputError, UnsupportedModelError
from ..ir import arithmetic
from ..ir.trees import TreeClassifier, TreeRegressor, TreeStructure

ARROW_HINT = "score it with engine='arrow' (estuary score --engine spark)"
SUPPORTED = ["Select", "Scale", "OneHot", "Chain", "Union", "Linear (identity, sigmoid, softmax, "
             "ovr_sigmoid)", "TreeClassifier (majority-class leaves)",
             "TreeRegressor (mean leaves)"]


def _F() -> Any:
    from pyspark.sql import functions

    return functions


# --------------------------------------------------------------------------------- the model


def load_model(model: Any, version: int | None = None) -> ir.Model:
    """The frozen IR of a store's version (latest by default), from its `snapshot.json`:
    checked against the manifest's SHA-256 (by `Store.open`) and its `ir_hash`."""
    from pathlib import Path

    from ..online.store import Store

    if isinstance(model, (str, Path)) and Path(model).suffix == ".onnx":
        raise UnsupportedModelError(str(model), SUPPORTED, "an .onnx file carries no IR; give "
                                    f"the store it was published to, or {ARROW_HINT}")
    store = model if isinstance(model, Store) else Store(model)
    v = store.open(version)  # every file, snapshot.json included, checked against the manifest
    if "snapshot.json" not in v.manifest.files:
        raise ArtifactError(f"{store.root} version {v.number} has no hashed snapshot.json: "
                            f"republish it, or {ARROW_HINT}")
    snap = ir.from_json((v.path / "snapshot.json").read_text(encoding="utf-8"))
    if ir.content_hash(snap.model) != v.manifest.ir_hash:
        raise ArtifactError(f"{store.root} version {v.number}: snapshot.json's model does not "
                            "hash to the manifest's ir_hash: do not score with it")
    return snap.model


# --------------------------------------------------------------------------------- SparkOps


class SparkOps:
    """`ir.arithmetic.Ops` over Spark Column expressions (double). A class vector is a list of
    Columns, one per class; a plain number becomes a literal. Missing is NaN, as in the
    artifact: Spark orders NaN above every number and says NaN = NaN, so comparisons are
    guarded to be false on a NaN operand (IEEE, as numpy and onnxruntime compare); a division
    by zero is IEEE's (Spark's `/` would answer null)."""

    def __init__(self) -> None:
        self.F = _F()
        self.stages: list[tuple[str, Any]] = []  # kept values, in order: see `keep`

    def _col(self, v: Any) -> Any:
        return v if not isinstance(v, (int, float)) else self.F.lit(float(v))

    def _map(self, fn: Callable[..., Any], *args: Any) -> Any:
        lists = [a for a in args if isinstance(a, list)]
        if not lists:
            return fn(*[self._col(a) for a in args])
        return [fn(*[self._col(a[k] if isinstance(a, list) else a) for a in args])
                for k in range(len(lists[0]))]

    def const(self, value: Any) -> Any:
        import numpy as np

        if np.ndim(value) > 0:
            return [self.F.lit(float(v)) for v in np.ravel(value)]
        return self.F.lit(float(value))

    def add(self, a, b):
        return self._map(lambda x, y: x + y, a, b)

    def sub(self, a, b):
        return self._map(lambda x, y: x - y, a, b)

    def mul(self, a, b):
        return self._map(lambda x, y: x * y, a, b)

    def div(self, a, b):
        def divide(x: Any, y: Any) -> Any:  # x / ±0 is x · inf (a -0.0 divisor reads as +0.0)
            return self.F.when(y == 0.0, x * self.F.lit(math.inf)).otherwise(x / y)

        return self._map(divide, a, b)

    def exp(self, a):
        return self._map(self.F.exp, a)

    def log(self, a):
        def ln(x: Any) -> Any:  # Spark's ln answers null at or below 0
            F = self.F
            return (F.when(x > 0.0, F.log(x)).when(x == 0.0, F.lit(-math.inf))
                    .otherwise(F.lit(math.nan)))

        return self._map(ln, a)

    def log1p(self, a):
        def ln1p(x: Any) -> Any:
            F = self.F
            return (F.when(x > -1.0, F.log1p(x)).when(x == -1.0, F.lit(-math.inf))
                    .otherwise(F.lit(math.nan)))

        return self._map(ln1p, a)

    def sqrt(self, a):
        return self._map(self.F.sqrt, a)

    def floor(self, a):
        raise UnsupportedModelError("floor", SUPPORTED, f"not compiled to SQL; {ARROW_HINT}")

    def erf(self, a):
        raise UnsupportedModelError("erf", SUPPORTED, f"not compiled to SQL; {ARROW_HINT}")

    def nearest(self, d, k):
        raise UnsupportedModelError("nearest", SUPPORTED, f"not compiled to SQL; {ARROW_HINT}")

    def sigmoid(self, z):
        return arithmetic.reference_sigmoid(self, z)

    def _compare(self, fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
        F = self.F

        def guarded(x: Any, y: Any) -> Any:
            return F.when(F.isnan(x) | F.isnan(y), F.lit(False)).otherwise(fn(x, y))

        return self._map(guarded, a, b)

    def less(self, a, b):
        return self._compare(lambda x, y: x < y, a, b)

    def greater(self, a, b):
        return self._compare(lambda x, y: x > y, a, b)

    def equal(self, a, b):
        return self._compare(lambda x, y: x == y, a, b)

    def is_nan(self, a):
        return self._map(self.F.isnan, a)

    def where(self, condition, a, b):
        if isinstance(condition, bool):
            return a if condition else b
        return self._map(lambda c, x, y: self.F.when(c, x).otherwise(y), condition, a, b)

    def matmul(self, x: list, W: Any) -> list:
        """x · W as one sum per column of W, left to right over every row of W."""
        import numpy as np

        W = np.asarray(W, dtype=np.float64)
        return [_sum([x[s] * self.F.lit(float(W[s, t])) for s in range(W.shape[0])])
                for t in range(W.shape[1])]

    def column(self, x: list, j: int) -> Any:
        return x[j]

    def max_classes(self, v: list) -> Any:
        return v[0] if len(v) == 1 else self.F.greatest(*v)  # NaN on top, as np.max

    def sum_classes(self, v: list) -> Any:
        return _sum(list(v))

    def concat_classes(self, parts: Sequence[Any]) -> list:
        return [e for p in parts for e in (p if isinstance(p, list) else [p])]

    def keep(self, v: Any, hint: str) -> Any:
        """A value used more than once becomes a column of its own (`apply` adds it with one
        projection each): inlined, every use would copy its whole expression (a sigmoid reads
        z five times), and the copies multiply down the formula until Spark's generated
        method is too large to compile and it falls back to interpreting them (30k rows/s)."""
        if isinstance(v, list):
            return [self.keep(e, hint) for e in v]
        name = f"__estuary_sql_{len(self.stages)}"
        self.stages.append((name, self._col(v)))
        return self.F.col(name)

    def apply(self, df: Any) -> Any:
        """`df` with every kept value as a column, in the order they were kept."""
        for name, expr in self.stages:
            df = df.withColumn(name, expr)
        return df


def _sum(terms: list) -> Any:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


# --------------------------------------------------------------------------------- compiler


Block = dict[str, Any]  # column name → Column (double, NaN = missing), in order


def _refuse(node: Any, why: str = "") -> UnsupportedModelError:
    name = type(node).__name__
    reason = f"IR node {name}{': ' + why if why else ''} is not compiled to Spark SQL; " \
        f"{ARROW_HINT}"
    return UnsupportedModelError(f"estuary.ir.{name}", SUPPORTED, reason)


def _transform(step: Any, block: Block, o: SparkOps) -> Block:
    F = o.F
    if isinstance(step, ir.Chain):
        for s in step.steps:
            block = _transform(s, block, o)
        return block
    if isinstance(step, ir.Select):
        return {c: block[c] for c in step.columns}
    if isinstance(step, ir.Scale):
        out = {}
        for c, offset, divisor in zip(step.columns, step.offset, step.divisor):
            x = block[c]
            out[c] = (F.when(F.isnan(x), x).otherwise(F.lit(0.0)) if divisor == 0
                      else (x - F.lit(float(offset))) / F.lit(float(divisor)))
        return out
    if isinstance(step, ir.OneHot):
        fill = F.lit(math.nan if step.missing_as_nan else 0.0)
        return {t: F.when(F.isnan(block[s]), fill).otherwise(block[s])
                for s, t in zip(step.source, step.target)}
    if isinstance(step, ir.Union):  # River's union: on a repeated name the first branch wins
        out: Block = {}
        for branch in step.branches:
            for c, v in _transform(branch, block, o).items():
                out.setdefault(c, v)
        return out
    raise _refuse(step)


def _linear(est: ir.Linear, block: Block, o: SparkOps) -> arithmetic.Scores:
    F = o.F
    x = [F.when(F.isnan(block[c]), F.lit(0.0)).otherwise(block[c]) for c in est.columns]
    z = [_sum([x[j] * F.lit(float(w)) for j, w in enumerate(row)]) + F.lit(float(b))
         for row, b in zip(est.weights, est.intercepts)]
    return arithmetic.link(o, est.link, z)


def _leaf_values(tree: TreeStructure, block: list, values: list[Any], node: int = 0) -> Any:
    """Nested CASE WHEN down the tree from `node`: `x <= threshold` left, NaN to the recorded
    side; a leaf gives values[leaf]."""
    F = _F()
    if tree.leaf[node] >= 0:
        return values[tree.leaf[node]]
    x, t = block[tree.feature[node]], F.lit(float(tree.threshold[node]))
    go_left = (x <= t) & ~F.isnan(x)  # Spark's NaN <= t is false too; kept explicit
    if tree.missing_left[node]:
        go_left = go_left | F.isnan(x)
    return F.when(go_left, _leaf_values(tree, block, values, tree.left[node])).otherwise(
        _leaf_values(tree, block, values, tree.right[node]))


def _tree(est: Any, block: Block, o: SparkOps) -> arithmetic.Scores:
    F = o.F
    x = [block[c] for c in est.columns]
    if isinstance(est, TreeRegressor):
        if any(est.model):
            raise _refuse(est, "linear-model leaves")
        return arithmetic.Scores("value", [_leaf_values(est.tree, x, [F.lit(float(m))
                                                                      for m in est.means])])
    if any(est.naive_bayes):
        raise _refuse(est, "naive-Bayes leaves (leaf_prediction 'nb' / 'nba')")
    leaf = o.keep(_leaf_values(est.tree, x, [F.lit(i) for i in range(est.tree.n_leaves)]),
                  "leaf")
    probs = [F.element_at(F.array(*[F.lit(float(p[k])) for p in est.class_probs]), leaf + 1)
             for k in range(len(est.class_probs[0]))]
    return arithmetic.Scores("probabilities", probs)


def compile_outputs(model: ir.Model, inputs: Block, o: SparkOps) -> list[Any]:
    """The model's main output as Column expressions over the values `o` keeps (`o.apply`
    adds them to the DataFrame): class probabilities (one per class) or [value]. Raises
    `UnsupportedModelError` naming the first node not compiled."""
    if model.task not in ("classification", "regression"):
        raise UnsupportedModelError(f"task {model.task}", SUPPORTED, ARROW_HINT)
    block = _transform(model.transform, inputs, o)
    est = model.estimator
    if isinstance(est, ir.Linear):
        scores = _linear(est, block, o)
    elif isinstance(est, (TreeClassifier, TreeRegressor)):
        scores = _tree(est, block, o)
    else:
        raise _refuse(est)
    out = arithmetic.normalised(o, scores)
    return out if isinstance(out, list) else [out]


# --------------------------------------------------------------------------------- inputs


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def input_columns(df: Any, schema: ir.FeatureSchema) -> Block:
    """The artifact's input columns as double Columns (NaN = missing) read from `df` by the
    schema, with `estuary.columnar`'s rules: a null or NaN is missing, a missing column makes
    the feature missing on every row, a category matches by its text, an unseen one gives 0s."""
    from pyspark.sql import types as T

    F = _F()
    types = {f.name: f.dataType for f in df.schema.fields}
    out: Block = {}
    for f in schema.features:
        name = f.key if isinstance(f.key, str) and f.key in types else f.name
        kind = types.get(name)
        if kind is None:
            out.update({c: F.lit(math.nan) for c in f.columns})
            continue
        col = F.col(_quoted(name))
        if f.kind == "numeric":
            value = col.cast("double")
            out[f.name] = F.when(value.isNull(), F.lit(math.nan)).otherwise(value)
            continue
        if isinstance(kind, (T.FloatType, T.DoubleType, T.DecimalType)):
            raise InvalidInputError(f.name, f"Spark column of {kind.simpleString()} for a "
                                    "categorical feature: the SQL engine matches categories by "
                                    f"text; cast it to string or integer, or {ARROW_HINT}")
        text = (F.when(col, F.lit("True")).otherwise(F.lit("False"))
                if isinstance(kind, T.BooleanType) else col.cast("string"))
        lookup = {str(c): i for i, c in enumerate(f.categories)}  # RowEncoder's: last wins
        for i, (c, column) in enumerate(zip(f.categories, f.columns)):
            hit = (text == F.lit(str(c))) if lookup[str(c)] == i else F.lit(False)
            out[column] = (F.when(col.isNull(), F.lit(math.nan))
                           .when(hit, F.lit(1.0)).otherwise(F.lit(0.0)))
    return out


def _label(probabilities: list, classes: tuple, label_type: Any) -> Any:
    """The first class of highest probability (River's max over its dict; ArgMax's first)."""
    F = _F()
    top = F.greatest(*probabilities)
    lits = [F.lit(c).cast(label_type) for c in classes]
    label = lits[0]
    for k in range(len(classes) - 1, 0, -1):
        label = F.when(probabilities[k] == top, lits[k]).otherwise(label)
    return F.when(probabilities[0] == top, lits[0]).otherwise(label)


def predict(df: Any, model: Any, version: int | str | None = None) -> Any:
    """`df` with `prediction` (and, for a classifier, `probabilities`) columns computed by Spark
    SQL expressions compiled from the version's IR: the Arrow engine's output columns and types.

    >>> predict(spark.read.parquet("rows.parquet"), "models", version=3).show()
    """
    from .spark import _check_columns, _spark_label_type

    m = load_model(model, None if version == "latest" else version)
    _check_columns(df, m.schema)
    o = SparkOps()
    outputs = o.keep(compile_outputs(m, input_columns(df, m.schema), o), "outputs")
    F = _F()
    scored, keep = o.apply(df), [F.col(_quoted(c)) for c in df.columns]
    if m.task == "classification":
        label_type = _spark_label_type(tuple(m.classes))
        return scored.select(*keep, _label(outputs, tuple(m.classes), label_type)
                             .alias("prediction"), F.array(*outputs).alias("probabilities"))
    return scored.select(*keep, outputs[0].alias("prediction"))


__all__ = ["SparkOps", "compile_outputs", "input_columns", "load_model", "predict"]
