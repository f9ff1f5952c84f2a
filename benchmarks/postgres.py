"""Scored inserts/s (estuary's BEFORE INSERT trigger, PL/Python + onnxruntime) vs plain
inserts/s into the same table without the trigger, on a throwaway local cluster.

    python benchmarks/postgres.py [--rows 20000] [--out benchmarks/results_postgres.json]

Both tables get the same rows the same two ways: COPY (one statement) and a multi-row INSERT
of 1,000 rows per statement (autocommit, so each statement is one transaction). The cluster
runs with fsync=off (a throwaway): the figures compare the trigger's cost with the insert
itself, not with a disk. The first scored statement of a connection also imports numpy and
onnxruntime and loads the model (reported apart as `cold_first_row_s`).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import onnxruntime
import psycopg
from river import linear_model, preprocessing

from estuary.integrations import postgres as pg
from estuary.integrations.pgcluster import temporary_cluster
from estuary.online import Store, freeze, publish
from estuary.online.testing import phishing

ROWS = phishing()
FEATURES = sorted(ROWS[0][0])
BATCH = 1000


def _rows(n: int) -> list[list[float]]:
    rnd = random.Random(0)
    return [[float(ROWS[i % len(ROWS)][0][f]) * (1 + rnd.gauss(0, 0.3)) for f in FEATURES]
            for i in range(n)]


def _copy(conn, table: str, rows: list[list[float]]) -> float:
    start = time.perf_counter()
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(FEATURES)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)
    return len(rows) / (time.perf_counter() - start)


def _insert(conn, table: str, rows: list[list[float]]) -> float:
    one = "(" + ", ".join(["%s"] * len(FEATURES)) + ")"
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        chunk = rows[i:i + BATCH]
        conn.execute(f"INSERT INTO {table} ({', '.join(FEATURES)}) VALUES "
                     + ", ".join([one] * len(chunk)), [v for r in chunk for v in r])
    return len(rows) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_postgres.json"))
    args = ap.parse_args()
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for x, y in ROWS:
        model.learn_one(x, y)
    rows = _rows(args.rows)
    work = Path(tempfile.mkdtemp(prefix="estuary-pg-bench-"))  # private: the store
    home = Path(tempfile.mkdtemp(prefix="estuary-pg-home-"))  # what the server reads
    try:
        publish(freeze(model, [x for x, _ in ROWS[:40]]), Store(work / "store"), formats=["onnx"])
        with temporary_cluster() as cluster:
            pg.install(cluster.dsn, work / "store", home, "phishing")
            with psycopg.connect(cluster.dsn, autocommit=True) as conn:
                cols = ", ".join(f"{f} double precision" for f in FEATURES)
                for t in ("plain", "scored"):
                    conn.execute(f"CREATE TABLE {t} ({cols}, prediction boolean, proba jsonb)")
                conn.execute("SELECT estuary_add_trigger('scored', 'phishing', 'prediction', "
                             "'proba')")
                with psycopg.connect(cluster.dsn, autocommit=True) as fresh:
                    start = time.perf_counter()
                    _insert(fresh, "scored", rows[:1])  # imports + model load, per connection
                    cold = time.perf_counter() - start
                result = {name: {"plain": fn(conn, "plain", rows), "scored": fn(conn, "scored", rows)}
                          for name, fn in (("copy", _copy), ("insert_1000_per_statement", _insert))}
                server = conn.execute("SHOW server_version").fetchone()[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    for r in result.values():
        r.update(plain=round(r["plain"]), scored=round(r["scored"]),
                 ratio=round(r["scored"] / r["plain"], 3))
    out = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": platform.machine(),
           "python": platform.python_version(), "postgresql": server,
           "onnxruntime": onnxruntime.__version__, "rows": args.rows,
           "model": "StandardScaler | LogisticRegression (Phishing, 9 features)",
           "cold_first_row_s": round(cold, 3), "rows_per_s": result}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
