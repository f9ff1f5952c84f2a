"""In-database scoring on a real PostgreSQL: a throwaway cluster (initdb in a temporary
directory, 127.0.0.1, a free port; as root the server runs as the `postgres` user), the PL/Python
functions `estuary pg install` creates, a BEFORE INSERT trigger, 10,000 rows compared with
`estuary.load(...)` exactly, a new version picked up without a restart, bad rows rejected.

A missing PostgreSQL or PL/Python fails these tests with the install command (no skip).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import stat
import tempfile
from pathlib import Path

import psycopg
import pytest
from river import linear_model, optim, preprocessing
from typer.testing import CliRunner

import estuary
from estuary.cli import app
from estuary.integrations import postgres as pg
from estuary.integrations.pgcluster import temporary_cluster
from estuary.online import Store, freeze, publish
from estuary.online.testing import phishing

MODEL = "phishing"
ROWS = phishing()
FEATURES = sorted(ROWS[0][0])


def _cli(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def cluster():
    with temporary_cluster() as c:
        yield c


def _model(n: int, lr: float):
    m = preprocessing.StandardScaler() | linear_model.LogisticRegression(optimizer=optim.SGD(lr))
    for x, y in ROWS[:n]:
        m.learn_one(x, y)
    return m


def _publish(store: Path, model) -> int:
    result = publish(freeze(model, [x for x, _ in ROWS[:40]]), Store(store), formats=["onnx"])
    assert result.published, result.errors
    return result.version


@pytest.fixture(scope="module")
def deployment(cluster, tmp_path_factory):
    """A private store (0700 directories, 0600 files: the server cannot read it) with version 1,
    installed into a deployment directory the server reads through its group."""
    store = tmp_path_factory.mktemp("private") / MODEL
    _publish(store, _model(400, 0.05))
    for p in [store, *store.rglob("*")]:
        p.chmod(0o700 if p.is_dir() else 0o600)
    home = Path(tempfile.mkdtemp(prefix="estuary-pg-home-"))
    try:
        installed = pg.install(cluster.dsn, store, home, MODEL)
        yield store, home, installed
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _create_table(conn, name: str, dsn: str | None = None) -> None:
    """A table with the model's features, scored by the trigger (added through the CLI when
    `dsn` is given, else through SQL)."""
    cols = ", ".join(f"{f} double precision" for f in FEATURES)
    conn.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, {cols}, prediction boolean, "
                 "proba jsonb, version integer)")
    if dsn is None:
        conn.execute("SELECT estuary_add_trigger(%s, %s, 'prediction', 'proba', 'version')",
                     [name, MODEL])
        return
    assert f"trigger estuary_{MODEL} on {name}" in _cli(
        "pg", "trigger", "--dsn", dsn, "--table", name, "--model", MODEL,
        "--proba-column", "proba", "--version-column", "version")


def _rows(n: int, seed: int) -> list[dict]:
    """Phishing rows with noise; about 5 % of values NULL (River's missing key)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        x = ROWS[i % len(ROWS)][0]
        out.append({f: None if rnd.random() < 0.05 else float(x[f]) * (1 + rnd.gauss(0, 0.3))
                    for f in FEATURES})
    return out


def _insert(conn, table: str, rows: list[dict]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(FEATURES)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row([r[f] for f in FEATURES])


def _stored(conn, table: str, first_id: int = 0) -> list[tuple]:
    return conn.execute(f"SELECT {', '.join(FEATURES)}, prediction, proba, version FROM {table} "
                        "WHERE id > %s ORDER BY id", [first_id]).fetchall()


def _check_equal(stored: list[tuple], loaded, version: int) -> None:
    n = len(FEATURES)
    for rec in stored:
        x = {f: v for f, v in zip(FEATURES, rec[:n]) if v is not None}
        prediction, proba, got_version = rec[n:]
        assert got_version == version
        assert prediction == loaded.predict_one(x)
        assert proba == {str(c): p for c, p in loaded.predict_proba_one(x).items()}


def test_install_leaves_the_private_store_alone(deployment, cluster):
    store, home, installed = deployment
    assert installed.version == 1 and installed.checked["version"] == 1
    assert installed.checked["features"] == FEATURES
    assert installed.checked["runtime"].startswith("onnxruntime ")
    for p in store.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600)
    copied = home / "models" / MODEL / "versions" / "1"
    assert {p.stat().st_gid for p in copied.rglob("*")} == {cluster.gid}
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o007 == 0 for p in copied.rglob("*"))


def test_ten_thousand_inserts_score_exactly_like_estuary_load(deployment, cluster):
    store, _, _ = deployment
    loaded = estuary.load(Store(store).open(1).file_for("onnx"))
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        _create_table(conn, "events", cluster.dsn)
        _insert(conn, "events", _rows(10_000, seed=1))
        stored = _stored(conn, "events")
    assert len(stored) == 10_000
    assert sum(v is None for r in stored for v in r[:len(FEATURES)]) > 1000  # missing values
    assert {r[len(FEATURES)] for r in stored} == {True, False}
    _check_equal(stored, loaded, 1)


def test_a_new_version_is_scored_without_restart(deployment, cluster):
    store, home, _ = deployment
    rows = _rows(300, seed=2)
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        _create_table(conn, "later")
        start = conn.execute("SELECT pg_postmaster_start_time(), pg_backend_pid()").fetchone()
        _insert(conn, "later", rows)
        before = _stored(conn, "later")
        assert _publish(store, _model(1250, 0.5)) == 2
        assert "version 2 is what the database scores with now" in _cli(
            "pg", "sync", "--store", store, "--dir", home, "--model", MODEL)
        _insert(conn, "later", rows)  # same connection: its cached session must notice
        after = _stored(conn, "later", first_id=len(rows))
        assert conn.execute("SELECT pg_postmaster_start_time(), pg_backend_pid()"
                            ).fetchone() == start
    _check_equal(before, estuary.load(Store(store).open(1).file_for("onnx")), 1)
    _check_equal(after, estuary.load(Store(store).open(2).file_for("onnx")), 2)
    assert [r[-2] for r in before] != [r[-2] for r in after]  # probabilities changed


def test_the_cli_installs_into_another_database(deployment, cluster, tmp_path):
    store, _, _ = deployment
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        conn.execute("CREATE DATABASE other")
    dsn = cluster.dsn.rsplit("/", 1)[0] + "/other"
    home = Path(tempfile.mkdtemp(prefix="estuary-pg-cli-"))
    try:
        output = _cli("pg", "install", "--dsn", dsn, "--dir", home, "--store", store,
                      "--model", "m2")
        assert f"model 'm2': version {Store(store).latest_number()}, the server loads it" in output
        with psycopg.connect(dsn, autocommit=True) as conn:
            got = conn.execute("SELECT estuary_predict('m2', %s::jsonb)",
                               [json.dumps(ROWS[3][0])]).fetchone()[0]
        loaded = estuary.load(Store(store).open().file_for("onnx"))
        assert got["prediction"] == loaded.predict_one(ROWS[3][0])
    finally:
        shutil.rmtree(home, ignore_errors=True)

    private = tmp_path / "private"  # a deployment directory the server cannot enter
    private.mkdir(mode=0o700)
    result = CliRunner().invoke(app, ["pg", "install", "--dsn", dsn, "--dir",
                                      str(private / "pg"), "--store", str(store)])
    assert result.exit_code == 2
    blocked = next(p for p in reversed(private.parents) if not p.stat().st_mode & 0o001)
    assert f"the database server (uid {cluster.uid}) cannot enter {blocked}" in \
        " ".join(result.output.split())
    assert not (private / "pg" / "site").exists()  # refused before pip ran


def _error(conn, sql: str, params=()) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql, params)
    return info.value


def test_a_bad_row_is_rejected_naming_the_column(deployment, cluster):
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        _create_table(conn, "strict")
        good = {f: 0.5 for f in FEATURES}
        cols = ", ".join(FEATURES)
        marks = ", ".join(["%s"] * len(FEATURES))
        values = [good[f] for f in FEATURES]
        bad = [math.nan if f == "https" else good[f] for f in FEATURES]
        e = _error(conn, f"INSERT INTO strict ({cols}) VALUES ({marks}), ({marks}), ({marks})",
                   values + values + bad)
        assert e.diag.column_name == "https" and "'https'" in e.diag.message_primary
        assert "NaN" in e.diag.message_primary
        assert conn.execute("SELECT count(*) FROM strict").fetchone()[0] == 0  # nothing written

        conn.execute("ALTER TABLE strict DROP COLUMN long_url")
        e = _error(conn, f"INSERT INTO strict ({', '.join(f for f in FEATURES if f != 'long_url')})"
                   f" VALUES ({', '.join(['0.5'] * (len(FEATURES) - 1))})")
        assert e.diag.column_name == "long_url"
        assert "has no column 'long_url'" in e.diag.message_primary
        assert conn.execute("SELECT count(*) FROM strict").fetchone()[0] == 0


def test_add_trigger_refuses_a_table_that_cannot_feed_the_model(deployment, cluster):
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        cols = ", ".join(f"{f} {'text' if f == 'ip_in_url' else 'float8'}" for f in FEATURES
                         if f != "is_popular")
        conn.execute(f"CREATE TABLE wrong ({cols}, prediction boolean)")
        e = _error(conn, "SELECT estuary_add_trigger('wrong', %s)", [MODEL])
        assert e.diag.column_name == "ip_in_url" and "is text" in e.diag.message_primary
        conn.execute("ALTER TABLE wrong DROP COLUMN ip_in_url")
        conn.execute("ALTER TABLE wrong ADD COLUMN ip_in_url float8")
        e = _error(conn, "SELECT estuary_add_trigger('wrong', %s)", [MODEL])
        assert e.diag.column_name == "is_popular"
        assert isinstance(e, psycopg.errors.UndefinedColumn)


def test_estuary_predict_on_jsonb(deployment, cluster):
    store, _, _ = deployment
    x = dict(ROWS[7][0])
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        got = conn.execute("SELECT estuary_predict(%s, %s::jsonb)",
                           [MODEL, json.dumps({**x, "unknown": 3})]).fetchone()[0]
        loaded = estuary.load(Store(store).open().file_for("onnx"))
        assert got["prediction"] == loaded.predict_one(x)
        assert got["probabilities"] == {str(c): p for c, p in loaded.predict_proba_one(x).items()}
        assert got["version"] == Store(store).latest_number()
        e = _error(conn, "SELECT estuary_predict(%s, %s::jsonb)",
                   [MODEL, json.dumps({**x, "https": "yes"})])
        assert e.diag.column_name == "https" and "expected a number" in e.diag.message_primary
        del x["age_of_domain"]
        e = _error(conn, "SELECT estuary_predict(%s, %s::jsonb)", [MODEL, json.dumps(x)])
        assert e.diag.column_name == "age_of_domain"
        e = _error(conn, "SELECT estuary_predict('nope', '{}'::jsonb)")
        assert "no model 'nope'" in e.diag.message_primary


def test_a_corrupt_copy_is_refused_and_the_previous_version_kept(deployment, cluster):
    store, home, _ = deployment
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        current = conn.execute("SELECT estuary_check(%s)", [MODEL]).fetchone()[0]["version"]
        n = _publish(store, _model(600, 0.1))
        assert pg.sync(store, home, MODEL) == n
        onnx = next((home / "models" / MODEL / "versions" / str(n)).glob("*.onnx"))
        onnx.write_bytes(onnx.read_bytes()[:-1] + b"\0")  # after sync: the server must notice
        warnings = []
        conn.add_notice_handler(lambda d: warnings.append(d.message_primary))
        assert conn.execute("SELECT estuary_check(%s)", [MODEL]).fetchone()[0]["version"] == current
        assert any("does not match its SHA-256" in w for w in warnings), warnings
        assert pg.sync(store, home, MODEL) == n  # the damaged copy is replaced
        assert conn.execute("SELECT estuary_check(%s)", [MODEL]).fetchone()[0]["version"] == n


def test_a_regressor_with_a_categorical_text_column(deployment, cluster, tmp_path):
    from river import compose, datasets

    _, home, _ = deployment
    model = (compose.Select("time") | preprocessing.StandardScaler()) + (
        compose.Select("diet") | preprocessing.OneHotEncoder())
    model = model | linear_model.LinearRegression()
    rows = [({"time": x["time"], "diet": str(x["diet"])}, y) for x, y in datasets.ChickWeights()]
    for x, y in rows:
        model.learn_one(x, y)
    store = tmp_path / "chick"
    publish(freeze(model, [x for x, _ in rows[:40]]), Store(store), formats=["onnx"])
    assert pg.sync(store, home, "chick") == 1
    loaded = estuary.load(Store(store).open().file_for("onnx"))
    data = [(x["time"], x["diet"]) for x, _ in rows[:200]] + [(3, "9"), (None, "2"), (5, None)]
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE weights (id serial, time integer, diet text, "
                     "prediction double precision)")
        conn.execute("SELECT estuary_add_trigger('weights', 'chick')")
        with conn.cursor() as cur, cur.copy("COPY weights (time, diet) FROM STDIN") as cp:
            for r in data:
                cp.write_row(r)
        stored = conn.execute("SELECT time, diet, prediction FROM weights ORDER BY id").fetchall()
    assert [(t, d) for t, d, _ in stored] == data
    for t, d, prediction in stored:
        x = {k: v for k, v in (("time", t), ("diet", d)) if v is not None}
        assert prediction == loaded.predict_one(x)


def _sync_case(case_id: str, home: Path, tmp_path: Path, name: str):
    """Publish a catalogue case to a store, copy it into the deployment: (loaded, rows)."""
    from conftest import learned

    model, rows = learned(case_id)
    store = tmp_path / name
    assert publish(freeze(model, rows[:40]), Store(store), formats=["onnx"]).published
    assert pg.sync(store, home, name) == 1
    return estuary.load(Store(store).open().file_for("onnx")), rows


def test_an_anomaly_filter_scores_by_the_task_table(deployment, cluster, tmp_path):
    """An anomaly filter's artifact (outputs `score`, `is_anomaly`) is scored under the task
    table's names: `prediction` = River's score_one, `is_anomaly`; in a trigger the extras
    column gets {"is_anomaly": ...}."""
    _, home, _ = deployment
    loaded, rows = _sync_case("minmax|quantile-filter(hst)", home, tmp_path, "outliers")
    features = sorted({k for r in rows for k in r})
    rows = rows[:300]
    flags = loaded.run(loaded.encoder.encode_many(rows))["is_anomaly"].astype(bool).tolist()
    assert 0 < sum(flags) < len(flags)
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        got = conn.execute("SELECT estuary_predict('outliers', %s::jsonb)",
                           [json.dumps(rows[0])]).fetchone()[0]
        assert got["prediction"] == loaded.score_one(rows[0])
        assert got["is_anomaly"] is flags[0] and "probabilities" not in got
        cols = ", ".join(f'"{f}" double precision' for f in features)
        conn.execute(f"CREATE TABLE odd (id serial, {cols}, prediction double precision, "
                     "extras jsonb)")
        conn.execute("SELECT estuary_add_trigger('odd', 'outliers', 'prediction', 'extras')")
        quoted = ", ".join(f'"{f}"' for f in features)
        with conn.cursor() as cur, cur.copy(f"COPY odd ({quoted}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row([r.get(f) for f in features])
        stored = conn.execute("SELECT prediction, extras FROM odd ORDER BY id").fetchall()
    assert [p for p, _ in stored] == loaded.score_many(rows).tolist()
    assert [e for _, e in stored] == [{"is_anomaly": f} for f in flags]


def test_a_per_target_model_is_refused_naming_what_to_use(deployment, cluster, tmp_path):
    _, home, _ = deployment
    _, rows = _sync_case("regressor-chain(scaler|linreg)", home, tmp_path, "chain")
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        e = _error(conn, "SELECT estuary_predict('chain', %s::jsonb)", [json.dumps(rows[0])])
    assert e.sqlstate == "0A000"
    assert "multitarget" in e.diag.message_primary
    assert "predict_many" in e.diag.message_primary


def test_a_missing_postgresql_names_the_install_command(monkeypatch, tmp_path):
    from estuary.integrations import pgcluster

    monkeypatch.setattr(pgcluster, "DEBIAN_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ESTUARY_PG_BINDIR", raising=False)
    with pytest.raises(pg.PostgresError) as info:
        pgcluster.find_bindir()
    assert str(info.value) == ("PostgreSQL's server (initdb, postgres) is not installed: "
                               "apt-get update && apt-get install -y postgresql-15 "
                               "postgresql-plpython3-15")
    (tmp_path / "15" / "bin").mkdir(parents=True)
    for exe in ("initdb", "postgres"):
        (tmp_path / "15" / "bin" / exe).touch()
    assert pgcluster.find_bindir() == tmp_path / "15" / "bin"


def test_a_server_without_pl_python_names_the_install_command(cluster, monkeypatch):
    monkeypatch.setattr(pg, "SERVER_INFO_SQL", pg.SERVER_INFO_SQL.replace("plpython3u",
                                                                          "plpython9u"))
    with psycopg.connect(cluster.dsn, autocommit=True) as conn, \
            pytest.raises(pg.PostgresError) as info:
        pg.server_info(conn)
    assert str(info.value) == ('PL/Python is not installed on the server (extension "plpython9u" '
                               'is not available): apt-get update && apt-get install -y '
                               'postgresql-15 postgresql-plpython3-15')


def test_watch_keeps_the_database_on_the_newest_published_version(deployment, cluster):
    import threading
    import time

    store, home, _ = deployment
    synced: list[int] = []
    stop = threading.Event()
    thread = threading.Thread(target=pg.watch, args=(store, home, MODEL),
                              kwargs={"interval": 0.05, "stop": stop, "on_sync": synced.append})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not synced and time.monotonic() < deadline:
            time.sleep(0.02)
        assert synced == [Store(store).latest_number()]  # the current one, once
        n = _publish(store, _model(500, 0.2))
        while synced[-1] != n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert synced[-1] == n
        with psycopg.connect(cluster.dsn, autocommit=True) as conn:
            assert conn.execute("SELECT estuary_check(%s)", [MODEL]).fetchone()[0]["version"] == n
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
