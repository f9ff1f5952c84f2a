"""Artifact fuzz (issue 18): seeded mutants of a classifier and a regressor artifact in every
format; each must load and predict exactly as the original or raise an EstuaryError subclass,
never another exception, never hang. A bounded run (250 mutants per artifact, well under two
minutes); benchmarks/fuzz.py runs more with the same generator."""

from __future__ import annotations

import json

import artifact_mutants as am
import pytest

import estuary

PER_ARTIFACT = 250  # 8 artifacts: 2,000 mutants, about 30 s here


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    return am.export_originals(tmp_path_factory.mktemp("fuzz"))


@pytest.mark.parametrize("fmt", am.FORMATS)
def test_every_mutant_predicts_as_the_original_or_is_refused_with_a_typed_error(
        originals, fmt, tmp_path, record_property):
    totals = am.Tally()
    for task in ("classifier", "regressor"):
        path, rows = originals[fmt, task]
        scratch = tmp_path / task
        scratch.mkdir()
        totals.add(am.run(fmt, path, PER_ARTIFACT, seed=18, workdir=scratch, rows=rows))
    print(f"{fmt}: {totals.summary()}; refused: {dict(totals.refused)}")
    record_property("fuzz", json.dumps({"format": fmt, **totals.outcomes}))
    assert totals.failures == []
    assert totals.total == 2 * PER_ARTIFACT and totals.outcomes["skipped"] == 0
    # the mutants reach past the first parser: metadata checks, the golden check (labels
    # included) and the embedded digest each refuse some
    assert {"ArtifactError", "IntegrityError", "NoGoldenVectorsError"} <= set(totals.refused)
    assert totals.outcomes["refused"] >= PER_ARTIFACT


SIGNED_PER_ARTIFACT = 100  # 8 signed artifacts: 800 mutants


@pytest.mark.parametrize("fmt", am.FORMATS)
def test_with_a_trusted_key_every_changed_artifact_is_refused(tmp_path_factory, fmt, tmp_path):
    # the metadata edits re-stamped with a fresh SHA-256 load without a key (their golden rows
    # may still pass); signed, nothing that changes a byte of the artifact gets through
    from estuary.signing import generate_keypair

    keys = tmp_path_factory.getbasetemp() / "fuzz-keys"
    if not keys.exists():
        keys.mkdir()
        generate_keypair(keys / "k")
    signed = _signed_originals(tmp_path_factory, keys / "k")
    totals = am.Tally()
    for task in ("classifier", "regressor"):
        path, rows = signed[fmt, task]
        scratch = tmp_path / task
        scratch.mkdir()
        totals.add(am.run(fmt, path, SIGNED_PER_ARTIFACT, seed=81, workdir=scratch, rows=rows,
                          trusted_key=keys / "k.pub"))
    print(f"{fmt} signed: {totals.summary()}; refused: {dict(totals.refused)}")
    assert totals.failures == [] and totals.outcomes["skipped"] == 0
    assert totals.total == 2 * SIGNED_PER_ARTIFACT
    assert totals.outcomes["different"] == 0 and totals.outcomes["untyped"] == 0
    # every refusal comes from the signature check, before any runtime parses the bytes (a
    # model.json too broken to list its shards cannot even be hashed: IntegrityError); the few
    # that load predict as the original (a mutation that rewrote bytes with the same bytes)
    assert set(totals.refused) <= {"SignatureError", "IntegrityError"}
    assert totals.outcomes["same"] <= 2 * 5


_SIGNED: dict = {}


def _signed_originals(tmp_path_factory, key):
    if not _SIGNED:
        _SIGNED.update(am.export_originals(tmp_path_factory.mktemp("signed"), signing_key=key))
    return _SIGNED


def test_the_judge_sees_a_silently_different_artifact(originals, tmp_path):
    # the judge itself: a mutant that changes predictions but passes every check is reported
    path, rows = originals["onnx", "regressor"]
    expected = am.predictions(estuary.load(path), rows)
    shifted = (expected[0], expected[1] + 1.0)
    assert am.judge(am.Mutant("none", lambda p: None), path, tmp_path, rows, shifted) == (
        "different", "predictions changed")
    assert am.judge(am.Mutant("none", lambda p: None), path, tmp_path, rows, expected) == (
        "same", "")


def test_the_judge_reports_untyped_exceptions_and_hangs(originals, tmp_path, monkeypatch):
    import time

    path, rows = originals["onnx", "classifier"]
    expected = am.predictions(estuary.load(path), rows)

    def boom(*args, **kwargs):
        raise KeyError("probabilities")

    monkeypatch.setattr(estuary, "load", boom)
    outcome, detail = am.judge(am.Mutant("none", lambda p: None), path, tmp_path, rows, expected)
    assert (outcome, detail) == ("untyped", "KeyError: 'probabilities'")
    monkeypatch.setattr(estuary, "load", lambda *a, **k: time.sleep(5))
    assert am.judge(am.Mutant("none", lambda p: None), path, tmp_path, rows, expected,
                    timeout=0.2)[0] == "hang"


@pytest.mark.parametrize("fmt", am.FORMATS)
def test_odd_rows_are_answered_or_refused_with_a_typed_error(originals, fmt):
    # huge ints and Fractions, Decimals, bytes, containers, ±inf, NaN, numpy arrays, non-dicts
    for task in ("classifier", "regressor"):
        loaded = estuary.load(originals[fmt, task][0])
        keys = [f.key for f in loaded.metadata.schema.features]
        outcomes = am.judge_rows(loaded, am.odd_rows(keys, 150, seed=8))
        print(fmt, task, dict(outcomes))
        assert [k for k in outcomes if k.startswith("untyped")] == []
        assert outcomes["answered"] > 0 and outcomes["InvalidInputError"] > 0
        assert sum(outcomes.values()) == 155
