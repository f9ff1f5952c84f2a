"""Batch scoring that never leaves the JVM: a published version's frozen IR compiled into Spark
SQL (`estuary.spark.predict(..., engine="sql")`).

The Arrow engine (`estuary.scale.spark`) ships every row JVM → Python → JVM; that trip costs
more than scoring (benchmarks/scale.py). Here the model becomes a few projections: Spark's
whole-stage code generation turns them into Java, and no Python worker runs.

The driver's part is kept small because it is paid on every call: the model is compiled to SQL
text in Python (no JVM call per operation), the text is kept per snapshot SHA-256 and input
schema, parsed once per JVM (Spark's parser is slow on long expressions), and the projections
are analysed in one call; the analysed plan is kept per input DataFrame (analysing the
projections again cost 25-90 ms a call); the version's files are still checked on every call.

The model comes from the version's `snapshot.json` (the IR the artifacts were written from):
`Store.open` checks it against the manifest's SHA-256, and its content hash must equal the
manifest's `ir_hash`. Never pickle. A bare `.onnx` file has no IR beside it: score it with
the Arrow engine.

River's arithmetic is `ir.arithmetic`'s, run over `SqlOps` (SQL text). Java's +,
-, *, /, sqrt and comparisons are IEEE-754 double, as numpy's and onnxruntime's are, so what is
computed in the same order is equal bit for bit: trees (comparisons only) equal the Arrow
engine's outputs exactly. Not exact, measured in tests/test_spark_sql.py on 12k rows: a linear
model's w·x is summed left to right here (River's order over the schema), while the ONNX
artifact's ReduceSum is vectorised (another order of the same additions), and `exp` is
`java.lang.StrictMath.exp`, which differs from numpy's / onnxruntime's exp by an ulp on some rows.
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
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .. import ir
from ..errors import ArtifactError, InvalidInputError, InvalidOptionError, UnsupportedModelError
from ..ir import arithmetic
from ..ir.tasks import TASKS
from ..ir.trees import TreeClassifier, TreeRegressor, TreeStructure
from ..rows import FLOAT64_MAX, _refused
from .outputs import output_columns, refuse_clashes
from .spark import REFUSED

ARROW_HINT = "score it with engine='arrow' (estuary score --engine spark)"
SUPPORTED = ["Select", "Scale", "OneHot", "Chain", "Union", "Linear (identity, sigmoid, softmax, "
             "ovr_sigmoid)", "TreeClassifier (majority-class leaves)",
             "TreeRegressor (mean leaves)"]


# --------------------------------------------------------------------------------- the model

_MODELS: OrderedDict[str, ir.Model] = OrderedDict()  # snapshot.json SHA-256 → its checked IR
_PROGRAMS: OrderedDict[tuple, Program] = OrderedDict()  # (SHA-256, input types, prefix) → SQL
_CACHED = 16  # versions kept compiled per process (a model is a few kB of SQL text)


def _open(model: Any, version: int | None) -> tuple[Any, Any]:
    """(store, opened version): every file, snapshot.json included, checked by `Store.open`
    against the manifest's SHA-256 on every call (a few ms), so a changed file is never used."""
    from pathlib import Path

    from ..online.store import Store

    if isinstance(model, (str, Path)) and Path(model).suffix == ".onnx":
        raise UnsupportedModelError(str(model), SUPPORTED, "an .onnx file carries no IR; give "
                                    f"the store it was published to, or {ARROW_HINT}")
    store = model if isinstance(model, Store) else Store(model)
    v = store.open(version)
    if "snapshot.json" not in v.manifest.files:
        raise ArtifactError(f"{store.root} version {v.number} has no hashed snapshot.json: "
                            f"republish it, or {ARROW_HINT}")
    return store, v


def _checked_model(store: Any, v: Any) -> tuple[str, ir.Model]:
    """(snapshot.json's SHA-256, its IR). The IR is parsed and its content hash compared with
    the manifest's `ir_hash` once per SHA-256: the bytes were just checked against it."""
    sha = v.manifest.files["snapshot.json"].sha256
    m = _MODELS.get(sha)
    if m is None:
        snap = ir.from_json((v.path / "snapshot.json").read_text(encoding="utf-8"))
        if ir.content_hash(snap.model) != v.manifest.ir_hash:
            raise ArtifactError(f"{store.root} version {v.number}: snapshot.json's model does "
                                "not hash to the manifest's ir_hash: do not score with it")
        m = _remember(_MODELS, sha, snap.model)
    return sha, m


def _remember(cache: OrderedDict, key: Any, value: Any) -> Any:
    cache[key] = value
    while len(cache) > _CACHED:
        cache.popitem(last=False)
    return value


def load_model(model: Any, version: int | None = None) -> ir.Model:
    """The frozen IR of a store's version (latest by default), from its `snapshot.json`:
    checked against the manifest's SHA-256 (by `Store.open`) and its `ir_hash`."""
    return _checked_model(*_open(model, version))[1]


# --------------------------------------------------------------------------------- SQL text


# Constants SQL text cannot write as a literal (NaN, ±inf: only as a CAST; a string with quotes
# or backslashes: its escaping depends on the parser's settings) are named parameters
# (`:estuary_nan`), bound to Literals when the scored plan is analysed (`Program.apply`): a CAST
# would be folded again by the optimiser's ConstantFolding on every write (one more pass of its
# main batch, ~5 ms of the driver's time a write on 1M rows).
_CONSTANTS: dict[str, float | None] = {"estuary_nan": math.nan, "estuary_inf": math.inf,
                                       "estuary_ninf": -math.inf, "estuary_null": None}
NULL = ":estuary_null"  # a double-typed null (a bare NULL is of NullType: CAST to double)
_PARAMETER = re.compile(r":(estuary_[a-z0-9_]+)")
_STRING = "estuary_s"  # + the string's UTF-8 bytes in hex


def _num(v: float) -> str:
    """A double literal that parses back to exactly `v` (repr is the shortest round trip);
    NaN and ±inf are parameters."""
    v = float(v)
    if math.isnan(v):
        return ":estuary_nan"
    if math.isinf(v):
        return ":estuary_inf" if v > 0 else ":estuary_ninf"
    return f"({v!r}D)" if math.copysign(1.0, v) < 0 else f"{v!r}D"


def _text(s: str) -> str:
    """A string literal whatever the parser's escaping settings: plain when it is plain,
    otherwise a parameter whose name spells its UTF-8 bytes in hex (`_constant`)."""
    if re.fullmatch(r"[A-Za-z0-9 _.\-]*", s):
        return f"'{s}'"
    return f":{_STRING}{s.encode('utf-8').hex()}"  # the name carries the value: no registry


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class Sql(NamedTuple):
    """A double (or boolean) SQL expression and the projection it needs: 0 reads only the
    input columns, n the values kept by projection n. `cost` 0: a literal or a kept value;
    1: one +, -, * of those (cheaper to repeat than to keep); 2: anything else. `prec`: how
    tightly its text binds (3: an atom, a call, a CASE; 2: * or /; 1: + or -), so that only
    the parentheses the order of operations needs are written: Spark's parser looks ahead to
    the closing parenthesis of each one, and a sum of n terms nested in n parentheses took
    25-55 ms to parse (9 features)."""

    text: str
    layer: int = 0
    cost: int = 2
    prec: int = 3
    nan_of: str = ""  # a cheaper expression that is NaN exactly when this one is
    value: float | None = None  # a literal's
    missing: str = ""  # a boolean true exactly when this is NaN (else `isnan`)
    cases: tuple = ()  # a CASE with literal branches (`_case`): ((c, Sql), .., ("", else Sql))

    @property
    def branches(self) -> tuple:
        """A CASE of literals' ((condition, value), ..., ("", else value)); () for anything
        else (a CASE with a branch that is not a literal too)."""
        if self.cases and all(v.value is not None for _, v in self.cases):
            return tuple((c, v.value) for c, v in self.cases)
        return ()

    def at(self, prec: int) -> str:
        """The text as an operand that must bind at least as tightly as `prec`."""
        return self.text if self.prec >= prec else f"({self.text})"

    def __str__(self) -> str:
        return self.text


def _operand(v: Sql | float) -> Sql:
    """`v` as an operand: a number becomes its literal."""
    return v if isinstance(v, Sql) else Sql(_num(v), 0, 0, value=float(v))


def _case(cases: Sequence[tuple[str, Sql | float]], layer: int = 0) -> Sql:
    """CASE WHEN c1 THEN v1 .. ELSE v END with literal branches (a float is one; a one-hot
    column's CASE of literals, a `where` with a literal side), as Spark's optimiser leaves it:
    a literal added to it is added branch by branch (`SqlOps.add`; to a CASE of literals also
    multiplied, scaled), which its PushFoldableIntoBranches and ConstantFolding did on every
    write. A CASE of literals is NaN exactly when one of its NaN branches' conditions holds
    (`missing`; false when there is none)."""
    cases = tuple((c, _operand(v)) for c, v in cases)
    *whens, (_, last) = cases
    text = " ".join(f"WHEN {c} THEN {v}" for c, v in whens)
    missing = ""
    if all(v.value is not None for _, v in cases) and not math.isnan(last.value):
        missing = " OR ".join(c for c, v in whens if math.isnan(v.value))
    return Sql(f"CASE {text} ELSE {last} END", max(layer, *(v.layer for _, v in cases)),
               missing=missing, cases=cases)


# --------------------------------------------------------------------------------- SqlOps


class SqlOps:
    """`ir.arithmetic.Ops` over Spark SQL text (double). A class vector is a list of `Sql`, one
    per class; a plain number becomes a literal. Missing is NaN, as in the artifact: Spark
    orders NaN above every number and says NaN = NaN, so comparisons are guarded to be false on
    a NaN operand (IEEE, as numpy and onnxruntime compare); a division by zero is IEEE's
    (Spark's `/` would answer null). Text, not Column objects: building a Column costs a JVM
    call per operation and literal (half the driver's time per call, benchmarks/scale.py)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.layers: list[list[tuple[str, str]]] = []  # kept values (name, text) per layer

    def _map(self, fn: Callable[..., str], *args: Any, prec: int = 3) -> Any:
        """fn over `Sql` operands (element-wise over class vectors). prec < 3: `fn` is one
        arithmetic operator, its result binds as tightly as `prec`."""
        lists = [a for a in args if isinstance(a, list)]
        if not lists:
            vs = [_operand(a) for a in args]
            cost = 1 if prec < 3 and all(v.cost == 0 for v in vs) else 2
            return Sql(fn(*vs), max(v.layer for v in vs), cost, prec)
        return [self._map(fn, *[a[k] if isinstance(a, list) else a for a in args], prec=prec)
                for k in range(len(lists[0]))]

    def const(self, value: Any) -> Any:
        import numpy as np

        if np.ndim(value) > 0:
            return [_operand(float(v)) for v in np.ravel(value)]
        return _operand(float(value))

    # left to right: a right operand of the same precedence keeps its parentheses
    def add(self, a, b):
        if isinstance(a, Sql) and isinstance(b, (int, float)):
            if a.cases:  # a CASE + a literal: added branch by branch (Java's doubles)
                return _case([(c, v.value + float(b) if v.value is not None
                               else self.add(v, b)) for c, v in a.cases], a.layer)
        return self._map(lambda x, y: f"{x.at(1)} + {y.at(2)}", a, b, prec=1)

    def sub(self, a, b):
        return self._map(lambda x, y: f"{x.at(1)} - {y.at(2)}", a, b, prec=1)

    def mul(self, a, b):
        if isinstance(a, Sql) and a.branches and isinstance(b, (int, float)):
            return _case([(c, v * float(b)) for c, v in a.branches])  # Java's doubles
        return self._map(lambda x, y: f"{x.at(2)} * {y.at(3)}", a, b, prec=2)

    def div(self, a, b):  # x / ±0 is x · inf (a -0.0 divisor reads as +0.0)
        return self._map(lambda x, y: f"CASE WHEN {y} = 0.0D THEN {x.at(2)} * "
                         f"{_num(math.inf)} ELSE {x.at(2)} / {y.at(3)} END", a, b)

    def exp(self, a):
        return self._map(lambda x: f"EXP({x})", a)

    def log(self, a):  # Spark's ln answers null at or below 0
        return self._map(lambda x: f"CASE WHEN {x} > 0.0D THEN LN({x}) WHEN {x} = 0.0D THEN "
                         f"{_num(-math.inf)} ELSE {_num(math.nan)} END", a)

    def log1p(self, a):
        return self._map(lambda x: f"CASE WHEN {x} > -1.0D THEN LOG1P({x}) WHEN {x} = -1.0D "
                         f"THEN {_num(-math.inf)} ELSE {_num(math.nan)} END", a)

    def sqrt(self, a):
        return self._map(lambda x: f"SQRT({x})", a)

    def floor(self, a):
        raise UnsupportedModelError("floor", SUPPORTED, f"not compiled to SQL; {ARROW_HINT}")

    def erf(self, a):
        raise UnsupportedModelError("erf", SUPPORTED, f"not compiled to SQL; {ARROW_HINT}")

    def nearest(self, d, k):
        raise UnsupportedModelError("nearest", SUPPORTED, f"not compiled to SQL; {ARROW_HINT}")

    def sigmoid(self, z):
        """1 / (1 + exp(0 - z)), River's order; 1 + exp(.) is never 0, so no zero guard (Spark
        does not share an expression between CASE branches: the guard computed exp twice)."""
        return self._map(lambda x: f"1.0D / (1.0D + EXP(0.0D - {x.at(2)}))", z, prec=2)

    def _compare(self, op: str, a: Any, b: Any) -> Any:
        """Spark orders NaN above every number: `NaN < y`, `x > NaN` and `NaN = y` (y not NaN)
        are already false, so only the operand that Spark would make true is guarded."""
        def guarded(x: Sql, y: Sql) -> str:
            def can_be_nan(v: Sql) -> bool:
                return v.value is None or math.isnan(v.value)

            tested = {"<": [y], ">": [x], "=": [x] if can_be_nan(y) else []}[op]
            nans = [f"isnan({v.nan_of or v})" for v in tested if can_be_nan(v)]
            test = f"{x} {op} {y}"
            return f"CASE WHEN {' OR '.join(nans)} THEN false ELSE {test} END" if nans else test

        return self._map(guarded, a, b)

    def less(self, a, b):
        return self._compare("<", a, b)

    def greater(self, a, b):
        return self._compare(">", a, b)

    def equal(self, a, b):
        return self._compare("=", a, b)

    def is_nan(self, a):
        if isinstance(a, Sql) and a.branches and not any(math.isnan(v) for _, v in a.branches):
            return False  # no branch is NaN: `where` takes the other side
        return self._map(lambda x: x.missing or f"isnan({x.nan_of or x})", a)

    def where(self, condition, a, b):
        if isinstance(condition, bool):
            return a if condition else b
        if not any(isinstance(v, list) for v in (condition, a, b)):
            c, x, y = map(_operand, (condition, a, b))
            if x.value is not None or y.value is not None:  # a literal side: `_case`'s form
                return _case([(c.text, x), ("", y)], c.layer)
        return self._map(lambda c, x, y: f"CASE WHEN {c} THEN {x} ELSE {y} END",
                         condition, a, b)

    def matmul(self, x: list, W: Any) -> list:
        """x · W as one sum per column of W, left to right over every row of W."""
        import numpy as np

        W = np.asarray(W, dtype=np.float64)
        return [_sum([self.mul(x[s], float(W[s, t])) for s in range(W.shape[0])], self)
                for t in range(W.shape[1])]

    def column(self, x: list, j: int) -> Any:
        return x[j]

    def max_classes(self, v: list) -> Any:  # NaN on top, as np.max
        if len(v) == 1:
            return v[0]
        return self._map(lambda *xs: f"greatest({', '.join(map(str, xs))})", *v)

    def sum_classes(self, v: list) -> Any:
        return _sum(list(v), self)

    def concat_classes(self, parts: Sequence[Any]) -> list:
        return [e for p in parts for e in (p if isinstance(p, list) else [p])]

    def keep(self, v: Any, hint: str = "") -> Any:
        """A value used more than once becomes a column of its own, in the projection after
        the last value it reads (`apply`): inlined, every use would copy its whole expression
        (a sigmoid reads z five times), and the copies multiply down the formula until Spark's
        generated method is too large to compile and it falls back to interpreting them (30k
        rows/s). A literal, a kept value or one +, -, * of them is repeated instead: one
        projection less for Spark to analyse."""
        if isinstance(v, list):
            return [self.keep(e, hint) for e in v]
        v = _operand(v)
        if v.cost < 2:
            return v
        while len(self.layers) <= v.layer:
            self.layers.append([])
        name = f"{self.prefix}{sum(map(len, self.layers))}"
        self.layers[v.layer].append((name, v.text))
        return Sql(quoted(name), v.layer + 1, 0)


def _sum(terms: list, o: SqlOps) -> Any:
    total = terms[0]
    for t in terms[1:]:
        total = o.add(total, t)
    return total


@dataclass(frozen=True)
class Program:
    """A model compiled for one input schema: the kept values, projection by projection, and
    the output columns' SQL over the last of them. Spark's parser takes ~2 ms per linear term,
    so each text is parsed once per JVM and its (unresolved, unaliased) Column kept; a call on
    a new input DataFrame names them afresh (a new alias, a new attribute id: scored
    DataFrames of two inputs never share one) and stacks one projection a layer on its plan;
    a call on the same input DataFrame again gets the same scored one (it joins
    with itself as any DataFrame does, through aliases)."""

    layers: tuple[tuple[tuple[str, str], ...], ...]  # (kept value's column, SQL)
    outputs: tuple[tuple[str, str], ...]  # (output column, SQL)
    keep: tuple[str, ...]  # the input DataFrame's columns, passed through
    constants: tuple[tuple[str, float | str], ...] = ()  # (parameter, value) the SQL names
    _parsed: dict = field(default_factory=dict, compare=False, repr=False)
    _applied: list = field(default_factory=list, compare=False, repr=False)  # (df, scored)

    def _carried(self) -> list[list[str]]:
        """Per projection, the values kept by earlier ones that a later one still reads: only
        those are passed on (with `*`, a value read by the next projection alone reached the
        last, and Spark's ColumnPruning removed it again on every write: one more pass of the
        optimiser's main batch)."""
        later = [" ".join(t for step in [*self.layers[i + 1:], self.outputs] for _, t in step)
                 for i in range(len(self.layers))]
        return [[n for layer in self.layers[:i] for n, _ in layer if quoted(n) in later[i]]
                for i in range(len(self.layers))]

    def _columns(self, sc: Any) -> tuple[Any, list[tuple[list[Any], list[tuple[str, Any]]]]]:
        """((`PythonUtils`, the constants as a Scala map of Literals, the JVM classes used),
        per projection (the expressions passed on as they are: input columns and carried
        values, (name, Java Column) of each new value)) in this JVM, parsed on first use."""
        gateway = sc._gateway
        parsed = self._parsed.get(id(gateway))
        if parsed is None or parsed[0] is not gateway:
            functions = sc._jvm.org.apache.spark.sql.functions
            inputs = tuple((c, quoted(c)) for c in self.keep)
            steps = [inputs + tuple((n, quoted(n)) for n in carried) + layer
                     for carried, layer in zip(self._carried(), self.layers)]
            steps.append(inputs + self.outputs)
            utils, catalyst = sc._jvm.PythonUtils, sc._jvm.org.apache.spark.sql.catalyst
            null = catalyst.expressions.Literal.create(None, sc._jvm.org.apache.spark.sql.types
                                                       .DataTypes.DoubleType)
            args = utils.toScalaMap({n: null if v is None else functions.lit(v).expr()
                                     for n, v in self.constants})
            classes = (catalyst.plans.logical.Project, catalyst.analysis.NameParameterizedQuery,
                       sc._jvm.org.apache.spark.sql.Dataset, sc._jvm.java.util.ArrayList)
            passed = [len(self.keep) + len(c) for c in self._carried()] + [len(self.keep)]
            parsed = (gateway, (utils, args, classes),
                      [(_java_list(sc, [functions.expr(text).named() for _, text in step[:n]]),
                        [(name, functions.expr(text)) for name, text in step[n:]])
                       for step, n in zip(steps, passed)])
            self._parsed.clear()  # one JVM at a time: its scored DataFrames too
            self._applied.clear()
            self._parsed[id(gateway)] = parsed
        return parsed[1], parsed[2]

    def apply(self, df: Any) -> Any:
        """`df` with the output columns after its own: one projection a layer, analysed at once
        with the constants bound (`NameParameterizedQuery`, what `spark.sql(text, args)`
        builds). The analysed result is kept per input DataFrame (the last `_CACHED`): scoring
        the same DataFrame again with this program hands back the same plan (analysing the
        projections was most of the driver's time per call, benchmarks/scale.py); the
        version's files are checked before this, on every call."""
        from pyspark.sql import DataFrame

        for source, scored in self._applied:
            if source is df._jdf:
                return DataFrame(scored, df.sparkSession)
        sc = df.sparkSession.sparkContext
        (utils, args, (project, parameterized, dataset, array_list)), steps = self._columns(sc)
        plan = df._jdf.logicalPlan()
        for passed, new in steps:  # passed on as they are (one copy of the JVM's list: a
            named = array_list(passed)  # Python list is sent element by element), then the
            for name, column in new:  # new values named afresh
                named.add(column.alias(name).named())
            plan = project(utils.toSeq(named), plan)
        if self.constants:  # the analyser binds each `:name` to its Literal
            plan = parameterized(plan, args)
        jdf = dataset.ofRows(df.sparkSession._jsparkSession, plan)  # analysed once, here
        self._applied.insert(0, (df._jdf, jdf))
        del self._applied[_CACHED:]
        return DataFrame(jdf, df.sparkSession)


def _java_list(sc: Any, items: list) -> Any:
    """A `java.util.ArrayList` of JVM objects, built once: `Program.apply` copies it in one
    py4j call per projection, where a Python list is converted with one call per element
    (~60 round trips of ~0.25 ms per call on a new input DataFrame, benchmarks/README.md)."""
    out = sc._jvm.java.util.ArrayList(len(items))
    for item in items:
        out.add(item)
    return out


# --------------------------------------------------------------------------------- compiler


Block = dict[str, Any]  # column name → Sql (double, NaN = missing), in order


def _refuse(node: Any, why: str = "") -> UnsupportedModelError:
    name = type(node).__name__
    reason = f"IR node {name}{': ' + why if why else ''} is not compiled to Spark SQL; " \
        f"{ARROW_HINT}"
    return UnsupportedModelError(f"estuary.ir.{name}", SUPPORTED, reason)


def _transform(step: Any, block: Block, o: SqlOps) -> Block:
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
            out[c] = (o.where(o.is_nan(x), x, 0.0) if divisor == 0  # divisor ≠ 0: Spark's /
                      else _scaled(x, offset, divisor))
        return out
    if isinstance(step, ir.OneHot):
        fill = math.nan if step.missing_as_nan else 0.0
        return {t: _filled(block[s], fill, o) for s, t in zip(step.source, step.target)}
    if isinstance(step, ir.Union):  # River's union: on a repeated name the first branch wins
        out: Block = {}
        for branch in step.branches:
            for c, v in _transform(branch, block, o).items():
                out.setdefault(c, v)
        return out
    raise _refuse(step)


def _filled(x: Sql, fill: float, o: SqlOps) -> Sql:
    """x, missing as `fill`; an input one-hot column's missing branch becomes `fill`."""
    if x.branches and x.missing == x.branches[0][0]:
        return _case([(x.branches[0][0], fill), *x.branches[1:]])
    return o.where(o.is_nan(x), fill, x)


def _scaled(x: Sql, offset: float, divisor: float) -> Sql:
    """(x - offset) / divisor; with both finite and divisor ≠ 0 it is NaN exactly when x is
    (±inf stays ±inf), so a missing-value test reads x instead of recomputing it."""
    finite = math.isfinite(offset) and math.isfinite(divisor)
    if x.branches:  # divisor ≠ 0: Spark's / (null on 0) and Python's agree
        return _case([(c, (v - offset) / divisor) for c, v in x.branches])
    return Sql(f"({x.at(1)} - {_num(offset)}) / {_num(divisor)}", x.layer, 2, 2,
               (x.nan_of or x.text) if finite else "")


def _linear(est: ir.Linear, block: Block, o: SqlOps) -> arithmetic.Scores:
    """w·x + b, left to right, a missing x as 0. Each term is written `CASE WHEN isnan(x) THEN
    0·w ELSE x·w END` (the same doubles as `(CASE .. THEN 0 ELSE x END)·w`) with 0·w a literal:
    the form Spark's optimizer rewrites the other into (PushFoldableIntoBranches, then
    ConstantFolding), so it no longer rewrites it on every write of the scored DataFrame."""
    x = [block[c] for c in est.columns]
    z = [o.add(_sum(_merged([o.where(o.is_nan(x[j]), 0.0 * float(w), o.mul(x[j], float(w)))
                             for j, w in enumerate(row)]), o), float(b))
         for row, b in zip(est.weights, est.intercepts)]
    return arithmetic.link(o, est.link, z)


def _merged(terms: list) -> list:
    """The terms, each run of one category's one-hot terms (CASEs of literals over the same
    column) as one CASE when that is exact: a + t1 + .. + tk, at most one t not ±0 on every
    category, is a + (-0.0 + t1 + .. + tk), the same double (x + ±0 = x, but -0 + +0 = +0: the
    zeros' sum keeps that sign). One CASE tests the column once for null and once per
    category; k CASEs tested it k times each, and their generated code was ~3x as long
    (benchmarks/README.md, h/spark7)."""
    out: list = []
    for t in terms:
        last = out[-1] if out else None
        if (isinstance(t, Sql) and t.branches and isinstance(last, list)
                and last[0].branches[0][0] == t.branches[0][0]):
            last.append(t)
        else:
            out.append([t] if isinstance(t, Sql) and t.branches else t)
    return [e for group in out for e in (_one_case(group) if isinstance(group, list) else [group])]


def _one_case(run: list[Sql]) -> list[Sql]:
    """One category's one-hot terms as one CASE (`_merged`), or as they are when some category
    gives more than one term that is not ±0 (a scaler after the one-hot): summing those
    first would add in another order."""
    if len(run) == 1:
        return run
    hits = [c for t in run for c, _ in t.branches[1:-1]]
    outcomes = [run[0].branches[0][0], *hits, ""]  # null, each category, unseen

    def value(t: Sql, outcome: str) -> float:
        return next((v for c, v in t.branches[:-1] if c == outcome), t.branches[-1][1])

    sums = []
    for outcome in outcomes:
        values = [value(t, outcome) for t in run]
        if sum(v != 0.0 for v in values) > 1:  # NaN counts as not 0
            return run
        total = -0.0
        for v in values:
            total += v
        sums.append(total)
    return [_case(list(zip(outcomes, sums)))]


def _leaf_values(tree: TreeStructure, x: list, values: list[str], node: int = 0) -> str:
    """Nested CASE WHEN down the tree from `node`: `x <= threshold` left, NaN to the recorded
    side; a leaf gives values[leaf]."""
    if tree.leaf[node] >= 0:
        return values[tree.leaf[node]]
    f = x[tree.feature[node]].text
    t = tree.threshold[node]  # Spark: NaN <= t is false, x <= NaN true (IEEE: both false)
    go_left = "false" if math.isnan(t) else f"{f} <= {_num(t)}"
    if tree.missing_left[node]:
        go_left = f"{go_left} OR isnan({f})"  # AND binds first
    return (f"CASE WHEN {go_left} THEN {_leaf_values(tree, x, values, tree.left[node])} "
            f"ELSE {_leaf_values(tree, x, values, tree.right[node])} END")


def _tree(est: Any, block: Block, o: SqlOps) -> arithmetic.Scores:
    x = [block[c] for c in est.columns]  # inlined: a comparison each, no arithmetic
    layer = max((v.layer for v in x), default=0)
    if isinstance(est, TreeRegressor):
        if any(est.model):
            raise _refuse(est, "linear-model leaves")
        value = _leaf_values(est.tree, x, [_num(m) for m in est.means])
        return arithmetic.Scores("value", [Sql(value, layer)])
    if any(est.naive_bayes):
        raise _refuse(est, "naive-Bayes leaves (leaf_prediction 'nb' / 'nba')")
    leaf = o.keep(Sql(_leaf_values(est.tree, x, [str(i) for i in range(est.tree.n_leaves)]),
                      layer), "leaf")
    probs = [Sql(f"element_at(array({', '.join(_num(p[k]) for p in est.class_probs)}), "
                 f"{leaf.text} + 1)", leaf.layer) for k in range(len(est.class_probs[0]))]
    return arithmetic.Scores("probabilities", probs)


def compile_outputs(model: ir.Model, inputs: Block, o: SqlOps) -> list[Sql]:
    """The model's main output as SQL over the values `o` keeps: class probabilities (one per
    class) or [value]. Raises `UnsupportedModelError` naming the first node not compiled."""
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


def _column_of(feature: Any, types: dict[str, Any]) -> str:
    """The column a feature is read from: named like its key, else like its name."""
    key = feature.key
    return key if isinstance(key, str) and key in types else feature.name


def input_columns(types: dict[str, Any], schema: ir.FeatureSchema) -> Block:
    """The artifact's input columns as double SQL (NaN = missing) read by the schema from
    columns of these Spark `types`, with `estuary.columnar`'s rules: a null or NaN is missing,
    a missing column makes the feature missing on every row, a category matches by its text,
    an unseen one gives 0s."""
    from pyspark.sql import types as T

    nan = _num(math.nan)
    out: Block = {}
    for f in schema.features:
        name = _column_of(f, types)
        kind = types.get(name)
        if kind is None:
            out.update({c: Sql(nan, 0, 0) for c in f.columns})
            continue
        col = quoted(name)
        if f.kind == "numeric":  # a double column is read as it is (SimplifyCasts drops it)
            value = col if isinstance(kind, T.DoubleType) else f"CAST({col} AS DOUBLE)"
            out[f.name] = Sql(f"coalesce({value}, {nan})")
            continue
        if isinstance(kind, (T.FloatType, T.DoubleType, T.DecimalType)):
            raise InvalidInputError(f.name, f"Spark column of {kind.simpleString()} for a "
                                    "categorical feature: the SQL engine matches categories by "
                                    f"text; cast it to string or integer, or {ARROW_HINT}")
        text = (f"CASE WHEN {col} THEN 'True' ELSE 'False' END"
                if isinstance(kind, T.BooleanType) else col if isinstance(kind, T.StringType)
                else f"CAST({col} AS STRING)")  # (SimplifyCasts drops a string's cast)
        lookup = {str(c): i for i, c in enumerate(f.categories)}  # RowEncoder's: last wins
        for i, (c, column) in enumerate(zip(f.categories, f.columns)):
            hit = [(f"{text} = {_text(str(c))}", 1.0)] if lookup[str(c)] == i else []
            out[column] = _case([(f"{col} IS NULL", math.nan), *hit, ("", 0.0)])
    return out


def range_check(types: dict[str, Any], schema: ir.FeatureSchema,
                null: str = "NULL") -> str | None:
    """SQL that is null, or fails the job on the first ±inf of a numeric feature's float or
    double column (integer, decimal and boolean columns cannot hold one) with the message of
    the `OutOfRangeError` the local and Arrow engines raise (`estuary.rows`' range policy);
    None when no column can. Spark's `raise_error` carries only text to the driver:
    `estuary.scale.spark.refusal` turns it back into the error.

    A row first takes one test, the sum of the columns' absolute values at most the largest
    double: true on every row without ±inf, NaN or an overflowing sum, and those rows go no
    further (one CASE a column on every row cost ~7% of the executors' time); the others are
    tested column by column (|x| = inf: NaN, missing, and huge finite values pass). A float
    column is cast to double first (a bare float compared with a double literal is
    rewritten by UnwrapCastInBinaryComparison). `null` is its value on the rows that pass:
    SQL's `NULL` (of no type) for a check kept as a column, the module's `NULL` parameter (a
    double-typed Literal) for one inlined in a regression's output, where a bare NULL made the
    CASE a CAST to double that the optimiser pushed into the single `raise_error` branch and
    folded (3 rules) on every write."""
    from pyspark.sql import types as T

    top, cases, magnitudes = _num(FLOAT64_MAX), [], []
    for f in schema.features:
        name = _column_of(f, types)
        if f.kind != "numeric" or not isinstance(types.get(name), (T.FloatType, T.DoubleType)):
            continue
        col = quoted(name)
        if isinstance(types[name], T.FloatType):
            col = f"CAST({col} AS DOUBLE)"
        message = {sign: _text(f"{REFUSED}{_refused(f.name, sign * math.inf, FLOAT64_MAX)}")
                   for sign in (1, -1)}
        cases.append(f"WHEN abs({col}) = {_num(math.inf)} THEN raise_error(CASE WHEN {col} > "
                     f"0.0D THEN {message[1]} ELSE {message[-1]} END)")
        magnitudes.append(f"abs({col})")
    if not cases:
        return None
    return f"CASE WHEN {' + '.join(magnitudes)} <= {top} THEN {null} {' '.join(cases)} END"


def _class_literal(c: Any, label_type: Any) -> str:
    from pyspark.sql import types as T

    if isinstance(label_type, T.BooleanType):
        return "true" if c else "false"
    if isinstance(label_type, T.LongType):
        return f"CAST({int(c)} AS BIGINT)"
    if isinstance(label_type, T.DoubleType):
        return _num(c)
    return _text(str(c))


def _label(probabilities: list[Sql], classes: tuple, label_type: Any) -> str:
    """The first class of highest probability (River's max over its dict; ArgMax's first).
    Spark's NaN is above every number and equal to itself; with two classes `p1 > p0` picks as
    the general form does then too."""
    p = [v.text for v in probabilities]
    lits = [_class_literal(c, label_type) for c in classes]
    if lits == ["false", "true"]:  # SimplifyConditionals' form of the CASE below
        return f"{p[1]} > {p[0]} <=> true"
    if len(classes) == 2:
        return f"CASE WHEN {p[1]} > {p[0]} THEN {lits[1]} ELSE {lits[0]} END"
    top = f"greatest({', '.join(p)})"
    cases = " ".join(f"WHEN {p[k]} = {top} THEN {lits[k]}" for k in range(len(classes)))
    return f"CASE {cases} ELSE {lits[0]} END"


def _prefix(columns: list[str]) -> str:
    """A helper-column prefix no column of `df` starts with (Spark compares names ignoring
    case): the kept values never shadow or clash with the user's columns."""
    taken = [c.lower() for c in columns]
    prefix, n = "__estuary_sql_", 0
    while any(c.startswith(prefix) for c in taken):
        n += 1
        prefix = f"__estuary_sql{n}_"
    return prefix


def compile_program(model: ir.Model, types: dict[str, Any], prefix: str) -> Program:
    """The model as SQL text for input columns of these Spark `types`: what `predict` runs."""
    from .spark import _spark_label_type

    o = SqlOps(prefix)
    check = range_check(types, model.schema, "NULL" if model.task == "classification" else NULL)
    outputs = compile_outputs(model, input_columns(types, model.schema), o)
    if model.task == "classification":  # read by two outputs: kept (once a row). What one
        check = o.keep(Sql(check), "range").text if check else None  # output reads is not:
        outputs = o.keep(outputs, "outputs")  # CollapseProject merged it on every write
        label_type = _spark_label_type(tuple(model.classes))
        named = (("prediction", _label(outputs, tuple(model.classes), label_type)),
                 ("probabilities", f"array({', '.join(v.text for v in outputs)})"))
    else:
        named = (("prediction", outputs[0].text),)
    if check is not None:  # null unless it fails the job: each output is its own value
        named = tuple((name, f"coalesce({check}, {text})") for name, text in named)
    layers = tuple(tuple(layer) for layer in o.layers)
    used = {m for step in (*layers, named) for _, text in step for m in _PARAMETER.findall(text)}
    constants = tuple((n, _constant(n)) for n in sorted(used) if _is_constant(n))
    return Program(layers, named, tuple(types), constants)


SPARK_SERIES = "3.5."  # estuary[spark] pins pyspark 3.5.9


def check_spark_version(version: str) -> None:
    """Refuse a Spark other than the 3.5 series: `Program.apply` builds the plan with Spark's
    internal classes (`Project`, `NameParameterizedQuery`, `Dataset.ofRows`), which other
    series lay out differently; the Arrow engine uses only Spark's public API."""
    if not version.startswith(SPARK_SERIES):
        raise InvalidOptionError(
            f"engine='sql' runs on Spark {SPARK_SERIES}x (estuary[spark] pins pyspark 3.5.9); "
            f"this session runs Spark {version}: use engine='arrow' (estuary score --engine "
            "spark), which works on any Spark with mapInArrow")


def _constant(name: str) -> float | str | None:
    """The value a parameter of the SQL text stands for (`_num`, `_text`, None: `NULL`), or
    None for a name that is none of them (such text inside a user's quoted column name)."""
    if name.startswith(_STRING):
        try:
            return bytes.fromhex(name.removeprefix(_STRING)).decode("utf-8")
        except ValueError:
            return None
    return _CONSTANTS.get(name)


def _is_constant(name: str) -> bool:
    return name in _CONSTANTS or _constant(name) is not None


def predict(df: Any, model: Any, version: int | str | None = None) -> Any:
    """`df` with `prediction` (and, for a classifier, `probabilities`) columns computed by Spark
    SQL expressions compiled from the version's IR: the Arrow engine's output columns and types.
    The compiled text is kept per snapshot SHA-256 and input types: a repeated call only
    checks the version's files and hands Spark a few `selectExpr`s.

    >>> predict(spark.read.parquet("rows.parquet"), "models", version=3).show()
    """
    from .spark import _check_columns

    check_spark_version(df.sparkSession.version)
    sha, m = _checked_model(*_open(model, None if version == "latest" else version))
    fields = df.schema.fields
    types = {f.name: f.dataType for f in fields}
    _check_columns(df, m.schema, types)
    refuse_clashes(types, [c.name for c in output_columns(TASKS[m.task], ())])
    prefix = _prefix(list(types))
    key = (sha, tuple((f.name, f.dataType.simpleString()) for f in fields), prefix)
    program = _PROGRAMS.get(key)
    if program is None:
        program = _remember(_PROGRAMS, key, compile_program(m, types, prefix))
    return program.apply(df)


__all__ = ["Program", "SqlOps", "check_spark_version", "compile_outputs", "compile_program", "input_columns",
           "load_model", "predict", "range_check"]
