"""Register verified store versions in an MLflow model registry (`pip install estuary-ml[mlflow]`).

Each store version becomes one MLflow run and one version of the registered model:
- run artifacts: the version's files as committed (artifacts, operator configs, manifest.json)
  under `estuary/`, and `estuary/parity.json` (every format's parity report);
- run metrics: the parity figures per format (`parity.<format>.max_abs_diff`, `max_scaled_diff`,
  `label_agreement`, `rows`, `passed`), `parity.passed`, and the learner's numeric metrics;
- the model: a `mlflow.pyfunc` model-from-code (estuary/integrations/mlflow_pyfunc.py) that
  predicts with the version's ONNX artifact, so `mlflow models serve --env-manager local` serves
  it; the model version is tagged with the store version, its status and IR hash;
- the alias (default `champion`) moves to it only when the version was published, which a
  store does only when parity passed in every format. A rejected version is registered (its
  figures say why) and never gets the alias.

The default registry is a sqlite database in the store: `sqlite:///STORE/mlflow/mlflow.db`,
artifacts in `STORE/mlflow/artifacts`. MLflow's tracking URI is process-wide state: `register`
sets it for the duration of the call.

>>> registry = MlflowRegistry(Store("models/churn")); registry.register(3).alias_moved
>>> Publisher(store, on_result=registry.on_result)  # every publish registers its version
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EstuaryError

log = logging.getLogger(__name__)

DEFAULT_ALIAS = "champion"
INSTALL = "pip install estuary-ml[mlflow]"


class MlflowError(EstuaryError, RuntimeError):
    """MLflow is missing, or the registry refused what estuary asked."""


def _mlflow() -> Any:
    try:
        import mlflow
    except ModuleNotFoundError as e:
        raise MlflowError(f"MLflow registration needs mlflow: {INSTALL} ({e})") from e
    return mlflow


@dataclass(frozen=True)
class Registered:
    """One store version as registered: the registered model's name and version, its run."""

    name: str
    model_version: str
    run_id: str
    store_version: int
    published: bool
    alias_moved: bool


class MlflowRegistry:
    """Registers the versions of one store as versions of one registered model `name` (default:
    the store directory's name)."""

    def __init__(self, store: Any, name: str | None = None, tracking_uri: str | None = None,
                 alias: str = DEFAULT_ALIAS, experiment: str | None = None):
        from ..online.store import Store

        self.store = store if isinstance(store, Store) else Store(store)
        self.name = name or self.store.root.resolve().name
        home = self.store.root / "mlflow"
        self.tracking_uri = tracking_uri or f"sqlite:///{(home / 'mlflow.db').resolve()}"
        self.artifact_location = (home / "artifacts").resolve().as_uri()
        self.alias = alias
        self.experiment = experiment or f"estuary/{self.name}"

    @contextmanager
    def _tracking(self) -> Iterator[Any]:
        mlflow = _mlflow()
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        before = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            yield mlflow
        finally:
            mlflow.set_tracking_uri(before)

    def client(self) -> Any:
        """An MlflowClient on this registry."""
        return _mlflow().MlflowClient(tracking_uri=self.tracking_uri,
                                      registry_uri=self.tracking_uri)

    def _experiment_id(self, client: Any) -> str:
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(self.experiment, artifact_location=self.artifact_location)

    def register(self, number: int, rejected: bool | None = None) -> Registered:
        """Register store version `number` (published, or else rejected: `rejected` says where
        to look when both could be meant); its files are checked against the manifest first."""
        from ..online.store import StoreError

        if rejected is None:
            rejected = number not in self.store.version_numbers()
        try:
            version = self.store.open(number, rejected=rejected)
        except StoreError as e:
            raise MlflowError(f"store version {number} cannot be registered: {e}") from e
        with self._tracking() as mlflow:
            client = self.client()
            with mlflow.start_run(experiment_id=self._experiment_id(client),
                                  run_name=f"{self.name} v{number}") as run:
                _log_version(mlflow, version)
                info = _log_pyfunc(mlflow, version, self.name)
            model_version = str(info.registered_model_version)
            manifest = version.manifest
            for key, value in (("estuary.store_version", number),
                               ("estuary.status", manifest.status),
                               ("estuary.ir_hash", manifest.ir_hash)):
                client.set_model_version_tag(self.name, model_version, key, str(value))
            moved = manifest.published
            if moved:  # a store publishes only what passed parity in every format
                client.set_registered_model_alias(self.name, self.alias, model_version)
        log.info("registered store version %d as %s version %s%s", number, self.name,
                 model_version, f" (alias {self.alias})" if moved else "")
        return Registered(self.name, model_version, run.info.run_id, number, manifest.published,
                          moved)

    def registered(self) -> set[int]:
        """The store versions already registered (their model versions' tags say which)."""
        with self._tracking():
            found = self.client().search_model_versions(f"name='{self.name}'")
        return {int(mv.tags["estuary.store_version"]) for mv in found
                if "estuary.store_version" in mv.tags}

    def sync(self) -> list[Registered]:
        """Register every store version (published or rejected) not registered yet, oldest
        first: what `estuary mlflow sync` runs after publishes made without the hook."""
        done = self.registered()
        todo = sorted([(n, False) for n in self.store.version_numbers()]
                      + [(n, True) for n in self.store.version_numbers(rejected=True)])
        return [self.register(n, rejected) for n, rejected in todo if n not in done]

    def on_result(self, result: Any) -> Registered | None:
        """A `Publisher(on_result=...)` hook: register what a publish committed."""
        if result.version is None:  # nothing was committed (the export itself failed)
            return None
        return self.register(result.version, rejected=not result.published)


def _log_version(mlflow: Any, version: Any) -> None:
    """Params, parity metrics and the version's files (plus parity.json) on the active run."""
    m = version.manifest
    mlflow.log_params({"store_version": m.version, "status": m.status, "ir_hash": m.ir_hash,
                       "snapshot_id": m.snapshot_id, "source": m.source, "task": m.task,
                       "n_events": m.n_events, "reason": m.reason[:500],
                       "river_version": m.river_version, "estuary_version": m.estuary_version})
    mlflow.log_metrics(parity_metrics(m))
    mlflow.log_artifacts(str(version.path), artifact_path="estuary")
    reports = {fmt: entry["report"] for fmt, entry in m.to_dict()["formats"].items()
               if entry.get("report") is not None}
    mlflow.log_dict(reports, "estuary/parity.json")


def parity_metrics(manifest: Any) -> dict[str, float]:
    """The manifest's parity figures (and the learner's numeric metrics) as MLflow metrics."""
    out: dict[str, float] = {"parity.passed": float(manifest.published)}
    for fmt, entry in sorted(manifest.formats.items()):
        r = entry.report
        if r is None:  # an export or load error (a golden check failed): no figures
            if entry.error is not None:
                out[f"parity.{fmt}.passed"] = 0.0
            continue
        out[f"parity.{fmt}.passed"] = float(r.passed)
        out[f"parity.{fmt}.max_abs_diff"] = float(r.max_abs_diff)
        out[f"parity.{fmt}.max_scaled_diff"] = float(r.max_scaled_diff)
        out[f"parity.{fmt}.rows"] = float(r.n_rows)
        if r.label_agreement is not None:
            out[f"parity.{fmt}.label_agreement"] = float(r.label_agreement)
    for key, value in sorted(manifest.metrics.items()):
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"learner.{key}"] = float(value)
    return out


def _log_pyfunc(mlflow: Any, version: Any, name: str) -> Any:
    """Log the pyfunc model-from-code over the version's ONNX artifact and register it."""
    from .. import __version__
    from . import mlflow_pyfunc

    try:
        onnx = version.file_for("onnx")
    except EstuaryError as e:
        raise MlflowError(f"store version {version.number} has no ONNX artifact, which the "
                          "MLflow pyfunc model predicts with: publish with the onnx format") from e
    from .. import load
    from .mlflow_signature import signature_of

    return mlflow.pyfunc.log_model(
        name="model", python_model=mlflow_pyfunc.__file__,
        artifacts={mlflow_pyfunc.ARTIFACT: str(onnx)}, signature=signature_of(load(onnx)),
        pip_requirements=[f"estuary-ml[mlflow]=={__version__}"],
        registered_model_name=name)
