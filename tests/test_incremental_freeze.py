"""Incremental freeze: a tree's naive-Bayes leaf tables are reused while a leaf has not learned,
and the IR is the one a fresh extraction gives, hash for hash, after every step of learning."""

from __future__ import annotations

from river import tree
from river.datasets import synth

from estuary import ir
from estuary.converters.river_to_ir import to_ir
from estuary.converters.river_to_ir import tree as tree_ir


def _fresh(model):
    tree_ir._LEAF_TABLES.clear()
    return to_ir(model)


def test_reused_leaf_tables_give_the_fresh_ir_after_each_learning_step():
    model = tree.HoeffdingTreeClassifier(grace_period=20, delta=0.5, leaf_prediction="nba")
    stream = iter(synth.Agrawal(seed=3, classification_function=2).take(6000))
    hashes = set()
    for step in (1500, 1, 7, 300, 2000):
        for _ in range(step):
            model.learn_one(*next(stream))
        incremental = to_ir(model)  # reuses what the previous snapshot read
        assert ir.content_hash(incremental) == ir.content_hash(_fresh(model)), step
        hashes.add(ir.content_hash(incremental))
    assert len(hashes) == 5  # every step changed the model, and the IR followed


def test_unchanged_leaves_share_their_tables_by_identity():
    model = tree.HoeffdingTreeClassifier(grace_period=10, delta=0.9, tau=0.5, leaf_prediction="nb")
    stream = iter(synth.Agrawal(seed=5).take(3000))
    for _ in range(2990):
        model.learn_one(*next(stream))
    first = to_ir(model).estimator.nb
    second = to_ir(model).estimator.nb
    assert all(a is b for a, b in zip(first.mu, second.mu))
    x, y = next(stream)
    model.learn_one(x, y)  # one leaf learns: its tables are read again, the others are reused
    third = to_ir(model).estimator.nb
    changed = sum(a is not b for a, b in zip(second.mu, third.mu))
    assert changed == 1 and len(third.mu) == len(second.mu) > 10
    assert ir.content_hash(to_ir(model)) == ir.content_hash(_fresh(model))


def test_gc_freeze_policy_moves_live_objects_out_of_the_collector(tmp_path):
    import gc

    from river import datasets, linear_model, preprocessing

    from estuary.online import Learner

    gc.unfreeze()
    learner = Learner(preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                      store=tmp_path, gc_freeze=True)
    try:
        for x, y in datasets.Phishing().take(100):
            learner.learn_one(x, y)
        assert gc.get_freeze_count() == 0
        learner.freeze()
        assert gc.get_freeze_count() > 1000  # the process's live objects, the model's included
    finally:
        gc.unfreeze()
    plain = Learner(preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                    store=tmp_path)
    plain.learn_one({"a": 1.0}, True)
    plain.freeze()
    assert gc.get_freeze_count() == 0  # off by default: process-wide, so opt-in
