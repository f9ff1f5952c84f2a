"""The IR of a model state, reused while the state is unchanged (export, then verify).

`export` freezes the model to its IR and `verify` used to freeze it again, hash it again (JSON
of megabytes for a big tree) and rebuild what it derives from it. `ir_of(model)` keeps the
last IR per model object (weakly) with a cheap fingerprint of the model's learned state and
returns the same IR object while the fingerprint is unchanged, so its memoised content hash is
reused too. A fingerprint is defined only where it is cheap and follows every `learn_one`:

- pipelines: their steps' fingerprints (any step without one: no reuse);
- StandardScaler: `with_std`, its counts, means and variances; linear models: the optimizer's
  step count, the weights, the intercept and the loss (its mean function is the link);
- Hoeffding trees (classifiers and regressors): the weight seen, the leaf counts, the root's
  identity and the classes (every `learn_one` with a positive weight moves the first); a
  leaf predicts as the kind of leaf it is, so setting `leaf_prediction` later changes nothing
  River answers until a new leaf grows.

The scaler's `with_std` and a linear model's loss are parameters a user can set between two
snapshots without learning: they are in the fingerprint.

Any other model is frozen afresh every time (`None`).

>>> ir_of(model) is ir_of(model)  # no learn_one in between
True
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from ... import ir
from . import to_ir

_LAST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model → (fingerprint, IR)


def _items(d: Any) -> tuple:
    return tuple(d.items()) if d is not None else ()


def _pipeline(m: Any) -> tuple | None:
    parts = [fingerprint(step) for step in m.steps.values()]
    return None if any(p is None for p in parts) else tuple(parts)


def _scaler(m: Any) -> tuple:
    return m.with_std, _items(m.counts), _items(m.means), _items(m.vars)


def _linear(m: Any) -> tuple:
    return (getattr(m.optimizer, "n_iterations", None), tuple(dict(m._weights).items()),
            m.intercept, id(m.loss), type(m.loss))


def _hoeffding(m: Any) -> tuple:
    return (m._train_weight_seen_by_model, m._n_active_leaves, m._n_inactive_leaves,
            id(m._root), tuple(sorted(map(repr, getattr(m, "classes", ())))))


FINGERPRINTS: dict[str, Callable[[Any], tuple | None]] = {
    "Pipeline": _pipeline,
    "StandardScaler": _scaler,
    "LogisticRegression": _linear,
    "LinearRegression": _linear,
    "HoeffdingTreeClassifier": _hoeffding,
    "HoeffdingTreeRegressor": _hoeffding,
}


def fingerprint(model: Any) -> tuple | None:
    """A cheap value that changes whenever `model` learns, or None (no reuse for this type)."""
    fn = FINGERPRINTS.get(type(model).__name__)
    if fn is None or type(model).__module__.split(".")[0] != "river":
        return None
    try:
        body = fn(model)
    except (AttributeError, TypeError):  # a River version with other internals: no reuse
        return None
    return None if body is None else (type(model).__qualname__, body)


def ir_of(model: Any) -> ir.Model:
    """`to_ir(model)`, or the IR returned last for this model if its state has not moved."""
    key = fingerprint(model)
    if key is not None:
        try:
            held = _LAST.get(model)
        except TypeError:  # not weak-referenceable
            return to_ir(model)
        if held is not None and held[0] == key:
            return held[1]
    model_ir = to_ir(model)
    if key is not None:
        _LAST[model] = (key, model_ir)
    return model_ir


__all__ = ["fingerprint", "ir_of"]
