"""The on-loop capture (`river_to_ir.capture`): what the worker completes later, after the live
model learned on, is what a freeze of the live model gave at the capture's instant (IR hash for
hash, River's reference value for value), and a capture copies only the leaves that learned."""

from __future__ import annotations

import numpy as np
from river import preprocessing, tree
from river.datasets import synth

from estuary import ir
from estuary.converters.river_to_ir.capture import Capturer
from estuary.online import Learner
from estuary.online.freeze import capture, complete, freeze
from estuary.online.testing import logreg, phishing


def _same(late, now) -> None:
    assert ir.content_hash(late.model) == ir.content_hash(now.model)
    assert [p.row for p in late.probes] == [p.row for p in now.probes]
    assert np.array_equal(late.reference.outputs, now.reference.outputs, equal_nan=True)
    assert late.reference.labels == now.reference.labels
    assert late.reference.errors == now.reference.errors


def _agrawal(seed: int, n: int, **kw):
    return iter(synth.Agrawal(seed=seed, **kw).take(n))


def test_a_tree_capture_completed_later_is_the_freeze_of_that_instant():
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.9, tau=0.9,
                                         leaf_prediction="nba")
    stream = _agrawal(1, 20_000, classification_function=4, perturbation=0.3)
    sample = [x for x, _ in synth.Agrawal(seed=2, classification_function=4).take(16)]
    capturer, pending = Capturer(), []
    for step in (3000, 1, 40, 500, 2000):
        for _ in range(step):
            model.learn_one(*next(stream))
        pending.append((capture(capturer, model, sample, budget=16), freeze(model, sample,
                                                                            budget=16)))
    nodes = model.n_nodes
    for _ in range(3000):  # the live tree learns (and splits) before any capture is completed
        model.learn_one(*next(stream))
    assert model.n_nodes > nodes
    for captured, now in pending:
        _same(complete(captured), now)


def test_a_pipeline_a_nominal_tree_and_a_linear_model_capture_their_instant():
    rows = list(synth.Agrawal(seed=4, classification_function=2).take(4000))
    scaled = preprocessing.StandardScaler() | tree.HoeffdingTreeClassifier(
        grace_period=20, delta=0.5, leaf_prediction="nba")
    nominal = tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, leaf_prediction="nb",
                                           nominal_attributes=["elevel", "car"])
    for model, data in ((scaled, rows), (nominal, rows), (logreg(), phishing())):
        sample = [x for x, _ in data[:12]]
        half = len(data) // 2
        for x, y in data[:half]:
            model.learn_one(x, y)
        captured = capture(Capturer(), model, sample, budget=16)
        now = freeze(model, sample, budget=16)
        for x, y in data[half:]:
            model.learn_one(x, y)
        _same(complete(captured), now)


def test_only_leaves_that_learned_are_captured_again():
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.9, tau=0.5, leaf_prediction="nb")
    stream = _agrawal(5, 3000)
    for _ in range(2990):
        model.learn_one(*next(stream))
    capturer = Capturer()

    def states():
        capturer.capture(model)
        return {k: held[2] for k, held in capturer._leaves.items()}

    first, second = states(), states()
    assert len(first) > 10 and all(first[k] is second[k] for k in first)
    model.learn_one(*next(stream))  # one leaf learns (and does not split: grace period)
    third = states()
    assert sum(third[k] is not second.get(k) for k in third) == 1


def test_learner_snapshot_stalls_only_for_the_capture(tmp_path):
    model = tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, leaf_prediction="nba")
    stream = _agrawal(7, 3000)
    with Learner(model, store=tmp_path, formats=["onnx"]) as learner:
        for x, y in stream:
            learner.learn_one(x, y)
        result = learner.snapshot().result()
    assert result.published and result.n_events == 3000
    assert result.stall_ms == learner.stalls_ms[-1] > 0
