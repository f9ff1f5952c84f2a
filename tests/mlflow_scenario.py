"""Run by tests/test_mlflow.py with the MLflow venv's Python (mlflow 3.17.2 cannot live in the dev
venv): publish three versions of a learning model, registering each in MLflow as it is
published (v2 fails parity), then report what the registry holds as JSON on stdout.

Usage: python tests/mlflow_scenario.py STORE_DIR
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

import estuary
from estuary.integrations.mlflow import MlflowRegistry
from estuary.online.freeze import freeze
from estuary.online.publish import publish
from estuary.online.store import Store
from estuary.online.testing import broken_format, logreg, phishing

NAME = "phishing-logreg"


def main(root: Path) -> dict:
    store = Store(root / NAME)
    registry = MlflowRegistry(store)  # default: sqlite:///STORE/mlflow/mlflow.db
    data = phishing()
    model = logreg()
    results = []
    for step, (start, stop) in enumerate(((0, 300), (300, 600), (600, 900))):
        for x, y in data[start:stop]:
            model.learn_one(x, y)
        frozen = freeze(model, [x for x, _ in data[stop:stop + 100]], n_events=stop)
        if step == 1:  # v2: an emitter that gets the weights wrong: parity fails, rejected
            with broken_format() as broken:
                result = publish(frozen, store, formats=("onnx", "ort", broken))
        else:
            result = publish(frozen, store, formats=("onnx", "ort"))
        registered = registry.on_result(result)  # what Publisher(on_result=...) calls
        results.append({"store_version": result.version, "published": result.published,
                        "model_version": registered.model_version,
                        "alias_moved": registered.alias_moved, "run_id": registered.run_id})
    # the CLI: nothing left to register after the hook registered every publish
    cli = subprocess.run([str(Path(sys.executable).with_name("estuary")), "mlflow", "sync",
                          "--store", str(store.root)], capture_output=True, text=True)
    return {"results": results, "cli": [cli.returncode, cli.stdout + cli.stderr], "registry": describe(registry), "pyfunc": pyfunc(registry, store),
            "rows": [x for x, _ in data[1000:1040]], "name": NAME,
            "tracking_uri": registry.tracking_uri}


def describe(registry: MlflowRegistry) -> dict:
    client: MlflowClient = registry.client()
    versions = {}
    for mv in client.search_model_versions(f"name='{registry.name}'"):
        run = client.get_run(mv.run_id)
        artifacts = sorted(a.path for a in client.list_artifacts(mv.run_id, "estuary"))
        aliases = client.get_model_version(registry.name, mv.version).aliases
        versions[mv.version] = {"tags": dict(mv.tags), "aliases": list(aliases),
                                "metrics": run.data.metrics, "params": run.data.params,
                                "artifacts": artifacts}
    champion = client.get_model_version_by_alias(registry.name, registry.alias)
    return {"versions": versions, "champion": str(champion.version)}


def pyfunc(registry: MlflowRegistry, store: Store) -> dict:
    """The champion as pyfunc vs the ONNX artifact of the store's latest version, loaded by
    estuary: both on the same 40 rows, every number compared exactly."""
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(registry.tracking_uri)
    loaded = mlflow.pyfunc.load_model(f"models:/{registry.name}@{registry.alias}")
    rows = [x for x, _ in phishing()[1000:1040]]
    frame = loaded.predict(pd.DataFrame(rows))
    artifact = estuary.load(store.open().file_for("onnx"))
    proba = artifact.predict_proba_many(rows)
    labels = artifact.predict_many(rows)
    signature = loaded.metadata.signature
    first = rows[0].keys().__iter__().__next__()
    short = [{k: v for k, v in r.items() if k != first} for r in rows]  # one column absent
    try:
        loaded.predict(pd.DataFrame([{**rows[0], first: "high"}]))
        wrong_type = "accepted"
    except mlflow.exceptions.MlflowException as e:
        wrong_type = str(e)
    return {"columns": list(frame.columns),
            "signature_inputs": [[c.name, c.type.name, c.required] for c in signature.inputs],
            "signature_outputs": [[c.name, c.type.name] for c in signature.outputs],
            "absent_column_equal": (
                loaded.predict(pd.DataFrame(short))["probabilities[True]"].tolist()
                == artifact.predict_proba_many(short)[:, artifact.classes.index(True)].tolist()),
            "wrong_type": wrong_type, "first_feature": first,
            "labels_equal": frame["label"].tolist() == labels,
            "proba_equal": all(frame[f"probabilities[{c}]"].tolist() == proba[:, j].tolist()
                               for j, c in enumerate(artifact.classes)),
            "finite": all(math.isfinite(v) for v in proba.ravel())}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
