"""The on-loop capture (`river_to_ir.capture`): what the worker completes later, after the live
model learned on, is what a freeze of the live model gave at the capture's instant (IR hash for
hash, River's reference value for value), and a capture copies only the leaves that learned."""

from __future__ import annotations

import copy
import pickle

import numpy as np
from river import compose, linear_model, metrics, preprocessing, tree
from river.datasets import synth

from estuary import ir
from estuary.converters.river_to_ir.capture import Capturer, _Pickled, materialize
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


def _linear_state(model) -> tuple:
    """Every number scaler|logreg learns: the scaler's counts, means and variances, the
    weights, the intercept and the optimizer's step count."""
    scaler, lr = model.steps["StandardScaler"], model.steps["LogisticRegression"]
    return (dict(scaler.counts), dict(scaler.means), dict(scaler.vars), dict(lr._weights),
            lr.intercept, lr.optimizer.n_iterations)


def test_a_model_without_a_tree_is_captured_as_its_pickle_or_else_deep_copied():
    """scaler|logreg is captured as pickle bytes (no Python per object on the loop), a model
    pickle refuses (a lambda) as a deep copy; each materializes, also after a trip through
    pickle as to a worker process, to the live model's numbers at the capture's instant, bit
    for bit, however much the live model learned since."""
    rows = phishing()
    lam = compose.FuncTransformer(lambda x: x) | preprocessing.StandardScaler() | \
        linear_model.LogisticRegression()
    for model, pickled in ((logreg(), True), (lam, False)):
        capturer, pending = Capturer(), []
        for start, stop in ((0, 300), (300, 301), (301, 700)):
            for x, y in rows[start:stop]:
                model.learn_one(x, y)
            state = capturer.capture(model)
            assert (type(state.model) is _Pickled) is pickled
            assert (capturer._unpicklable is model) is not pickled
            pending.append((state, _linear_state(copy.deepcopy(model))))
        for x, y in rows[700:]:
            model.learn_one(x, y)
        for k, (state, then) in enumerate(pending):
            if k == 1 and pickled:  # a lambda cannot go to a worker process at all
                state = pickle.loads(pickle.dumps(state))
            assert _linear_state(materialize(state)) == then != _linear_state(model)


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
    pending.append(_capture_now(learner, sample, tracked=True))
    for _ in range(20):  # again, then events through the Learner reach the leaves they changed
        model.learn_one(*next(stream))
    for _ in range(300):
        learner.learn_one(*next(stream))
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


_NOT_CAPTURED = {"_min_per_class", "_max_per_class",  # split candidates: learning only
                 "_disabled_attrs", "seed", "_rng"}  # learning only; a Gaussian's sampler


def _plain(obj):
    """A River tree's state as plain values, compared exactly (floats bit for bit)."""
    if isinstance(obj, dict):
        return [(k, _plain(v)) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return frozenset(obj)  # a copy: the live set grows on
    if isinstance(obj, float):
        return obj.hex()
    if type(obj).__module__.startswith("river."):
        return (type(obj).__name__, [(k, _plain(v)) for k, v in sorted(vars(obj).items())
                                     if k not in _NOT_CAPTURED])
    return obj


def _events(seed: int, n: int):
    """Agrawal events with what the tracker's class-only re-read must notice: weights, a
    third class first seen halfway, a feature missing off the path (often) and salary (twice), a
    feature first seen late."""
    for i, (x, y) in enumerate(synth.Agrawal(seed=seed, classification_function=2,
                                             perturbation=0.2).take(n)):
        if i > n // 2 and i % 7 == 0:
            y = 2  # a class the leaves have not seen yet
        if i % 7:  # a constant feature, never split on: missing off the path
            x = {**x, "flat": 1.0}
        if i in (2000, 4500):
            x = {k: v for k, v in x.items() if k != "salary"}  # often on a path
        if i > n * 3 // 4:
            x = {**x, "late": float(i % 13)}  # a new feature: a new splitter in each leaf
        yield x, y, 1.0 + (i % 4) / 4


def test_a_tracked_capture_is_the_state_of_every_node_at_its_instant(tmp_path):
    """Many events per leaf between captures (a leaf read again re-reads only its class's
    part), splits, weights, new classes and features, missing features, mc/nb/nba leaves, a
    leaf dropping poor attributes and nominal splitters: each capture, materialized after the
    tree learned on, is the live tree's state at its instant, every number bit for bit."""
    trees = [tree.HoeffdingTreeClassifier(grace_period=25, delta=0.5, tau=0.5,
                                          leaf_prediction="nba"),
             tree.HoeffdingTreeClassifier(grace_period=40, delta=0.3, leaf_prediction="nb"),
             tree.HoeffdingTreeClassifier(grace_period=30, delta=0.5, leaf_prediction="mc",
                                          remove_poor_attrs=True),
             tree.HoeffdingTreeClassifier(grace_period=30, delta=0.5, leaf_prediction="nba",
                                          nominal_attributes=["elevel", "car"])]
    for n, model in enumerate(trees):
        learner = _tracked_learner(model, tmp_path / str(n))
        capturer = learner._capturer
        pending, partial, tracked = [], 0, []
        events = _events(n, 6300)
        for step in (400, 1, 3, 900, 1500, 60, 1200, 1936):
            for _ in range(step):
                x, y, w = next(events)
                learner.learn_one(x, y, w=w)
            tracked.append(capturer._tracker.complete())
            known = capturer._tracker.known
            partial += sum(held[2].layout is not None and k in known
                           and held[2].layout is known[k][2].layout
                           for k, held in capturer._tracker.fresh.items())
            pending.append((learner.capture(), _plain(model._root)))
        for _ in range(300):
            x, y, w = next(events)
            learner.learn_one(x, y, w=w)
        for captured, now in pending:
            assert _plain(materialize(captured.state)._root) == now
        assert sum(tracked) >= 4
        if n < 3:  # numeric splitters only: leaves read again re-read class y's part alone
            assert partial > 10
