"""The on-loop capture (`river_to_ir.capture`): what the worker completes later, after the live
model learned on, is what a freeze of the live model gave at the capture's instant (IR hash for
hash, River's reference value for value), and a capture copies only the leaves that learned."""

from __future__ import annotations

import pickle

import numpy as np
from river import metrics, preprocessing, tree
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


def _tracked_learner(model, tmp_path):
    """A Learner fed the events: its capturer records each event's path (`_Tracker`)."""
    learner = Learner(model, store=tmp_path)
    assert learner._capturer._tracker is not None and learner._capturer._tracker.tree is model
    return learner


def _capture_now(learner, sample, *, tracked: bool):
    """Capture through the learner's capturer (the reads recorded as it learned) next to a
    freeze of the live model at that instant; `tracked` says which path the capture takes."""
    assert learner._capturer._tracker.complete() is tracked
    return (capture(learner._capturer, learner.model, sample, budget=16),
            freeze(learner.model, sample, budget=16))


def test_tracked_captures_read_only_what_learned_and_are_the_freeze_of_their_instant(tmp_path):
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.9, tau=0.9,
                                         leaf_prediction="nba")
    learner = _tracked_learner(model, tmp_path)
    stream = _agrawal(1, 20_000, classification_function=4, perturbation=0.3)
    sample = [x for x, _ in synth.Agrawal(seed=2, classification_function=4).take(16)]
    for _ in range(3000):
        learner.learn_one(*next(stream))
    pending = [_capture_now(learner, sample, tracked=True)]  # every split recorded as it grew
    splits = 0
    for step in (1, 40, 500, 2000, 7):  # splits between captures, many leaves touched
        nodes = model.n_nodes
        for i in range(step):
            x, y = next(stream)
            learner.learn_one(x, y, w=1.0 + (i % 3) / 2)  # weights other than 1 are added alike
        splits += model.n_nodes > nodes
        before = dict(learner._capturer._leaves)
        pending.append(_capture_now(learner, sample, tracked=True))
        read = [k for k, held in learner._capturer._leaves.items()
                if before.get(k) is not held]
        assert 0 < len(read) <= step + 2 * (model.n_nodes - nodes)  # learned, or new
    assert splits >= 2
    for _ in range(3000):  # the live tree learns (and splits) before any capture is completed
        learner.learn_one(*next(stream))
    # as sent to a worker process: the built copy, not the live nodes
    pending.append((pickle.loads(pickle.dumps(pending[-1][0])), pending[-1][1]))
    for captured, now in pending:
        _same(complete(captured), now)


def test_a_change_the_record_could_miss_makes_the_capture_walk_every_node(tmp_path):
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.9, tau=0.9,
                                         leaf_prediction="nba")
    stream = _agrawal(3, 20_000, classification_function=4, perturbation=0.3)
    sample = [x for x, _ in synth.Agrawal(seed=2, classification_function=4).take(16)]
    for _ in range(1000):  # learned before the Learner: recorded when the Learner is made
        model.learn_one(*next(stream))
    learner = _tracked_learner(model, tmp_path)
    for _ in range(1000):
        learner.learn_one(*next(stream))
    pending = [_capture_now(learner, sample, tracked=True)]
    for _ in range(300):
        learner.learn_one(*next(stream))
    pending.append(_capture_now(learner, sample, tracked=True))
    for _ in range(20):  # learned outside the Learner: the record misses them
        model.learn_one(*next(stream))
    pending.append(_capture_now(learner, sample, tracked=False))
    for _ in range(300):
        learner.learn_one(*next(stream))
    pending.append(_capture_now(learner, sample, tracked=True))  # recording again
    for i in range(300):  # a missing feature: River takes the most common path, not retraced
        x, y = next(stream)
        learner.learn_one({k: v for k, v in x.items() if k != "salary" or i % 50}, y)
    pending.append(_capture_now(learner, sample, tracked=False))
    for _ in range(3000):
        learner.learn_one(*next(stream))
    for captured, now in pending:
        _same(complete(captured), now)


def test_inactive_leaves_and_nominal_branches_keep_captures_exact(tmp_path):
    rows = iter(synth.Agrawal(seed=4, classification_function=2, perturbation=0.2).take(9000))
    sample = [x for x, _ in synth.Agrawal(seed=5, classification_function=2).take(12)]
    # max_size: River deactivates the least promising leaves, anywhere (and reactivates some
    # after a split), when it estimates the tree's size (here every 700 events)
    small = tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, tau=0.5, max_size=0.6,
                                         memory_estimate_period=700, leaf_prediction="nba")
    nominal = tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, leaf_prediction="nb",
                                           nominal_attributes=["elevel", "car", "zipcode"])
    for model, inactive in ((small, True), (nominal, False)):
        learner = _tracked_learner(model, tmp_path / str(inactive))
        pending, walked = [], []
        for step in (600, 99, 1, 600, 600):  # the 700th event deactivates leaves off its path
            for _ in range(step):
                learner.learn_one(*next(rows))
            walked.append(not learner._capturer._tracker.complete())
            pending.append(_capture_now(learner, sample, tracked=not walked[-1]))
        # with inactive leaves a capture walks the tree; a nominal tree's new values are on
        # the recorded path
        assert walked == [False, False, inactive, inactive, inactive]
        for _ in range(1500):
            learner.learn_one(*next(rows))
        for captured, now in pending:
            _same(complete(captured), now)


def test_a_learner_that_predicts_first_feeds_the_record_too(tmp_path):
    model = tree.HoeffdingTreeClassifier(grace_period=20, leaf_prediction="nba")
    learner = Learner(model, store=tmp_path, metric=metrics.Accuracy())  # `_learn_predicting`
    rows = list(synth.Agrawal(seed=1).take(2000))
    for x, y in rows:
        learner.learn_one(x, y)
    sample = [x for x, _ in rows[:12]]
    captured, now = _capture_now(learner, sample, tracked=True)
    _same(complete(captured), now)
