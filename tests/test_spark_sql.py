"""Spark SQL engine (`estuary.spark.predict(..., engine="sql")`) vs the local engine (the ONNX
artifact in onnxruntime, `score_batch`), on Spark `local[2]`, 12k rows with nulls, NaN, unseen
categories and a missing category.

Bit-exact where both sides compute the same IEEE operations in the same order: trees (only
comparisons) against the local engine; a linear regression against the IR in numpy summed in
the SQL engine's order. Against the local engine linear models are not bit-exact, and the test
prints by how much: onnxruntime sums w·x with a vectorised ReduceSum (another order of the
same additions), and for sigmoid / softmax java.lang.StrictMath.exp differs from numpy's exp by an
ulp on some rows. Needs Java 17 and pyspark (the `spark` extra): a missing runtime fails.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from py4j.protocol import Py4JJavaError
from pyspark.errors import PythonException
from river import compose, linear_model, preprocessing, tree

import estuary
from estuary import spark as public
from estuary.errors import (
    InvalidInputError,
    InvalidOptionError,
    OutOfRangeError,
    UnsupportedModelError,
)
from estuary.online import Learner, Store
from estuary.scale import spark as es

N_ROWS = 12_000


def _row(rng: random.Random) -> tuple[dict, float]:
    c = rng.choice(["red", "green", "blue"])
    x = {"x1": rng.gauss(0, 1), "x2": rng.gauss(0, 1), "x3": rng.gauss(5, 3), "c": c}
    return x, x["x1"] + (1.5 if c == "red" else -0.5) + 0.3 * rng.gauss(0, 1)


def _prep():
    return ((compose.Discard("c") | preprocessing.StandardScaler())
            + (compose.Select("c") | preprocessing.OneHotEncoder()))


MODELS = {
    "scaler_logreg": (lambda: _prep() | linear_model.LogisticRegression(), lambda s: s > 0),
    "softmax": (lambda: _prep() | linear_model.SoftmaxRegression(),
                lambda s: "a" if s < -0.5 else "b" if s < 1 else "c"),
    "hoeffding_tree": (lambda: tree.HoeffdingTreeClassifier(grace_period=50,
                                                            leaf_prediction="mc"),
                       lambda s: s > 0),
    "linear_regression": (lambda: _prep() | linear_model.LinearRegression(), lambda s: s),
    "nb_tree": (lambda: tree.HoeffdingTreeClassifier(grace_period=50, leaf_prediction="nb"),
                lambda s: s > 0),
    "numeric_logreg": (lambda: compose.Select("x1", "x2", "x3") | preprocessing.StandardScaler()
                       | linear_model.LogisticRegression(), lambda s: s > 0),
    "numeric_softmax": (lambda: compose.Select("x1", "x2", "x3") | preprocessing.StandardScaler()
                        | linear_model.SoftmaxRegression(),
                        lambda s: "a" if s < -0.5 else "b" if s < 1 else "c"),
    "onehot_scaled_regression": (lambda: compose.Select("x1", "x2") + (
        compose.Select("c") | preprocessing.OneHotEncoder() | preprocessing.StandardScaler())
        | linear_model.LinearRegression(), lambda s: s),
    "single_column_regression": (lambda: compose.Select("x1") | linear_model.LinearRegression(),
                                 lambda s: s),
    "numeric_linear_regression": (lambda: compose.Select("x1", "x2", "x3")
                                  | preprocessing.StandardScaler()
                                  | linear_model.LinearRegression(), lambda s: s),
}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    out = {}
    for name, (make, target) in MODELS.items():
        rng = random.Random(1)
        root = tmp_path_factory.mktemp(name)
        with Learner(make(), store=Store(root), formats=["onnx"]) as learner:
            for _ in range(3000):
                x, s = _row(rng)
                learner.learn_one(x, target(s))
            assert learner.snapshot().result().published
        out[name] = root
    return out


@pytest.fixture(scope="module")
def spark():
    session = es.local_session("local[2]", "estuary-tests-sql")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def frame():
    rng = random.Random(5)
    frame = pd.DataFrame([_row(rng)[0] for _ in range(N_ROWS)])
    frame["id"] = np.arange(N_ROWS)
    frame.loc[frame.index % 17 == 0, "x1"] = None
    frame.loc[frame.index % 23 == 0, "x2"] = float("nan")
    frame.loc[frame.index % 29 == 0, "c"] = None
    frame.loc[frame.index % 31 == 0, "c"] = "purple"
    return frame


def _both(spark, frame, root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(local engine, SQL engine) outputs, in id order."""
    model = es.worker_model(es.resolve(root).data, es.resolve(root).sha256)
    local = es.score_batch(model, pa.RecordBatch.from_pandas(frame, preserve_index=False))
    df = spark.createDataFrame(frame).repartition(4)
    sql = public.predict(df, root, engine="sql").toPandas().sort_values("id")
    return local.to_pandas(), sql.reset_index(drop=True)


def _probabilities(scored: pd.DataFrame) -> np.ndarray:
    return np.vstack(scored["probabilities"].to_numpy())


def test_hoeffding_tree_is_bit_exact(spark, frame, stores):
    local, sql = _both(spark, frame, stores["hoeffding_tree"])
    assert np.array_equal(_probabilities(sql), _probabilities(local))
    assert sql["prediction"].tolist() == local["prediction"].tolist()
    assert sql["id"].tolist() == list(range(N_ROWS))


@pytest.mark.parametrize("name", ["scaler_logreg", "softmax"])
def test_linear_classifiers_within_an_ulp_and_labels_equal(spark, frame, stores, name):
    local, sql = _both(spark, frame, stores[name])
    expected, got = _probabilities(local), _probabilities(sql)
    diff = np.abs(got - expected)
    exact = float(np.mean((got == expected).all(axis=1)))
    print(f"{name}: max |diff| {diff.max():.3g}, rows bit-exact {exact:.3f}")
    assert got.shape == expected.shape and np.isfinite(got).all()
    assert diff.max() <= 1e-15  # probabilities in [0, 1]: a few ulps of 1 at most
    assert sql["prediction"].tolist() == local["prediction"].tolist()
    # in the SQL engine's own summation order only exp differs (java.lang.StrictMath.exp vs numpy's)
    ref = _same_order(stores[name], frame)
    print(f"{name} vs numpy in the same order: max |diff| {np.abs(got - ref).max():.3g}, "
          f"rows bit-exact {np.mean((got == ref).all(axis=1)):.3f}")
    assert np.abs(got - ref).max() <= 1e-15


def _same_order(root, frame: pd.DataFrame) -> np.ndarray:
    """The IR's Linear in numpy, summed as the SQL engine sums (left to right, then the
    intercept): the reference for Java's +, -, *, / (the IR's transforms, its link)."""
    from estuary.columnar import ColumnarEncoder
    from estuary.ir import arithmetic
    from estuary.ir.arithmetic import NUMPY
    from estuary.ir.evaluate import gather, transform
    from estuary.scale.spark_sql import load_model

    m = load_model(root)
    X = ColumnarEncoder(m.schema).encode(frame)
    Z = gather(transform(m.transform, (X, m.schema.columns)), m.estimator.columns)
    Z = np.where(np.isnan(Z), 0.0, Z)
    z = np.empty((len(Z), len(m.estimator.intercepts)))
    for k, (row, b) in enumerate(zip(m.estimator.weights, m.estimator.intercepts)):
        total = Z[:, 0] * row[0]
        for j in range(1, len(row)):
            total = total + Z[:, j] * row[j]
        z[:, k] = total + b
    return arithmetic.normalised(NUMPY, arithmetic.link(NUMPY, m.estimator.link, z))


@pytest.mark.parametrize("name", ["linear_regression", "onehot_scaled_regression"])
def test_linear_regression_bit_exact_in_its_order(spark, frame, stores, name):
    local, sql = _both(spark, frame, stores[name])
    expected, got = local["prediction"].to_numpy(), sql["prediction"].to_numpy()
    assert np.array_equal(got, _same_order(stores[name], frame)[:, 0])
    scale = np.maximum(np.abs(expected), 1.0)
    rel = np.abs(got - expected) / scale
    print(f"linear_regression vs local engine: max |diff| / max(|v|, 1) {rel.max():.3g}, "
          f"bit-exact {np.mean(got == expected):.3f} (onnxruntime's ReduceSum order)")
    assert np.isfinite(got).all() and rel.max() <= 1e-15


def test_refusals_name_the_node_and_the_arrow_engine(spark, frame, stores):
    df = spark.createDataFrame(frame.head(10))
    with pytest.raises(UnsupportedModelError, match="TreeClassifier.*naive-Bayes.*arrow"):
        public.predict(df, stores["nb_tree"], engine="sql")
    onnx = Store(stores["softmax"]).open().file_for("onnx")
    with pytest.raises(UnsupportedModelError, match="no IR.*arrow"):
        public.predict(df, onnx, engine="sql")
    with pytest.raises(InvalidOptionError, match="engine"):
        public.predict(df, stores["softmax"], engine="gpu")
    typed = frame.head(10).assign(c=np.arange(10, dtype=np.float64))
    with pytest.raises(InvalidInputError, match="'c'.*text"):
        public.predict(spark.createDataFrame(typed), stores["softmax"], engine="sql")
    as_text = frame.head(10).assign(x1="1.0")
    with pytest.raises(InvalidInputError, match="x1"):
        public.predict(spark.createDataFrame(as_text), stores["softmax"], engine="sql")


def test_a_spark_outside_the_pinned_series_is_refused_with_the_arrow_engine_named():
    from estuary.scale import spark_sql

    spark_sql.check_spark_version("3.5.9")  # the pinned one (and the session's, above)
    for other in ("3.4.1", "4.0.0", "4.3.0"):
        with pytest.raises(InvalidOptionError, match=rf"Spark {other}: use engine='arrow'"):
            spark_sql.check_spark_version(other)


def test_strings_the_parser_cannot_take_plainly_are_parameters_that_spell_their_value():
    from estuary.scale import spark_sql

    held = dict(spark_sql._CONSTANTS)
    for s in ["it's", 'say "hi"', "back\\slash", "naïve 日本", "x' OR '1'='1"]:
        text = spark_sql._text(s)
        assert text.startswith(":estuary_s")
        assert spark_sql._constant(text[1:]) == s
    assert spark_sql._text("plain text_1.0-2") == "'plain text_1.0-2'"
    assert spark_sql._CONSTANTS == held  # nothing is registered per string
    assert spark_sql._constant("estuary_szz") is None  # not hex: no parameter of ours


def test_sql_plan_has_no_python(spark, frame, stores):
    scored = public.predict(spark.createDataFrame(frame.head(10)), stores["softmax"],
                            engine="sql")
    plan = scored._jdf.queryExecution().executedPlan().toString()
    assert "Python" not in plan and "ArrowEval" not in plan, plan


def test_score_command_spark_sql(stores, frame, tmp_path):
    from typer.testing import CliRunner

    from estuary.cli import app

    frame.head(2000).to_parquet(tmp_path / "rows.parquet", index=False)
    result = CliRunner().invoke(app, ["score", str(tmp_path / "rows.parquet"),
                                      str(tmp_path / "out.parquet"), "--model",
                                      str(stores["hoeffding_tree"]), "--engine", "spark-sql"])
    assert result.exit_code == 0, result.output
    got = pd.read_parquet(tmp_path / "out.parquet").sort_values("id")
    local = estuary.load(Store(stores["hoeffding_tree"]).open().file_for("onnx"))
    rows = [{k: v for k, v in r.items() if k in ("x1", "x2", "x3", "c") and v is not None
             and v == v} for r in frame.head(2000).to_dict("records")]
    assert np.array_equal(_probabilities(got), local.predict_proba_many(rows))


def test_user_columns_named_like_the_helpers_are_kept(spark, frame, stores):
    """The engine's helper columns take a prefix none of the user's columns starts with (Spark
    matches names ignoring case): the user's columns pass through untouched."""
    root = stores["scaler_logreg"]
    clashing = frame.assign(__estuary_sql_0=-1.0, __ESTUARY_SQL1_0="mine")
    local, _ = _both(spark, frame, root)
    df = spark.createDataFrame(clashing).repartition(4)
    scored = public.predict(df, root, engine="sql").toPandas().sort_values("id")
    assert scored.columns.tolist() == [*clashing.columns, "prediction", "probabilities"]
    assert (scored["__estuary_sql_0"] == -1.0).all()
    assert (scored["__ESTUARY_SQL1_0"] == "mine").all()
    assert scored["prediction"].tolist() == local["prediction"].tolist()


def test_categories_with_quotes_and_backslashes(spark, tmp_path):
    """Category text reaches Spark's parser as hex bytes unless it is plain, so quotes,
    backslashes and non-ASCII match exactly as in the local engine."""
    categories = ["it's", "back\\slash", 'say "hi"', "naïve", "plain"]
    rng = random.Random(3)
    with Learner(compose.Select("c") | preprocessing.OneHotEncoder()
                 | linear_model.LogisticRegression(), store=Store(tmp_path),
                 formats=["onnx"]) as learner:
        for _ in range(2000):
            c = rng.choice(categories)
            learner.learn_one({"c": c}, c in ("it's", "naïve"))
        assert learner.snapshot().result().published
    rows = pd.DataFrame({"c": categories * 20, "id": np.arange(100)})
    local, sql = _both(spark, rows, tmp_path)
    assert sql["prediction"].tolist() == local["prediction"].tolist()
    assert sql["prediction"].tolist() == [c in ("it's", "naïve") for c in rows["c"]]
    assert np.abs(_probabilities(sql) - _probabilities(local)).max() <= 1e-15


def test_two_scored_frames_join(spark, frame, stores):
    """Each call names its columns afresh (the parsed expressions are reused, their aliases
    are not), so two scored DataFrames join like any two."""
    df = spark.createDataFrame(frame.head(500))
    a = public.predict(df, stores["softmax"], engine="sql").select("id", "prediction")
    b = public.predict(df, stores["hoeffding_tree"], engine="sql").select(
        "id", "prediction")
    joined = a.alias("a").join(b.alias("b"), "id").toPandas().sort_values("id")
    assert len(joined) == 500
    local_a, _ = _both(spark, frame.head(500), stores["softmax"])
    local_b, _ = _both(spark, frame.head(500), stores["hoeffding_tree"])
    assert joined.iloc[:, 1].tolist() == local_a["prediction"].tolist()
    assert joined.iloc[:, 2].tolist() == local_b["prediction"].tolist()


def test_new_inputs_get_their_own_projections_with_fresh_attribute_ids(spark, frame, stores):
    """The expressions passed on are copied per call from one JVM list kept per program: three
    new input DataFrames scored in turn each get their columns once (nothing appended to the
    kept list), output attribute ids of their own, and the same predictions."""
    df = spark.createDataFrame(frame.head(400))
    scored = [public.predict(df.select("*"), stores["numeric_logreg"], engine="sql")
              for _ in range(3)]
    for s in scored:
        assert s.columns == [*df.columns, "prediction", "probabilities"]
        kept = [p.projectList().size() for p in _projects(s._jdf.queryExecution().analyzed())]
        assert kept == [p.projectList().size() for p in _projects(
            scored[0]._jdf.queryExecution().analyzed())]
    ids = {str(s._jdf.queryExecution().analyzed().output().last().exprId().id())
           for s in scored}
    assert len(ids) == 3
    rows = [s.select("id", "prediction", "probabilities").toPandas().sort_values("id")
            .reset_index(drop=True) for s in scored]
    for r in rows[1:]:
        assert r["prediction"].tolist() == rows[0]["prediction"].tolist()
        assert np.array_equal(_probabilities(r), _probabilities(rows[0]))


def _projects(plan) -> list:
    """The Project nodes of an analysed plan, from the top down."""
    out = []
    while plan.nodeName() in ("Project", "NameParameterizedQuery"):
        if plan.nodeName() == "Project":
            out.append(plan)
        plan = plan.children().head()
    return out


# ----------------------------------------------------------------------- the range policy
# Issue 18's policy in every batch engine: ±inf in a numeric feature's column is refused with
# `OutOfRangeError` naming the feature, as `predict_many` refuses it; NaN and null stay missing.
# Spark re-raises a worker's exception (Arrow) or `raise_error` (SQL) as text on the driver:
# the message names the error and the feature, and `es.refusal` types it again.
# x3 is a feature the tree never splits on (the local engine refuses it all the same).

ENGINE_ERRORS = {"arrow": PythonException, "sql": Py4JJavaError}


def _with(frame: pd.DataFrame, column: str, value: float) -> pd.DataFrame:
    out = frame.head(600).copy()
    out.loc[321, column] = value
    return out


def _local(root, frame: pd.DataFrame) -> pd.DataFrame:
    model = es.worker_model(es.resolve(root).data, es.resolve(root).sha256)
    batch = pa.RecordBatch.from_pandas(frame, preserve_index=False)
    return es.score_batch(model, batch).to_pandas()


@pytest.mark.parametrize("name", ["hoeffding_tree", "scaler_logreg"])
@pytest.mark.parametrize("column", ["x1", "x3"])
def test_infinity_is_refused_by_every_engine_naming_the_feature(spark, frame, stores, name,
                                                                 column):
    root = stores[name]
    for value in (math.inf, -math.inf):
        bad = _with(frame, column, value)
        with pytest.raises(OutOfRangeError, match="is not a value the formats agree on") as e:
            _local(root, bad)
        assert e.value.field == column
        expected = str(e.value)
        df = spark.createDataFrame(bad).repartition(2)
        for engine, kind in ENGINE_ERRORS.items():
            with pytest.raises(Exception) as e:
                public.predict(df, root, engine=engine).select("prediction").collect()
            assert isinstance(e.value, kind), engine
            assert f"estuary.errors.OutOfRangeError: {expected}" in str(e.value), engine
            typed = es.refusal(e.value)
            assert isinstance(typed, OutOfRangeError) and typed.field == column, engine
            assert str(typed) == expected, engine
        assert es.refusal(ValueError("something else")) is None


def test_nan_stays_missing_and_huge_finite_values_are_scored_as_locally(spark, frame, stores):
    rows = frame.head(600).copy()
    rows.loc[::7, "x1"] = float("nan")
    rows.loc[::5, "x2"] = None
    rows.loc[3::11, "x3"] = 1e300
    rows.loc[4::11, "x3"] = -1.7e308
    rows.loc[5::11, "x1"] = 1e308
    df = spark.createDataFrame(rows).repartition(2)
    for name in ("hoeffding_tree", "scaler_logreg"):
        local = _local(stores[name], rows)
        for engine in ENGINE_ERRORS:
            got = public.predict(df, stores[name], engine=engine).toPandas().sort_values("id")
            assert got["prediction"].tolist() == local["prediction"].tolist(), (name, engine)
            if engine == "arrow" or name == "hoeffding_tree":  # SQL linear: exp within an ulp
                assert np.array_equal(_probabilities(got), _probabilities(local)), (name, engine)
            else:
                assert np.abs(_probabilities(got) - _probabilities(local)).max() <= 1e-15


@pytest.mark.parametrize("engine", ["local", "spark", "spark-sql"])
def test_score_command_refuses_infinity_with_every_engine(stores, frame, tmp_path, engine):
    import json

    from typer.testing import CliRunner

    from estuary.cli import app

    _with(frame, "x3", -math.inf).to_parquet(tmp_path / "rows.parquet", index=False)
    result = CliRunner().invoke(app, ["score", str(tmp_path / "rows.parquet"),
                                      str(tmp_path / "out.parquet"), "--model",
                                      str(stores["hoeffding_tree"]), "--engine", engine,
                                      "--json"])
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert report["error_type"] == "OutOfRangeError"
    assert report["error"].startswith("feature 'x3': -inf is not a value the formats agree on")


def test_inf_beside_nan_an_overflowing_sum_and_float_columns(spark, frame, stores):
    """The range check's first test (the sum of |x| at most the largest double) lets every
    ordinary row through at once; a row that fails it is tested column by column: ±inf is
    refused beside a NaN in another column, two huge finite values whose sum overflows are
    scored as locally, and a float column is read as a double."""
    root = stores["scaler_logreg"]
    rows = frame.head(600).copy()
    rows.loc[7, ["x1", "x2"]] = [1e308, 1e308]
    rows.loc[8, ["x1", "x3"]] = [float("nan"), -1.5e308]
    df = spark.createDataFrame(rows).repartition(2)
    local = _local(root, rows)
    got = public.predict(df, root, engine="sql").toPandas().sort_values("id")
    assert got["prediction"].tolist() == local["prediction"].tolist()
    assert np.abs(_probabilities(got) - _probabilities(local)).max() <= 1e-15
    bad = rows.copy()
    bad.loc[9, ["x1", "x2"]] = [float("nan"), -math.inf]
    with pytest.raises(Py4JJavaError) as e:
        public.predict(spark.createDataFrame(bad), root, engine="sql").collect()
    typed = es.refusal(e.value)
    assert isinstance(typed, OutOfRangeError) and typed.field == "x2"
    floats = bad.drop(index=7).astype({"x1": "float32", "x2": "float32"})  # 1e308: inf
    typed_df = spark.createDataFrame(floats)
    assert dict(typed_df.dtypes)["x2"] == "float"
    with pytest.raises(Py4JJavaError) as e:
        public.predict(typed_df, root, engine="sql").collect()
    typed = es.refusal(e.value)
    assert isinstance(typed, OutOfRangeError) and typed.field == "x2"
    assert "-inf is not a value" in str(typed)


def test_scoring_the_same_frame_again_reuses_its_plan_but_rechecks_the_files(spark, frame,
                                                                             stores, tmp_path):
    """A second call on the same DataFrame hands back the plan analysed the first time, after
    the version's files are checked again: a file changed in between is refused."""
    import shutil

    from estuary.online.store import StoreError

    root = tmp_path / "store"
    shutil.copytree(stores["hoeffding_tree"], root)
    df = spark.createDataFrame(frame.head(300))
    first = public.predict(df, root, engine="sql")
    again = public.predict(df, root, engine="sql")
    assert again._jdf is first._jdf
    assert public.predict(spark.createDataFrame(frame.head(300)), root,
                          engine="sql")._jdf is not first._jdf
    joined = first.alias("a").join(again.alias("b"), "id").select("a.prediction",
                                                                   "b.prediction")
    assert joined.count() == 300
    snapshot = Store(root).open().path / "snapshot.json"
    snapshot.chmod(0o644)
    snapshot.write_text(snapshot.read_text().replace('"', "'", 1))
    with pytest.raises(StoreError, match="does not match its SHA-256"):
        public.predict(df, root, engine="sql")


def _write_plan(spark, scored):
    """The query a write of `scored` runs, optimised and planned (Spark's own per-rule count
    of the rewrites it made, in its tracker)."""
    execution = spark.sparkContext._jvm.org.apache.spark.sql.execution
    mode = getattr(execution, "CommandExecutionMode$").__getattr__("MODULE$").ALL()
    query = spark._jsparkSession.sessionState().executePlan(
        scored._jdf.queryExecution().analyzed(), mode)
    query.executedPlan()
    return query


@pytest.mark.parametrize("name", ["scaler_logreg", "softmax", "hoeffding_tree"])
def test_a_write_has_no_column_to_prune_and_a_cached_input_stays_cached(spark, frame, stores,
                                                                        name):
    """Each projection passes on only the kept values a later one reads, so Spark's
    ColumnPruning has nothing to remove on a write (it did on every write, costing one more
    pass of the optimiser's main batch); the input's cached data is still what is read."""
    df = spark.createDataFrame(frame).cache()
    df.count()
    scored = public.predict(df, stores[name], engine="sql")
    query = _write_plan(spark, scored)
    as_java = spark.sparkContext._jvm.scala.collection.JavaConverters.mapAsJavaMap
    rewrites = {rule: s.numEffectiveInvocations()
                for rule, s in as_java(query.tracker().rules()).items()
                if s.numEffectiveInvocations() and ".optimizer." in rule}
    assert "org.apache.spark.sql.catalyst.optimizer.ColumnPruning" not in rewrites, rewrites
    assert "InMemoryTableScan" in query.executedPlan().toString()
    assert scored.count() == len(frame)
    df.unpersist()


@pytest.mark.parametrize("name", ["numeric_logreg", "numeric_softmax",
                                  "numeric_linear_regression", "scaler_logreg", "softmax",
                                  "linear_regression", "onehot_scaled_regression",
                                  "single_column_regression"])
def test_a_write_is_already_in_the_optimisers_final_form(spark, frame, stores, name):
    """No optimiser rule rewrites the plan a write of a scored DataFrame runs: NaN, ±inf and
    the refusal messages are Literals bound when the plan is analysed (as CASTs in the SQL
    text, ConstantFolding rewrote them on every write: one more pass of its main batch), and a
    one-hot category's term w·x is written as a CASE of the products (PushFoldableIntoBranches
    and ConstantFolding made it so on every write), and a regression's range check over one
    column passes a double-typed null (a bare NULL was cast, and the cast pushed into its
    `raise_error` branch: three rules on every write)."""
    df = spark.createDataFrame(frame).repartition(2)  # not a local relation Spark computes
    query = _write_plan(spark, public.predict(df, stores[name], engine="sql"))
    as_java = spark.sparkContext._jvm.scala.collection.JavaConverters.mapAsJavaMap
    rewrites = {rule: s.numEffectiveInvocations()
                for rule, s in as_java(query.tracker().rules()).items()
                if s.numEffectiveInvocations() and ".optimizer." in rule}
    assert rewrites == {}, rewrites


def test_one_hot_terms_merged_into_one_case_add_to_the_same_double():
    """A category's one-hot terms become one CASE only when a + t1 + .. + tk (left to right)
    equals a + (their sum) bit for bit on every category, the sign of a zero included; a run
    with two terms not ±0 on some category (a scaler after the one-hot) stays as it is."""
    from estuary.scale.spark_sql import _case, _merged

    null = "`c` IS NULL"
    rng = random.Random(3)
    values = [0.0, -0.0, 1.5, -2.25, math.inf, -math.inf, math.nan, 1e308]
    for _ in range(300):
        k = rng.randint(2, 4)
        hits = [rng.choice(values) for _ in range(k)]
        fills = [rng.choice([0.0, -0.0]) for _ in range(k)]
        terms = [_case([(null, fills[j]), (f"`c` = 'k{j}'", hits[j]), ("", fills[j])])
                 for j in range(k)]
        [one] = _merged(terms)
        merged = dict(one.branches)
        for a in (0.0, -0.0, 2.5, -math.inf, math.nan):
            for outcome, chosen in [(null, None), ("", None)] + [(f"`c` = 'k{i}'", i)
                                                                  for i in range(k)]:
                total = a
                for j in range(k):
                    total += hits[j] if j == chosen else fills[j]
                assert np.array([total]).tobytes() == np.array([a + merged[outcome]]).tobytes()
    scaled = [_case([(null, 0.5), (f"`c` = 'k{j}'", 1.5), ("", 0.5)]) for j in range(3)]
    assert _merged(scaled) == scaled
