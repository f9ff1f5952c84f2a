"""JPMML-Evaluator backend (Java, through JPype): PMML 4.x parsed safely, loaded strictly,
its ModelVerification run on load. The JVM starts once per process, on the first load.

Before Java sees a byte, `defusedxml` parses the file and refuses a DTD, entities, anything
that is not XML or not PMML 4.x; the same bytes then go to JPMML-Evaluator.
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, EstuaryError, GoldenCheckError, InvalidInputError
from ..ir.artifact import METADATA_KEY, ArtifactMetadata
from ..ir.tasks import TASKS
from .base import LoadedModel, RuntimeInfo, parse_metadata, read_artifact

PMML_NAMESPACE_PREFIX = "http://www.dmg.org/PMML-4_"
JAVA_HINT = ("JPMML-Evaluator needs a Java runtime (17 or later): install one, e.g. "
             "`apt-get install -y openjdk-17-jre-headless`, or set JAVA_HOME")
PIP_HINT = "the PMML runtime needs its extra: pip install 'estuary-ml[pmml]'"

_lock = threading.Lock()
_backend = None
_info: RuntimeInfo | None = None


def java_backend():
    """The process-wide JPype backend; starts the JVM on the first call (about 1 s)."""
    global _backend, _info
    with _lock:
        if _backend is None:
            try:
                import jpype
                from jpmml_evaluator.jpype import JPypeBackend
            except ImportError as e:
                raise EstuaryError(f"{PIP_HINT} ({e})") from e
            try:
                _backend = JPypeBackend()
            except jpype.JVMNotFoundException as e:
                raise EstuaryError(f"{JAVA_HINT} ({e})") from e
            except Exception as e:  # JPype reports a broken JVM with its own errors
                raise EstuaryError(f"cannot start the JVM: {e}. {JAVA_HINT}") from e
            _info = RuntimeInfo("jpmml-evaluator", _versions())
        return _backend


def _versions() -> str:
    """The Python package's version and the bundled Java library's (from its jar name)."""
    import jpmml_evaluator

    python_version = metadata.version("jpmml_evaluator")
    jars = Path(jpmml_evaluator.__file__).parent.glob("dependencies/pmml-evaluator-[0-9]*.jar")
    java = sorted(j.name[len("pmml-evaluator-"):-len(".jar")] for j in jars)
    return f"{python_version} (pmml-evaluator {java[0]})" if java else python_version


def read_metadata(data: bytes, path: Path) -> ArtifactMetadata:
    """Parse with defusedxml (no DTD, no entities), check it is PMML 4.x, read the metadata."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise ArtifactError(f"{path}: refused, the file declares a DTD or entities ({e})") from e
    except ParseError as e:
        raise ArtifactError(f"{path} is not well-formed XML ({e}): it may be truncated") from e
    namespace, _, tag = root.tag.rpartition("}")
    version = root.get("version", "")
    if tag != "PMML" or not namespace.startswith("{" + PMML_NAMESPACE_PREFIX) \
            or not version.startswith("4."):
        raise ArtifactError(f"{path} is not a PMML 4.x document (root {root.tag!r}, version "
                            f"{version!r}): re-export it with `estuary export`")
    ns = namespace + "}"
    extension = root.find(f"{ns}Header/{ns}Extension[@name='{METADATA_KEY}']")
    if extension is None or extension.get("value") is None:
        raise ArtifactError(f"{path} has no estuary metadata: export it with `estuary export`")
    return parse_metadata(extension.get("value"), path)


class JpmmlBackend:
    """One strict JPMML-Evaluator per artifact; `run` evaluates a whole matrix in one call."""

    def __init__(self, path: Path):
        data = read_artifact(path)
        self.metadata = read_metadata(data, Path(path))
        backend = java_backend()
        self.info = _info
        from jpmml_evaluator import JavaError, LoadingModelEvaluatorBuilder

        try:
            builder = LoadingModelEvaluatorBuilder(backend, lax=False).loadBytes(data)
            self.evaluator = builder.build()
        except Exception as e:  # JAXB / model errors arrive as Java exceptions
            raise ArtifactError(f"{path} does not load in JPMML-Evaluator ({str(e)[:300]}): "
                                "it is corrupt or not an estuary export") from e
        try:
            self.evaluator.verify()
        except JavaError as e:
            if "do not match" not in str(e.message):  # JPMML resolves fields lazily: a bad
                raise ArtifactError(  # reference only shows when the first record runs
                    f"{path} does not evaluate in JPMML-Evaluator ({str(e)[:300]}): it is "
                    "corrupt or not an estuary export") from e
            raise GoldenCheckError(
                f"{path}: the PMML ModelVerification (golden vectors) fails in {self.info} "
                f"({str(e)[:300]}); the artifact is corrupt: do not serve it, re-export it") from e
        except Exception as e:  # jpmml_evaluator's Python side trips on odd documents too
            raise ArtifactError(f"{path} does not evaluate in JPMML-Evaluator "
                                f"({type(e).__name__}: {str(e)[:300]}): it is corrupt or not "
                                "an estuary export") from e
        self.columns = list(self.metadata.schema.columns)
        self.column_feature = {c: f.name for f in self.metadata.schema.features
                               for c in f.columns}
        self.is_classifier = self.metadata.task == "classification"
        self.is_cluster = self.metadata.task == "cluster"
        try:
            outputs = [str(f.getName()) for f in self.evaluator.getOutputFields()]
        except Exception as e:
            raise ArtifactError(f"{path}: JPMML-Evaluator cannot list its output fields "
                                f"({type(e).__name__}: {str(e)[:200]}): re-export it") from e
        self._check_outputs(outputs, path)

    def _check_outputs(self, outputs: list[str], path: Path) -> None:
        if not outputs:
            raise ArtifactError(f"{path}: the PMML model declares no output fields: re-export it")
        spec = TASKS[self.metadata.task]
        if spec.per_target:  # label.<t>, probability.<t>(False|True) / value.<t> per target
            self.target_fields = _target_fields(spec, self.metadata.classes, outputs, path)
        elif self.is_cluster:  # cluster (the index), then a distance per centre
            self.label_field, self.probability_fields = outputs[0], outputs[1:]
            if len(self.probability_fields) != len(self.metadata.classes):
                raise ArtifactError(f"{path}: {len(self.probability_fields)} distance outputs "
                                    f"for {len(self.metadata.classes)} centres")
        elif self.is_classifier:
            self.label_field, self.probability_fields = outputs[0], outputs[1:]
            # a class may come back as Python's text or, a boolean, as PMML's true/false
            self.label_index = {text: i for i, c in enumerate(self.metadata.classes)
                                for text in (str(c), pmml_text(c))}
            if len(self.probability_fields) != len(self.metadata.classes):
                raise ArtifactError(f"{path}: {len(self.probability_fields)} probability outputs "
                                    f"for {len(self.metadata.classes)} classes")
        else:
            self.value_field = outputs[0]
            optional = TASKS[self.metadata.task].optional  # e.g. a filter's is_anomaly
            self.extra_fields = {f.split("~")[0]: f for f in outputs[1:]
                                 if f.split("~")[0] in optional}

    def run(self, X: np.ndarray) -> dict[str, np.ndarray]:
        from jpmml_evaluator import PythonEvaluatorUtil

        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        if n == 0 and TASKS[self.metadata.task].per_target:
            return {name: np.empty((0, len(fields)) if what == "probabilities" else 0,
                                   dtype=np.int64 if what == "label" else np.float64)
                    for name, (what, fields) in self.target_fields.items()}
        if n == 0:
            empty = np.empty((0, len(self.metadata.classes)))
            return ({"probabilities": empty, "label": np.empty(0, np.int64)}
                    if self.is_classifier else {"distances": empty, "cluster": np.empty(0)}
                    if self.is_cluster else {TASKS[self.metadata.task].output: np.empty(0),
                                                **{k: np.empty(0) for k in self.extra_fields}})
        # Column lists straight to Java's batch entry point: NaN → None (PMML missing).
        data = [[None if v != v else v for v in X[:, j].tolist()] for j in range(X.shape[1])]
        try:
            result = PythonEvaluatorUtil.evaluateAll(
                self.evaluator.backend, self.evaluator.javaEvaluator,
                {"columns": self.columns, "data": data}, None, -1)  # -1: Java picks threads
        except Exception as e:
            raise EstuaryError(f"JPMML-Evaluator failed on a batch of {n} rows: {e}") from e
        failed = [(i, e) for i, e in enumerate(result.get("errors") or []) if e is not None]
        if failed:  # no silent NaN: say which row and why
            i, e = failed[0]
            self._refuse_huge_input(X[i], f"row {i} of {n}: {e}")
            raise EstuaryError(f"JPMML-Evaluator refused {len(failed)} of {n} rows; row {i}: {e}")
        columns = {name: k for k, name in enumerate(result["columns"])}

        def column(name: str) -> list:
            return result["data"][columns[name]]

        if TASKS[self.metadata.task].per_target:
            return {name: (np.array([int(v) for v in column(fields[0])], dtype=np.int64)
                           if what == "label" else np.stack(
                               [_floats(column(f), n) for f in fields], axis=1).reshape(n, -1)
                           if what == "probabilities" else _floats(column(fields[0]), n))
                    for name, (what, fields) in self.target_fields.items()}
        if self.is_cluster:
            return {"distances": np.stack([_floats(column(f), n) for f in self.probability_fields],
                                          axis=1).reshape(n, -1),
                    "cluster": _floats(column(self.label_field), n)}
        if not self.is_classifier:
            out = {TASKS[self.metadata.task].output: _floats(column(self.value_field), n)}
            out.update({k: _floats(column(f), n) for k, f in self.extra_fields.items()})
            return out
        probabilities = np.stack([_floats(column(f), n) for f in self.probability_fields], axis=1)
        labels = [self.label_index.get(str(v)) for v in column(self.label_field)]
        if None in labels:
            unknown = column(self.label_field)[labels.index(None)]
            raise ArtifactError(f"JPMML-Evaluator predicted the class {unknown!r}, which is not "
                                f"one of {list(self.metadata.classes)}: the artifact is corrupt, "
                                "re-export it")
        labels = np.array(labels, dtype=np.int64)
        return {"probabilities": probabilities, "label": labels}


    def _refuse_huge_input(self, row: np.ndarray, detail: str) -> None:
        """A row JPMML refuses because a value overflows inside the model (it refuses inf and
        NaN results where onnxruntime returns NaN): `InvalidInputError` naming the feature."""
        magnitude = np.where(np.isnan(row), 0.0, np.abs(row))
        j = int(np.argmax(magnitude)) if magnitude.size else 0
        if magnitude.size and magnitude[j] > HUGE:
            raise InvalidInputError(self.column_feature[self.columns[j]],
                                    f"{float(row[j])!r} overflows float64 inside the PMML model "
                                    f"(JPMML-Evaluator, {detail[:200]}); clip the value or "
                                    "leave the key out")


HUGE = 1e100  # beyond this an input may overflow a product inside a model


def pmml_text(value: object) -> str:
    """A value as PMML writes it: XML Schema's `true`/`false` for a boolean (what sklearn2pmml
    writes for a boolean target), else Python's text."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def _floats(values: list, n: int) -> np.ndarray:
    out = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if out.shape != (n,):
        raise EstuaryError(f"JPMML-Evaluator returned {out.shape[0]} values for {n} rows")
    return out


def load_pmml(path: Path) -> LoadedModel:
    """`runtimes.LOADERS` entry for `.pmml`: River's predict API over JPMML-Evaluator."""
    backend = JpmmlBackend(path)
    return LoadedModel(backend, backend.metadata, path, "pmml")


def _target_fields(spec, targets: tuple, outputs: list[str],
                   path: Path) -> dict[str, tuple[str, list[str]]]:
    """Each per-target output (`Task.target_outputs`) → (what, the PMML output fields that make
    it), read from the fields the writer names `label.<t>`, `probability.<t>(False|True)`,
    `value.<t>` (a `~k` suffix keeps a name unique)."""
    by_name = {f.split("~")[0]: f for f in outputs}
    wanted = {}
    for name, what, _ in spec.target_outputs(targets):
        t = name.split(".", 1)[1]
        names = ([f"probability.{t}(False)", f"probability.{t}(True)"] if what == "probabilities"
                 else [name])
        if not all(n in by_name for n in names):
            raise ArtifactError(f"{path}: the PMML model has no output fields {names}: "
                                "re-export it")
        wanted[name] = (what, [by_name[n] for n in names])
    return wanted
