"""The census: every public River predictor and transformer, built, trained, exported to every
format and verified in the real runtimes.

    python -m estuary.support --census            # print the table and the totals
    python -m estuary.support --census --write    # also rewrite benchmarks/census.md, its JSON
                                                  # and the README's census totals

Each estimator is built with River's own `_unit_test_params()` (its first set) or its defaults,
or, when it needs arguments River gives no defaults for, from `SPECS` below. A predictor is
trained on its own; a transformer in front of a supported model (`transformer | model`). Both
learn the first `N_LEARN` events of a bundled dataset (never one that downloads), are exported
with `sample = N_SAMPLE` rows and verified on `N_VERIFY` rows plus the adversarial probes.

It takes minutes (JPMML, Node and the Core ML spec evaluator for every exportable model): the
test suite does not run it, it checks the committed output against the registry instead
(tests/test_census.py).
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import numbers
import pkgutil
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .converters.river_to_ir.base import PHISHING_KEYS, TRUMP_KEYS

N_LEARN, N_SAMPLE, N_VERIFY = 500, 50, 200
ROOT = Path(__file__).resolve().parent.parent
OUTPUT_JSON = ROOT / "benchmarks" / "results_census.json"
OUTPUT_MD = ROOT / "benchmarks" / "census.md"

# Public River classes the census does not count, and why (they are not point predictors here).
NOT_COUNTED = {
    "active.EntropySampler": "an active-learning wrapper: predict_one returns (label, ask for a "
                             "label), not a prediction",
    "misc.ZstdClassifier": "needs Python 3.14 (compression.zstd); estuary runs on 3.11",
}


@dataclass(frozen=True)
class Spec:
    """How the census builds one River class: a factory of the model it exports (the class
    inside a pipeline for transformers) and the bundled dataset it learns."""

    dataset: str
    build: Callable[[], Any]


@dataclass
class Row:
    module: str
    name: str
    kind: str  # "predictor" | "transformer" | a task's kind (TASK_KINDS)
    cells: dict[str, str] = field(default_factory=dict)  # format → "" (exported) or the reason

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


# River behaviour that the IR cannot express today, per class without an extractor (one line).
WHY: dict[str, str] = {
    "compose.FuncTransformer": "it applies an arbitrary Python function",
    "compose.Grouper": "it keeps one transformer per value of a key and routes each row to "
                       "one: no per-category routing of transforms in the IR",
    "ensemble.StackingClassifier": "its meta-classifier reads the members' probabilities as "
                                   "features: no IR node feeds an estimator's output to another",
    "facto.FMClassifier": "River draws a random latent vector for a key it never learned, at "
                          "predict time: a row with an unseen key changes at random",
    "feature_extraction.BagOfWords": "it tokenises a string; artifacts take a float tensor",
    "feature_extraction.TFIDF": "it tokenises a string; artifacts take a float tensor",
    "preprocessing.GapEncoder": "it encodes strings; artifacts take a float tensor",
    "preprocessing.LDA": "it tokenises strings and runs variational inference per row",
    "feature_extraction.RandomTreesEmbedding": "it one-hot encodes each tree's leaf: no "
                                               "leaf-indicator transform in the IR",
    "feature_extraction.RBFSampler": "cosines of random projections: no cos in the IR",
    "feature_selection.PoissonInclusion": "it includes a new key at random while it transforms "
                                          "(its state changes at predict time)",
    "multiclass.OutputCodeClassifier": "it predicts the class whose code is nearest to the "
                                       "members' outputs: no argmin over distances in the IR",
    "preprocessing.PreviousImputer": "it fills a key present with None but leaves an absent "
                                     "key absent; an artifact reads both as missing (NaN), so "
                                     "it cannot tell which River fills",
    "rules.AMRules": "rule sets, each with its own linear model, voted in order: new IR",
    "multioutput.ProbabilisticClassifierChain": "it searches all 2^L label combinations for "
                                                "the largest product of chained probabilities: "
                                                "no such search in the IR",
    "multioutput.MonteCarloClassifierChain": "it samples label combinations from its own "
                                             "random generator at every prediction: no "
                                             "artifact can reproduce the draws",
    "tree.ISOUPTreeRegressor": "multi-target Hoeffding tree leaves (one model per target at "
                               "each leaf): not in the IR yet",
    "anomaly.PredictiveAnomalyDetection": "its score_one updates its own error statistics "
                                          "(dynamic_mae, dynamic_se_variance) on every call: a "
                                          "row's score depends on every row scored before it",
    "cluster.ODAC": "it clusters the stream's variables (a hierarchy of time series), not rows: "
                    "River implements no predict_one for it",
    "cluster.TextClust": "it clusters tokenised text (tf-idf micro-clusters); artifacts take a "
                         "float tensor",
}
for _name in ("FFMClassifier", "FFMRegressor", "FMRegressor", "FwFMClassifier", "FwFMRegressor",
              "HOFMClassifier", "HOFMRegressor"):
    WHY[f"facto.{_name}"] = WHY["facto.FMClassifier"]


# ------------------------------------------------------------------------------ the inventory


# the other tasks (issue 14): River's base class → the census kind (one line per task)
TASK_KINDS = {"AnomalyDetector": "anomaly detector", "SupervisedAnomalyDetector": "anomaly detector",
              "AnomalyFilter": "anomaly detector",
              "Clusterer": "clusterer", "time_series.base.Forecaster": "forecaster",
              "reco.base.Ranker": "recommender", "MultiLabelClassifier": "multi-output model",
              "MultiTargetRegressor": "multi-output model"}
KINDS = tuple(dict.fromkeys(("predictor", "transformer", *TASK_KINDS.values())))


def river_classes() -> list[tuple[str, str, type, str]]:
    """(module, class name, class, kind) of every public, concrete River predictor
    (single-target classifier or regressor), transformer and model of another task
    (`TASK_KINDS`), in module order."""
    import river
    from river import base

    out = []
    for info in pkgutil.iter_modules(river.__path__):
        if info.name.startswith("_") or info.name in ("api", "compat"):  # scikit-learn bridges
            continue
        module = importlib.import_module(f"river.{info.name}")
        for name in getattr(module, "__all__", ()):
            cls = getattr(module, name, None)
            if not inspect.isclass(cls) or inspect.isabstract(cls):
                continue
            if f"{info.name}.{name}" in NOT_COUNTED:
                continue
            multi = issubclass(cls, base.MultiLabelClassifier | base.MultiTargetRegressor)
            if issubclass(cls, base.Classifier | base.Regressor) and not multi:
                out.append((info.name, name, cls, "predictor"))
            elif issubclass(cls, base.Transformer | base.SupervisedTransformer):
                out.append((info.name, name, cls, "transformer"))
            else:
                out += [(info.name, name, cls, kind) for b, kind in TASK_KINDS.items()
                        if issubclass(cls, _task_base(b))][:1]
    return out


def _task_base(name: str) -> type:
    """A TASK_KINDS key as a class: a name in `river.base`, or a dotted path under `river`."""
    from river import base

    if "." not in name:
        return getattr(base, name)
    module, _, cls = name.rpartition(".")
    return getattr(importlib.import_module(f"river.{module}"), cls)


# ------------------------------------------------------------------------------ how each is built


def _scaled(model: Any) -> Any:
    from river import preprocessing

    return preprocessing.StandardScaler() | model


def _logreg() -> Any:
    from river import linear_model

    return linear_model.LogisticRegression()


def _linreg() -> Any:
    from river import linear_model

    return linear_model.LinearRegression()




def _specs() -> dict[str, Spec]:
    """The classes River gives no usable defaults for, or that need a particular dataset."""
    from river import (
        anomaly,
        cluster,
        compose,
        dummy,
        feature_extraction,
        feature_selection,
        imblearn,
        linear_model,
        metrics,
        model_selection,
        multiclass,
        naive_bayes,
        neighbors,
        optim,
        preprocessing,
        stats,
    )

    balanced = {False: 0.5, True: 0.5}
    return {
        "dummy.PriorClassifier": Spec("Phishing", lambda: _scaled(dummy.PriorClassifier())),
        "dummy.NoChangeClassifier": Spec("Phishing", lambda: _scaled(dummy.NoChangeClassifier())),
        "dummy.StatisticRegressor": Spec("TrumpApproval", lambda: _scaled(
            dummy.StatisticRegressor(stats.Mean()))),
        "compose.TargetTransformRegressor": Spec("TrumpApproval", lambda: compose.TargetTransformRegressor(
            _scaled(_linreg()), func=math.log, inverse_func=math.exp)),
        "imblearn.RandomOverSampler": Spec("Phishing", lambda: imblearn.RandomOverSampler(
            _scaled(_logreg()), desired_dist=balanced, seed=1)),
        "imblearn.RandomUnderSampler": Spec("Phishing", lambda: imblearn.RandomUnderSampler(
            _scaled(_logreg()), desired_dist=balanced, seed=1)),
        "imblearn.RandomSampler": Spec("Phishing", lambda: imblearn.RandomSampler(
            _scaled(_logreg()), desired_dist=balanced, sampling_rate=0.8, seed=1)),
        "model_selection.SuccessiveHalvingClassifier": Spec(
            "Phishing", lambda: model_selection.SuccessiveHalvingClassifier(
                [_scaled(linear_model.LogisticRegression(optimizer=optim.SGD(lr)))
                 for lr in (0.01, 0.1)], metric=metrics.Accuracy(), budget=400)),
        "multiclass.OneVsOneClassifier": Spec("ImageSegments", lambda: _scaled(
            multiclass.OneVsOneClassifier(_logreg()))),
        "multiclass.OutputCodeClassifier": Spec("ImageSegments", lambda: _scaled(
            multiclass.OutputCodeClassifier(_logreg(), code_size=6, coding_method="random",
                                            seed=1))),
        "multiclass.OneVsRestClassifier": Spec("ImageSegments", lambda: _scaled(
            multiclass.OneVsRestClassifier(_logreg()))),
        "naive_bayes.MultinomialNB": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | naive_bayes.MultinomialNB()),
        "naive_bayes.ComplementNB": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | naive_bayes.ComplementNB()),
        "linear_model.AdPredictor": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | linear_model.AdPredictor()),
        "linear_model.SoftmaxRegression": Spec("ImageSegments", lambda: _scaled(
            linear_model.SoftmaxRegression())),
        "preprocessing.TargetStandardScaler": Spec("TrumpApproval", lambda: (
            preprocessing.TargetStandardScaler(_scaled(_linreg())))),
        "preprocessing.TargetMinMaxScaler": Spec("TrumpApproval", lambda: (
            preprocessing.TargetMinMaxScaler(_scaled(_linreg())))),
        # transformers
        "compose.FuncTransformer": Spec("Phishing", lambda: compose.FuncTransformer(
            lambda x: x) | _logreg()),
        "compose.Grouper": Spec("ChickWeights", lambda: compose.Grouper(
            preprocessing.StandardScaler(), by="diet") | _linreg()),
        "compose.Prefixer": Spec("Phishing", lambda: compose.Prefixer("p_") | _logreg()),
        "compose.Suffixer": Spec("Phishing", lambda: compose.Suffixer("_s") | _logreg()),
        "compose.Renamer": Spec("Phishing", lambda: compose.Renamer(
            {"https": "secure", "long_url": "long"}) | _logreg()),
        "compose.SelectType": Spec("Phishing", lambda: compose.SelectType(
            numbers.Number) | _logreg()),
        "compose.Select": Spec("Phishing", lambda: compose.Select(
            "https", "long_url", "is_popular") | _logreg()),
        "compose.Discard": Spec("Phishing", lambda: compose.Discard("https") | _logreg()),
        "compose.TransformerUnion": Spec("Phishing", lambda: (
            compose.Select("https") + compose.Select("long_url")) | _logreg()),
        "compose.TransformerProduct": Spec("Phishing", lambda: compose.TransformerProduct(
            compose.Select("https"), compose.Select("long_url")) | _logreg()),
        "feature_extraction.Agg": Spec("ChickWeights", lambda: (
            compose.Select("time") + feature_extraction.Agg(on="time", by="diet", how=stats.Mean()))
            | _linreg()),
        "feature_extraction.TargetAgg": Spec("ChickWeights", lambda: (
            compose.Select("time") + feature_extraction.TargetAgg(by="diet", how=stats.Mean()))
            | _linreg()),
        "feature_extraction.PolynomialExtender": Spec("Phishing", lambda: _scaled(
            feature_extraction.PolynomialExtender()) | _logreg()),
        "feature_selection.PoissonInclusion": Spec("Phishing", lambda: (
            feature_selection.PoissonInclusion(p=0.1, seed=1) | _logreg())),
        "feature_selection.SelectKBest": Spec("TrumpApproval", lambda: (
            feature_selection.SelectKBest(similarity=stats.PearsonCorr(), k=3) | _scaled(_linreg()))),
        "preprocessing.StatImputer": Spec("Phishing", lambda: preprocessing.StatImputer(
            ("long_url", stats.Mean()), ("age_of_domain", -1)) | _logreg()),
        "preprocessing.Normalizer": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | preprocessing.Normalizer() | _logreg()),
        "preprocessing.GaussianRandomProjector": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | preprocessing.GaussianRandomProjector(seed=1) | _logreg()),
        "preprocessing.SparseRandomProjector": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | preprocessing.SparseRandomProjector(seed=1) | _logreg()),
        "preprocessing.FeatureHasher": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | preprocessing.FeatureHasher(seed=1) | _logreg()),
        "preprocessing.OneHotEncoder": Spec("ChickWeights", lambda: (
            compose.Select("diet") | preprocessing.OneHotEncoder()) | _linreg()),
        "preprocessing.OrdinalEncoder": Spec("ChickWeights", lambda: (
            compose.Select("diet") | preprocessing.OrdinalEncoder()) | _linreg()),
        # River's distance reads every key of the row: closed by a Select (see WHY's peers)
        # River's defaults put every Phishing row in one cluster (and DenStream needs 1,000
        # rows before its first DBSCAN): the catalogue's settings
        "cluster.KMeans": Spec("Phishing", lambda: cluster.KMeans(n_clusters=4, halflife=0.3,
                                                                  seed=7)),
        "cluster.STREAMKMeans": Spec("Phishing", lambda: cluster.STREAMKMeans(
            chunk_size=10, n_clusters=3, halflife=0.3, seed=1, mu=0.5, sigma=0.2)),
        # the detectors that score the target learn and read y (TrumpApproval's)
        "anomaly.GaussianScorer": Spec("TrumpApproval", lambda: anomaly.GaussianScorer()),
        "anomaly.StandardAbsoluteDeviation": Spec("TrumpApproval", lambda: (
            anomaly.StandardAbsoluteDeviation())),
        # River's distance reads every key of the row: closed by a Select (as KNN below)
        "anomaly.LocalOutlierFactor": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | _default(anomaly.LocalOutlierFactor)),
        "cluster.DenStream": Spec("Bananas", lambda: cluster.DenStream(
            decaying_factor=0.01, beta=0.5, mu=2.5, epsilon=0.8, n_samples_init=200)),
        **_task_specs(),
        "neighbors.KNNClassifier": Spec("Phishing", lambda: compose.Select(
            *PHISHING_KEYS) | _default(neighbors.KNNClassifier)),
        "neighbors.KNNRegressor": Spec("TrumpApproval", lambda: compose.Select(
            *TRUMP_KEYS) | _default(neighbors.KNNRegressor)),
    }


def _task_specs() -> dict[str, Spec]:
    """Forecasters, recommenders and multi-output models: the datasets their tasks learn
    (AirlinePassengers; estuary.streams' seeded Ratings and multi-target Phishing / Trump)."""
    from river import linear_model, multioutput, optim, reco, time_series, tree

    def chain(cls, model, **kw):
        return lambda: cls(_scaled(model()), **kw)

    return {
        "time_series.HoltWinters": Spec("AirlinePassengers", lambda: time_series.HoltWinters(
            alpha=0.3, beta=0.1, gamma=0.6, seasonality=12, multiplicative=True)),
        "time_series.SNARIMAX": Spec("AirlinePassengers", lambda: time_series.SNARIMAX(
            p=12, d=1, q=12, m=12, sd=1, regressor=_scaled(linear_model.LinearRegression(
                intercept_init=110, optimizer=optim.SGD(0.01), intercept_lr=0.3)))),
        "reco.Baseline": Spec("Ratings", lambda: reco.Baseline(optimizer=optim.SGD(0.05))),
        "reco.BiasedMF": Spec("Ratings", lambda: reco.BiasedMF(n_factors=8, seed=1)),
        "reco.FunkMF": Spec("Ratings", lambda: reco.FunkMF(n_factors=8, seed=1)),
        "reco.RandomNormal": Spec("Ratings", lambda: reco.RandomNormal(seed=1)),
        "multioutput.ClassifierChain": Spec("MultiLabelPhishing", chain(
            multioutput.ClassifierChain, _logreg, order=["phishing", "popup", "ip"])),
        "multioutput.ProbabilisticClassifierChain": Spec("MultiLabelPhishing", chain(
            multioutput.ProbabilisticClassifierChain, _logreg)),
        "multioutput.MonteCarloClassifierChain": Spec("MultiLabelPhishing", chain(
            multioutput.MonteCarloClassifierChain, _logreg, seed=1)),
        "multioutput.MultiClassEncoder": Spec("MultiLabelPhishing", lambda: (
            multioutput.MultiClassEncoder(_scaled(linear_model.SoftmaxRegression())))),
        "multioutput.PerOutputClassifier": Spec("MultiLabelPhishing", chain(
            multioutput.PerOutputClassifier, _logreg)),
        "multioutput.PerOutputRegressor": Spec("MultiTargetTrump", chain(
            multioutput.PerOutputRegressor, _linreg)),
        "multioutput.RegressorChain": Spec("MultiTargetTrump", chain(
            multioutput.RegressorChain, _linreg, order=["approval", "gallup"])),
        "tree.ISOUPTreeRegressor": Spec("MultiTargetTrump", lambda: tree.ISOUPTreeRegressor()),
    }


def _default(cls: type) -> Any:
    """Built with River's first `_unit_test_params()` set (its defaults when that is empty)."""
    return cls(**next(iter(cls._unit_test_params()), {}))


def spec_for(module: str, name: str, cls: type, kind: str) -> Spec:
    from river import base

    found = _specs().get(f"{module}.{name}")
    if found is not None:
        return found
    if kind == "transformer":
        return Spec("Phishing", lambda: _default(cls) | _logreg())
    if issubclass(cls, base.Regressor):
        return Spec("TrumpApproval", lambda: _default(cls))
    return Spec("Phishing", lambda: _default(cls))


# ------------------------------------------------------------------------------ one class


def _reason(e: BaseException) -> str:
    """A one-line reason from an export or verification failure."""
    from .errors import UnsupportedModelError

    text = str(e).strip()
    if isinstance(e, UnsupportedModelError):
        m = re.match(r"cannot convert (\S+) \((.*)\)\. Supported:", text, re.S)
        if m:
            return m.group(2).replace("\n", " ")
        m = re.match(r"cannot convert (\S+)\. Supported:", text)
        name = m.group(1) if m else "?"
        short = re.sub(r"^river\.(\w+)(?:\..*)?\.(\w+)$", r"\1.\2", name)
        return f"no extractor for {short}" + (f": {WHY[short]}" if short in WHY else "")
    first = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {first}"[:240]


def learn(spec: Spec) -> tuple[Any, list[dict]]:
    from river import datasets

    from . import streams
    from .converters.river_to_ir.learning import learn as learn_event
    from .converters.river_to_ir.learning import learning_mode, scored_row

    model = spec.build()
    mode = learning_mode(model)  # River's learn_one per task; a forecaster's rows are steps
    source = getattr(streams, spec.dataset, None) or getattr(datasets, spec.dataset)
    rows = []
    for x, y in source():
        learn_event(model, dict(x), y, mode)
        rows.append(scored_row(mode, dict(x), y))
        if len(rows) >= N_LEARN:
            break
    return model, rows


def census_row(module: str, name: str, cls: type, kind: str, formats: list[str],
               tmp: Path) -> Row:
    """Build, learn, export to each format and verify; each cell '' or a one-line reason."""
    import estuary
    from estuary.converters.registry import EXTRACTORS, FORMATS

    row = Row(module, name, kind)
    try:
        model, rows = learn(spec_for(module, name, cls, kind))
    except Exception as e:  # River itself fails on the dataset (text models on numbers)
        short = f"{module}.{name}"
        why = (f"no extractor for {short}: {WHY[short]}" if cls not in EXTRACTORS and short in WHY
               else f"River fails to learn the census dataset: {_reason(e)}")
        row.cells = dict.fromkeys(formats, why)
        return row
    for fmt in formats:
        path = tmp / f"{module}.{name}{FORMATS[fmt].suffix}"
        try:
            estuary.export(model, path, sample=rows[:N_SAMPLE], format=fmt, check=False)
            report = estuary.verify(model, path, rows[:N_VERIFY])
            row.cells[fmt] = "" if report.passed else (
                "parity fails: " + report.to_text().splitlines()[0].split(": ", 1)[-1])
        except Exception as e:
            row.cells[fmt] = _reason(e)
    return row


# ------------------------------------------------------------------------------ the table


def run(formats: list[str] | None = None, only: str = "") -> list[Row]:
    from . import api  # noqa: F401  (registers every extractor and format)
    from .support import matrix_formats

    formats = formats or matrix_formats()  # ort is onnx's graph: no column of its own
    tmp = Path(tempfile.mkdtemp(prefix="estuary-census-"))
    return [census_row(m, n, c, k, formats, tmp) for m, n, c, k in river_classes()
            if only in f"{m}.{n}"]


def totals(rows: list[Row]) -> dict[str, dict[str, int]]:
    """{kind: {format: exported, "of": count}}."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        t = out.setdefault(r.kind, {"of": 0})
        t["of"] += 1
        for fmt, why in r.cells.items():
            t[fmt] = t.get(fmt, 0) + (not why)
    return out


def totals_markdown(rows: list[Row]) -> str:
    t = totals(rows)
    formats = sorted({f for r in rows for f in r.cells}, key=lambda f: (f != "onnx", f))
    lines = ["| River 0.26.1 | " + " | ".join(formats) + " |", "|---|" + "---|" * len(formats)]
    for kind in KINDS:
        if kind in t:
            cells = [f"{t[kind].get(f, 0)} / {t[kind]['of']}" for f in formats]
            lines.append(f"| {kind}s | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_markdown(rows: list[Row]) -> str:
    formats = sorted({f for r in rows for f in r.cells}, key=lambda f: (f != "onnx", f))
    lines = ["| module | class | kind | " + " | ".join(formats) + " |",
             "|---|---|---|" + "---|" * len(formats)]
    for r in rows:
        cells = ["✅" if not r.cells[f] else f"✗ {r.cells[f]}".replace("|", "/") for f in formats]
        lines.append(f"| {r.module} | `{r.name}` | {r.kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(rows: list[Row], seconds: float, readme: Path = ROOT / "README.md") -> None:
    import river

    data = {"river_version": river.__version__, "n_learn": N_LEARN, "n_verify": N_VERIFY,
            "seconds": round(seconds, 1), "date": time.strftime("%Y-%m-%d"),
            "totals": totals(rows), "rows": [asdict(r) for r in rows]}
    OUTPUT_JSON.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    OUTPUT_MD.write_text(
        "# River census\n\nWritten by `python -m estuary.support --census --write` "
        f"({data['date']}, {data['seconds']} s): every public River {river.__version__} "
        f"predictor and transformer learned {N_LEARN} events of a bundled dataset, exported to "
        f"every format and verified on {N_VERIFY} rows plus adversarial probes in the real "
        "runtimes. Not counted: " + "; ".join(f"`{k}` ({v})" for k, v in NOT_COUNTED.items())
        + ".\n\n" + totals_markdown(rows) + "\n\n" + table_markdown(rows) + "\n")
    write_readme_totals(totals_markdown(rows), readme)


def write_readme_totals(block: str, readme: Path) -> None:
    text = readme.read_text()
    new = re.sub(r"(<!-- census-totals:start -->\n).*?(<!-- census-totals:end -->)",
                 lambda m: m.group(1) + block + "\n" + m.group(2), text, flags=re.S)
    readme.write_text(new)


def load() -> list[Row]:
    """The committed census (benchmarks/results_census.json)."""
    data = json.loads(OUTPUT_JSON.read_text())
    return [Row(**r) for r in data["rows"]]


def main(argv: list[str]) -> None:
    only = next((a.split("=", 1)[1] for a in argv if a.startswith("--only=")), "")
    formats = next((a.split("=", 1)[1].split(",") for a in argv if a.startswith("--formats=")),
                   None)
    start = time.perf_counter()
    rows = run(formats, only)
    seconds = time.perf_counter() - start
    print(table_markdown(rows))
    print()
    print(totals_markdown(rows))
    print(f"\n{seconds:.0f} s")
    if "--write" in argv:
        if only or formats:
            raise SystemExit("--write records the whole census: drop --only / --formats")
        write(rows, seconds)
