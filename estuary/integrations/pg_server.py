"""The half of estuary's PostgreSQL scoring that runs *inside* the server (PL/Python).

The SQL functions `estuary install` creates are three-line shims that put the deployment's
`site/` on `sys.path`, keep one `Scorer` in PL/Python's per-connection `GD` dict and call it.
Only numpy, onnxruntime and a slim estuary (no River: its package `__init__`s are replaced)
exist there, so this module imports the store reader and the ONNX runtime, nothing else.

A model NAME lives in `<deployment>/models/NAME/`, a store layout (`versions/<n>/`, `latest`)
holding verified copies made by `estuary pg sync`. On every call the scorer stats `latest`
(a few µs); when the pointer changed it opens the new version with estuary's own store reader
(every file's SHA-256 checked against the manifest, never pickle), loads the ONNX artifact
(golden vectors re-run) and swaps it in. A version that fails to load keeps the previous one.

>>> GD["estuary"] = Scorer(plpy, "/srv/estuary-pg"); GD["estuary"].predict_json("churn", '{"x": 1}')
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import EstuaryError, InvalidInputError, WrongTaskError
from ..online.store import LATEST, Store
from ..runtimes import load
from ..scale.outputs import output_columns

MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
NUMERIC_TYPES = {"smallint", "integer", "bigint", "real", "double precision", "numeric",
                 "boolean"}
BAD_VALUE = "22023"  # invalid_parameter_value
NO_COLUMN = "42703"  # undefined_column
NO_MODEL = "58P01"  # undefined_file
NOT_SUPPORTED = "0A000"  # feature_not_supported


@dataclass
class _Loaded:
    latest: str  # the `latest` pointer's path, stat'ed on every call
    stamp: tuple | None
    version: int
    model: Any  # estuary.runtimes.base.LoadedModel
    features: tuple[tuple[str, bool], ...]  # (column, categorical)


def _stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class Scorer:
    """Models of one deployment directory, cached for the life of a connection."""

    def __init__(self, plpy: Any, home: str | Path):
        self.plpy = plpy
        self.home = Path(home)
        self.models: dict[str, _Loaded] = {}

    # ------------------------------------------------------------------- models and versions

    def model(self, name: str) -> _Loaded:
        """The newest verified version of `name`; re-read only when `latest` changed (the hot
        path is one dict lookup and one stat)."""
        current = self.models.get(name)
        if current is not None and _stamp(current.latest) == current.stamp:
            return current
        return self._refresh(name, current)

    def _refresh(self, name: str, current: _Loaded | None) -> _Loaded:
        if not isinstance(name, str) or not MODEL_NAME.match(name):
            self._error(f"estuary: {name!r} is not a model name (letters, digits, _ . -)",
                        BAD_VALUE)
        root = self.home / "models" / name
        latest = str(root / LATEST)
        stamp = _stamp(latest)
        if stamp is None:
            self._error(f"estuary: no model {name!r} in {self.home / 'models'}",
                        NO_MODEL, hint=f"run `estuary pg sync --model {name} ...` (or "
                                       "`estuary pg install`) to copy a published version")
        try:
            version = Store(root).open()
            loaded = load(version.file_for("onnx"))
        except (EstuaryError, OSError, ValueError) as e:
            if current is None:
                self._error(f"estuary: model {name!r} cannot be loaded: {e}", NO_MODEL)
            self.plpy.warning(f"estuary: model {name!r}: the new version cannot be loaded ({e}); "
                              f"still scoring with version {current.version}")
            current.stamp = stamp  # do not retry on every row; the next publish is tried
            return current
        features = tuple((f.name, f.kind == "categorical") for f in loaded.metadata.schema.features)
        self.models[name] = _Loaded(latest, stamp, version.number, loaded, features)
        return self.models[name]

    # ------------------------------------------------------------------- scoring

    def _row(self, loaded: _Loaded, name: str, values: dict, where: str) -> dict:
        """The model's features from `values`; a feature with no column is an error, NULL is a
        missing value (River's absent key)."""
        row = {}
        for column, categorical in loaded.features:
            if column not in values:
                self._error(f"estuary: {where} has no column {column!r}, which model {name!r} "
                            f"needs (features: {', '.join(c for c, _ in loaded.features)})",
                            NO_COLUMN, column=column, hint="pass null to mark a value missing")
            value = values[column]
            if isinstance(value, Decimal) and not categorical:
                value = float(value)
            row[column] = value
        return row

    def _predict(self, loaded: _Loaded, name: str, row: dict) -> dict[str, Any]:
        """What `estuary.load(...)` gives for `row`, from one run of the artifact, under the
        names the task table gives (`estuary.scale.outputs`): `prediction` (class, cluster id,
        value, anomaly score, forecast) and the per-class output (`probabilities`,
        `distances`) as {class: number}, a filter's `is_anomaly` as a boolean."""
        m = loaded.model
        try:
            out = m.run(m.encoder.encode_many([row]))
            columns = output_columns(m.task, out)
        except InvalidInputError as e:
            self._error(f"estuary: model {name!r}, column {e.field!r}: {e}", BAD_VALUE,
                        column=e.field)
        except WrongTaskError as e:
            self._error(f"estuary: model {name!r}: {e}", NOT_SUPPORTED)
        values: dict[str, Any] = {}
        for c in columns:
            v = out[c.source][0]
            if c.kind == "class":
                values[c.name] = m.classes[int(v)]
            elif c.kind == "per_class":
                values[c.name] = {str(k): float(p) for k, p in zip(m.classes, v)}
            else:
                values[c.name] = bool(v) if c.kind == "flag" else float(v)
        return values

    def predict(self, name: str, row: Any) -> dict:
        """{"prediction", the task's other outputs ("probabilities" for classifiers,
        "distances" for clusterers, "is_anomaly" for anomaly filters), "model", "version"} for
        a dict row."""
        if not isinstance(row, dict):
            self._error(f"estuary_predict: row must be a JSON object, not {type(row).__name__}",
                        BAD_VALUE)
        loaded = self.model(name)
        values = self._predict(loaded, name, self._row(loaded, name, row, "row"))
        return {**values, "model": name, "version": loaded.version}

    def predict_json(self, name: str, row_json: str | None) -> str | None:
        if row_json is None:
            return None
        return json.dumps(self.predict(name, json.loads(row_json)), allow_nan=False)

    def score_trigger(self, td: dict) -> str:
        """BEFORE INSERT: fill the prediction (and extras / version) columns of NEW. The extras
        column gets the task's other outputs as JSON: {class: probability} of a classifier,
        {cluster: distance} of a clusterer, {"is_anomaly": ...} of an anomaly filter; else
        null."""
        name, prediction, proba, version = (list(td["args"]) + ["", "", ""])[:4]
        loaded = self.model(name)
        new = td["new"]
        table = f'table "{td["table_schema"]}"."{td["table_name"]}"'
        values = self._predict(loaded, name, self._row(loaded, name, new, table))
        new[prediction] = values.pop("prediction")
        if proba:
            per_class = [v for v in values.values() if isinstance(v, dict)]
            extras = per_class[0] if per_class else values
            new[proba] = json.dumps(extras) if extras else None
        if version:
            new[version] = loaded.version
        return "MODIFY"

    # ------------------------------------------------------------------- checks

    def check(self, name: str) -> str:
        """What the server loaded for `name`, as JSON (install calls it to prove access)."""
        loaded = self.model(name)
        meta = loaded.model.metadata
        return json.dumps({"model": name, "version": loaded.version, "task": meta.task,
                           "features": [c for c, _ in loaded.features],
                           "classes": [str(c) for c in meta.classes or ()],
                           "runtime": str(loaded.model.runtime)})

    def check_table(self, table: str, name: str, columns: dict[str, str],
                    outputs: list[str]) -> None:
        """Before a trigger is added: every feature has a column of a usable type and every
        output column exists. `columns` maps the table's column names to their types."""
        loaded = self.model(name)
        for column, categorical in loaded.features:
            kind = columns.get(column)
            if kind is None:
                self._error(f"estuary: table {table} has no column {column!r}, which model "
                            f"{name!r} needs", NO_COLUMN, column=column)
            if not categorical and kind not in NUMERIC_TYPES:
                self._error(f"estuary: column {column!r} of {table} is {kind}; model {name!r} "
                            "reads it as a number (use double precision, integer, numeric or "
                            "boolean)", "42804", column=column)
        for column in outputs:
            if column and column not in columns:
                self._error(f"estuary: table {table} has no output column {column!r}",
                            NO_COLUMN, column=column)

    def _error(self, message: str, sqlstate: str, column: str | None = None,
               hint: str | None = None):
        kwargs = {"sqlstate": sqlstate}
        if column is not None:
            kwargs["column_name"] = column
        if hint is not None:
            kwargs["hint"] = hint
        self.plpy.error(message, **kwargs)


__all__ = ["MODEL_NAME", "Scorer"]
