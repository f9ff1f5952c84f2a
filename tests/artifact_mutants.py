"""A seeded generator of broken artifacts, and the judge that runs them: every mutant must either
load and predict exactly as the original, or raise an `EstuaryError` subclass; never another
exception, never a hang. Used by tests/test_artifact_fuzz.py (a bounded run) and
benchmarks/fuzz.py (thousands of mutants).

Mutants: byte damage (truncation, bit flips, zeroed regions, random bytes) anywhere in the files,
metadata edits (JSON not an object, deep nesting, not UTF-8, wrong precision / task / classes,
golden vectors removed or ragged, golden labels changed), and interface edits (input or output
renamed). A metadata edit is written either as it is (the embedded SHA-256 then no longer
matches) or re-stamped with a fresh digest, as someone who knows the checksum would: then the
edit itself must be caught by what reads it.
"""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import estuary
from estuary import integrity
from estuary.errors import EstuaryError
from estuary.signing import signature_path

FORMATS = ("onnx", "pmml", "mlmodel", "tfjs")
TIMEOUT_S = 60.0


# ------------------------------------------------------------------------------- the models


def models() -> dict[str, tuple[Any, list[dict]]]:
    """One classifier (a Hoeffding tree with naive-Bayes leaves: thresholds, leaves, votes) and
    one regressor (scaler | linear regression over a one-hot nominal), each with rows."""
    from river import compose, datasets, linear_model, preprocessing, tree

    clf = tree.HoeffdingTreeClassifier(leaf_prediction="nb", grace_period=50)
    clf_rows = []
    for x, y in datasets.Phishing():
        clf.learn_one(x, y)
        clf_rows.append(x)
    reg = (compose.Select("time") | preprocessing.StandardScaler()) + (
        compose.Select("diet") | preprocessing.OneHotEncoder())
    reg = reg | linear_model.LinearRegression()
    reg_rows = []
    for x, y in datasets.ChickWeights():
        x = {**x, "diet": str(x["diet"])}
        reg.learn_one(x, y)
        reg_rows.append(x)
    return {"classifier": (clf, clf_rows), "regressor": (reg, reg_rows)}


def probe(rows: list[dict]) -> list[dict]:
    """Rows the predictions are compared on: data, a missing key, an empty row."""
    picked = rows[:: max(1, len(rows) // 40)][:40]
    return picked + [{k: v for k, v in r.items() if k != sorted(r)[0]} for r in picked[:10]] + [{}]


# ------------------------------------------------------------------------------- the files


def main_file(path: Path) -> Path:
    return path / "model.json" if path.is_dir() else path


def copy(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copyfile(src, dst)
    return dst


def files_of(path: Path) -> list[Path]:
    return sorted(path.iterdir()) if path.is_dir() else [path]


# ------------------------------------------------------------------------------- metadata access


def read_meta(path: Path, fmt: str) -> str:
    if fmt == "onnx":
        import onnx

        model = onnx.load(str(path))
        return next(p.value for p in model.metadata_props if p.key == "estuary")
    if fmt == "mlmodel":
        spec = _coreml_spec(path)
        return spec.description.metadata.userDefined["estuary"]
    if fmt == "pmml":
        text = path.read_text(encoding="utf-8")
        return html.unescape(re.search(r'name="estuary" value="([^"]*)"', text).group(1))
    return json.loads(main_file(path).read_text())["userDefinedMetadata"]["estuary"]


def write_meta(path: Path, fmt: str, text: str | bytes) -> None:
    """Replace the estuary metadata of the artifact at `path` (in place) with `text`."""
    if isinstance(text, bytes) and fmt in ("onnx", "mlmodel"):
        # not UTF-8: protobuf libraries refuse to write it, so swap the raw bytes in place
        old = read_meta(path, fmt).encode()
        new = (text * (len(old) // len(text) + 1))[:len(old)]
        path.write_bytes(path.read_bytes().replace(old, new, 1))
    elif fmt == "onnx":
        import onnx

        model = onnx.load(str(path))
        for p in model.metadata_props:
            if p.key == "estuary":
                p.value = text
        path.write_bytes(model.SerializeToString())
    elif fmt == "mlmodel":
        spec = _coreml_spec(path)
        spec.description.metadata.userDefined["estuary"] = _as_text(text)
        path.write_bytes(spec.SerializeToString())
    elif fmt == "pmml":
        raw = path.read_text(encoding="utf-8")
        value = html.escape(_as_text(text), quote=True)
        raw = re.sub(r'name="estuary" value="[^"]*"', lambda _: f'name="estuary" value="{value}"',
                     raw, count=1)
        path.write_text(raw, encoding="utf-8")
    else:
        doc = json.loads(main_file(path).read_text())
        doc["userDefinedMetadata"]["estuary"] = _as_text(text)
        main_file(path).write_text(json.dumps(doc))


def _as_text(text: str | bytes) -> str:
    return text if isinstance(text, str) else text.decode("latin-1")


def _coreml_spec(path: Path) -> Any:
    from estuary._coremltools import Model_pb2

    spec = Model_pb2.Model()
    spec.ParseFromString(path.read_bytes())
    return spec


# ------------------------------------------------------------------------------- mutations


@dataclass(frozen=True)
class Mutant:
    kind: str
    make: Callable[[Path], None]  # mutate the copy at this path in place


def _bytes_mutation(kind: str, rng: random.Random) -> Callable[[bytes], bytes]:
    def truncate(data: bytes) -> bytes:
        return data[:rng.randrange(len(data))] if data else data

    def flip(data: bytes) -> bytes:
        buf = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 3, 8))):
            if buf:
                i = rng.randrange(len(buf))
                buf[i] ^= 1 << rng.randrange(8)
        return bytes(buf)

    def zero(data: bytes) -> bytes:
        if not data:
            return data
        i, n = rng.randrange(len(data)), rng.choice((1, 4, 16, 64, 512))
        return data[:i] + bytes(len(data[i:i + n])) + data[i + n:]

    def scribble(data: bytes) -> bytes:
        if not data:
            return data
        i, n = rng.randrange(len(data)), rng.choice((1, 2, 8))
        noise = bytes(rng.randrange(256) for _ in range(len(data[i:i + n])))
        return data[:i] + noise + data[i + n:]

    return {"truncate": truncate, "bitflip": flip, "zero": zero, "scribble": scribble}[kind]


BYTE_KINDS = ("truncate", "bitflip", "bitflip", "zero", "scribble")


def byte_mutant(kind: str, rng: random.Random) -> Mutant:
    change = _bytes_mutation(kind, rng)
    seed = rng.random()

    def make(path: Path) -> None:
        files = files_of(path)
        target = files[int(seed * len(files))]
        target.write_bytes(change(target.read_bytes()))

    return Mutant(f"bytes:{kind}", make)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _json_edits(meta: dict, rng: random.Random) -> dict[str, Callable[[], str | bytes]]:
    """Metadata edits by name → the new metadata text."""

    def edited(**changes: Any) -> Callable[[], str]:
        return lambda: json.dumps({**meta, **changes})

    classes = list(meta["classes"])
    inputs, outputs = meta["golden_inputs"], meta["golden_outputs"]
    return {
        "meta:list": lambda: "[1, 2, 3]",
        "meta:string": lambda: json.dumps("estuary"),
        "meta:deep": lambda: _deep(rng.choice((1000, 100_000))),
        "meta:deep-schema": edited(schema={"type": "FeatureSchema",
                                           "features": json.loads(_deep(50))}),
        "meta:not-json": lambda: "{" + json.dumps(meta)[1:-1],
        "meta:not-utf8": lambda: b"\xff\xfe\xfd" * 20,
        "meta:precision": edited(precision=rng.choice(("float16", "", None, 64))),
        "meta:precision32": edited(precision="float32"),
        "meta:task": edited(task="regression" if meta["task"] == "classification"
                            else "classification"),
        "meta:task-other": edited(task=rng.choice(("score", "cluster", 1))),
        "meta:classes-drop": edited(classes=classes[:-1]),
        "meta:classes-add": edited(classes=classes + ["extra"]),
        "meta:classes-swap": edited(classes=classes[::-1]),
        "meta:classes-rename": edited(classes=[f"{c}!" for c in classes]),
        "meta:golden-removed": edited(golden_inputs=[], golden_outputs=[], golden_labels=[]),
        "meta:golden-ragged": edited(golden_inputs=[r[:-1] for r in inputs[:1]] + inputs[1:]),
        "meta:golden-outputs-ragged": edited(golden_outputs=[r + [0.5] for r in outputs]),
        "meta:golden-labels": edited(golden_labels=[
            classes[(classes.index(c) + 1) % len(classes)] if c in classes else classes[0]
            for c in meta.get("golden_labels", [])] if classes else [1.0 for _ in inputs]),
        "meta:golden-nan": edited(golden_outputs=[[None] * len(r) for r in outputs]),
        "meta:schema-missing": edited(schema=None),
        "meta:schema-type": edited(schema={"type": "Linear"}),
        "meta:schema-wide": edited(schema={**meta["schema"], "features": meta["schema"][
            "features"] + [{"type": "Feature", "name": "zz", "key": "zz", "kind": "numeric",
                            "categories": []}]}),
        "meta:feature-key-list": edited(schema={**meta["schema"], "features": [
            {**meta["schema"]["features"][0], "key": [1, 2]}] + meta["schema"]["features"][1:]}),
        "meta:version": edited(metadata_version=2),
        "meta:integrity": edited(integrity="sha256:" + "f" * 64),
    }


def meta_mutant(kind: str, fmt: str, original_meta: dict, rng: random.Random,
                restamp: bool) -> Mutant:
    text = _json_edits(original_meta, rng)[kind]()

    def make(path: Path) -> None:
        new = text
        if restamp and isinstance(new, str):
            new = new.replace(original_meta.get("integrity", "") or "\0", integrity.PLACEHOLDER)
        write_meta(path, fmt, new)
        if restamp:
            integrity.stamp(path)

    return Mutant(f"{kind}{'+restamped' if restamp else ''}", make)


def rename_mutant(fmt: str, what: str, restamp: bool) -> Mutant:
    """Rename the model's input or its first output in the compute graph (not the metadata)."""

    def make(path: Path) -> None:
        if fmt == "onnx":
            import onnx

            model = onnx.load(str(path))
            io = model.graph.input[0] if what == "input" else model.graph.output[-1]
            io.name = io.name + "_renamed"
            path.write_bytes(model.SerializeToString())
        elif fmt == "mlmodel":
            spec = _coreml_spec(path)
            io = spec.description.input[0] if what == "input" else spec.description.output[-1]
            io.name = io.name + "_renamed"
            path.write_bytes(spec.SerializeToString())
        elif fmt == "pmml":
            text = path.read_text(encoding="utf-8")
            pattern = r'<DataField name="' if what == "input" else r'<OutputField name="'
            text = text.replace(pattern, pattern + "renamed_", 1)
            path.write_text(text, encoding="utf-8")
        else:
            doc = json.loads(main_file(path).read_text())
            side = doc["signature"]["inputs" if what == "input" else "outputs"]
            key = sorted(side)[0]
            side[key + "_renamed"] = {**side.pop(key), "name": key + "_renamed"}
            main_file(path).write_text(json.dumps(doc))
        if restamp:
            _restamp(path)

    return Mutant(f"rename:{what}{'+restamped' if restamp else ''}", make)


def _restamp(path: Path) -> None:
    main = main_file(path)
    main.write_bytes(re.sub(rb"sha256:[0-9a-f]{64}", integrity.PLACEHOLDER.encode(),
                            main.read_bytes(), count=1))
    integrity.stamp(path)


def mutants(fmt: str, artifact: Path, n: int, seed: int) -> list[Mutant]:
    """`n` mutants of `artifact`: about half byte damage, the rest metadata and interface
    edits (each edit in turn, re-stamped or not), all from `seed`."""
    rng = random.Random(f"{fmt}:{artifact.name}:{seed}")
    meta = json.loads(read_meta(artifact, fmt))
    edit_kinds = sorted(_json_edits(meta, rng))
    out: list[Mutant] = []
    for i in range(n):
        if i % 2 == 0:
            out.append(byte_mutant(rng.choice(BYTE_KINDS), rng))
        elif i % 7 == 1:
            out.append(rename_mutant(fmt, rng.choice(("input", "output")), rng.random() < 0.5))
        else:
            kind = edit_kinds[(i // 2) % len(edit_kinds)]
            out.append(meta_mutant(kind, fmt, meta, rng, restamp=rng.random() < 0.5))
    return out


# ------------------------------------------------------------------------------- the judge


@dataclass
class Tally:
    """Outcomes by kind: `same` (loads, predicts like the original), refusals by error type,
    and the failures: `untyped`, `different`, `hang`."""

    outcomes: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)  # (mutant kind, outcome or error type)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def add(self, other: Tally) -> None:
        self.outcomes.update(other.outcomes)
        self.refused.update(other.refused)
        self.by_kind.update(other.by_kind)
        self.failures += other.failures
        self.seconds += other.seconds

    def summary(self) -> str:
        o = self.outcomes
        return (f"{self.total} mutants: {o['same']} load and predict as the original, "
                f"{o['refused']} refused with an EstuaryError, {o['untyped']} untyped, "
                f"{o['different']} silently different, {o['hang']} hangs "
                f"({self.seconds:.1f} s)")


def predictions(loaded: Any, rows: Sequence[dict]) -> tuple:
    labels = loaded.predict_many(rows)
    numbers = loaded.predict_proba_many(rows) if loaded.is_classifier else np.array(labels)
    return labels, np.asarray(numbers, dtype=np.float64)


def same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[1].shape == b[1].shape and bool(
        ((a[1] == b[1]) | (np.isnan(a[1]) & np.isnan(b[1]))).all())


def _judge_one(path: Path, rows: Sequence[dict], expected: tuple, trusted_key: Any = None
               ) -> tuple[str, str]:
    try:
        loaded = estuary.load(path, trusted_key=trusted_key)
        got = predictions(loaded, rows)
        loaded.predict_one(rows[0])
    except EstuaryError as e:
        return "refused", type(e).__name__
    except Exception as e:  # the failure this suite exists to find
        return "untyped", f"{type(e).__name__}: {str(e)[:300]}"
    return ("same", "") if same(got, expected) else ("different", "predictions changed")


def judge(mutant: Mutant, original: Path, workdir: Path, rows: Sequence[dict], expected: tuple,
          timeout: float = TIMEOUT_S, trusted_key: Any = None) -> tuple[str, str]:
    """Write the mutant next to the original (with its signature, when it has one) and judge
    it, loading it with `trusted_key`; ('hang', ...) after `timeout`."""
    path = workdir / f"mutant{original.suffix}"
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    copy(original, path)
    if signature_path(original).is_file() and not original.is_dir():
        shutil.copyfile(signature_path(original), signature_path(path))
    mutant.make(path)
    result: list[tuple[str, str]] = []
    worker = threading.Thread(
        target=lambda: result.append(_judge_one(path, rows, expected, trusted_key)), daemon=True)
    worker.start()
    worker.join(timeout)
    if not result:
        return "hang", f"no answer within {timeout:.0f} s"
    return result[0]


def run(fmt: str, original: Path, n: int, seed: int, workdir: Path, rows: Sequence[dict],
        trusted_key: Any = None) -> Tally:
    """Judge `n` mutants of `original` (loaded with `trusted_key`, when given); the tally says
    what happened to each."""
    tally = Tally()
    start = time.perf_counter()
    expected = predictions(estuary.load(original, trusted_key=trusted_key), rows)
    for mutant in mutants(fmt, original, n, seed):
        try:
            outcome, detail = judge(mutant, original, workdir, rows, expected,
                                    trusted_key=trusted_key)
        except Exception as e:  # a mutation that cannot be written (e.g. onnx refuses to parse)
            outcome, detail = "skipped", f"{type(e).__name__}: {e}"
        tally.outcomes[outcome] += 1
        tally.by_kind[mutant.kind.split("+")[0], detail if outcome == "refused" else outcome] += 1
        if outcome == "refused":
            tally.refused[detail] += 1
        elif outcome not in ("same", "skipped"):
            tally.failures.append(f"{fmt} {original.name} {mutant.kind}: {outcome}: {detail}")
    tally.seconds = time.perf_counter() - start
    return tally


def export_originals(workdir: Path, signing_key: Any = False
                     ) -> dict[tuple[str, str], tuple[Path, list[dict]]]:
    """(format, task) → (artifact, probe rows) for the two models in the four formats (signed
    with `signing_key` when given)."""
    out = {}
    for task, (model, rows) in models().items():
        for fmt in FORMATS:
            path = workdir / f"{task}.{fmt}"
            estuary.export(model, path, sample=rows[:20], signing_key=signing_key)
            out[fmt, task] = (path, probe(rows))
    return out


# ------------------------------------------------------------------------------- odd rows


def odd_values() -> list[Any]:
    """Values a careless caller or an attacker puts in a row."""
    from decimal import Decimal
    from fractions import Fraction

    return [0, 1, -1, 0.5, -0.0, 1e-320, 1e150, -1e150, 1e308, -1e308, float("inf"),
            float("-inf"), float("nan"), 10 ** 400, -(10 ** 400), 10 ** 5000, Fraction(1, 3),
            Fraction(10 ** 400, 7), Decimal("1.5"), True, False, None, "", "x", "1.0", b"1",
            [1.0], (1.0,), {"a": 1}, {1.0}, complex(1, 1), np.float32(1.5), np.int64(7),
            np.array([1.0]), np.array(2.0), object()]


def odd_rows(keys: Sequence[Any], n: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    values = odd_values()
    rows: list[Any] = [{}, [], None, "row", 5]
    for _ in range(n):
        picked = rng.sample(list(keys), rng.randint(1, len(keys)))
        row = {k: rng.choice(values) for k in picked}
        if rng.random() < 0.3:
            row[rng.choice(("unknown", 3, None, ("t", 1)))] = rng.choice(values)
        rows.append(row)
    return rows


def judge_rows(loaded: Any, rows: Sequence[Any]) -> Counter:
    """Each row alone through predict_one (and predict_proba_one for classifiers): an answer
    of the right kind, or an EstuaryError; anything else is counted as `untyped: <type>`."""
    outcomes: Counter = Counter()
    for row in rows:
        try:
            label = loaded.predict_one(row)
            if loaded.is_classifier:
                proba = loaded.predict_proba_one(row)
                assert label in loaded.classes and list(proba) == list(loaded.classes)
            else:
                assert isinstance(label, float)
            outcomes["answered"] += 1
        except EstuaryError as e:
            outcomes[type(e).__name__] += 1
        except Exception as e:
            outcomes[f"untyped: {type(e).__name__}: {str(e)[:80]}"] += 1
    return outcomes
