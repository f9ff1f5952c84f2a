"""Plain numpy evaluator of the IR: the debugging oracle, never the parity reference.

`evaluate(model, X)` takes the artifact's input matrix (schema columns, NaN = missing) and
returns what every artifact of the model's task must return (`ir.tasks`): `probabilities`
[N, C] and `label` [N] (class indices) for classifiers, `value` [N] for regressors, and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import arithmetic
from .arithmetic import NUMPY
from .nodes import Chain, Estimator, Linear, Model, OneHot, Scale, Select, Transform, Union
from .tasks import TASKS, Task

Block = tuple[np.ndarray, tuple[str, ...]]  # matrix [N, F] and its column names

TRANSFORM_EVALUATORS: dict[type, Callable[[Transform, Block], Block]] = {}
# an estimator's evaluator returns its task's main output (`Task.kind`), or a dict of internal
# outputs by name when it gives more (an anomaly filter's `is_anomaly`)
ESTIMATOR_EVALUATORS: dict[type, Callable[[Estimator, np.ndarray], Any]] = {}


def evaluates(node_type: type) -> Callable:
    """Register the numpy evaluation of an IR node type (transform or estimator)."""

    def deco(fn: Callable) -> Callable:
        table = TRANSFORM_EVALUATORS if issubclass(node_type, Transform) else ESTIMATOR_EVALUATORS
        if node_type in table:
            raise ValueError(f"an evaluator for {node_type.__name__} is already registered")
        table[node_type] = fn
        return fn

    return deco


def gather(block: Block, columns: tuple[str, ...]) -> np.ndarray:
    X, names = block
    index = {c: i for i, c in enumerate(names)}
    return X[:, [index[c] for c in columns]] if columns else np.zeros((X.shape[0], 0))


def transform(step: Transform, block: Block) -> Block:
    fn = TRANSFORM_EVALUATORS.get(type(step))
    if fn is None:
        raise NotImplementedError(f"no numpy evaluator for {type(step).__name__}")
    return fn(step, block)


def evaluate(model: Model, X: np.ndarray) -> dict[str, np.ndarray]:
    """Run the model on the input matrix [N, F] in schema order (NaN = missing)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(model.schema.columns):
        raise ValueError(f"expected a matrix with {len(model.schema.columns)} columns")
    block = transform(model.transform, (X, model.schema.columns))
    Z = gather(block, model.estimator.columns)
    fn = ESTIMATOR_EVALUATORS.get(type(model.estimator))
    if fn is None:
        raise NotImplementedError(f"no numpy evaluator for {type(model.estimator).__name__}")
    out = fn(model.estimator, Z)
    internal = out if isinstance(out, dict) else {TASKS[model.task].kind: out}
    if TASKS[model.task].per_target:
        return target_outputs(TASKS[model.task], internal, model.classes)
    return task_outputs(TASKS[model.task], internal)


def main_matrix(spec: Task, out: dict[str, np.ndarray], classes: tuple) -> np.ndarray:
    """The task's main output as [N, width], the shape golden rows and parity use (per-target
    tasks: every target's probabilities or value side by side, in `classes` order)."""
    if spec.per_target:
        parts = [np.asarray(out[name]) for name, what, _ in spec.target_outputs(classes)
                 if what != "label"]
        return np.hstack([p.reshape(len(p), -1) for p in parts])
    main = np.asarray(out[spec.output])
    return main if spec.per_class else main.reshape(-1, 1)


def target_outputs(spec: Task, internal: dict[str, np.ndarray],
                   targets: tuple) -> dict[str, np.ndarray]:
    """A per-target task's outputs (`Task.target_outputs`) from its side-by-side main output."""
    main = internal[spec.kind]
    out = {}
    for name, what, start in spec.target_outputs(targets):
        part = main[:, start:start + spec.target_width]
        out[name] = (np.argmax(part, axis=1) if what == "label"
                     else part if what == "probabilities" else part.reshape(-1))
    return out


def task_outputs(spec: Task, internal: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The artifact's outputs (`ir.tasks`) from what the estimator computed: the main output
    under the task's name, its arg-max/arg-min index (first extremum, as River's max/min),
    and the optional outputs the estimator gave."""
    main = internal[spec.kind]
    out = {spec.output: main if spec.per_class else main.reshape(-1)}
    if spec.index:
        pick = np.argmax if spec.index == "argmax" else np.argmin
        out[spec.index_output] = pick(main, axis=1)
    out.update({k: internal[k] for k in spec.optional if k in internal})
    return out


@evaluates(Select)
def _select(step: Select, block: Block) -> Block:
    return gather(block, step.columns), step.columns


@evaluates(Scale)
def _scale(step: Scale, block: Block) -> Block:
    X = gather(block, step.columns)
    offset = np.asarray(step.offset)
    divisor = np.asarray(step.divisor)
    safe = np.where(divisor == 0, 1.0, divisor)
    out = np.where(divisor == 0, 0.0, (X - offset) / safe)
    return np.where(np.isnan(X), np.nan, out), step.columns


@evaluates(OneHot)
def _one_hot(step: OneHot, block: Block) -> Block:
    X = gather(block, step.source)
    fill = np.nan if step.missing_as_nan else 0.0
    return np.where(np.isnan(X), fill, X), step.target


@evaluates(Chain)
def _chain(step: Chain, block: Block) -> Block:
    for s in step.steps:
        block = transform(s, block)
    return block


@evaluates(Union)
def _union(step: Union, block: Block) -> Block:
    parts = [transform(b, block) for b in step.branches]
    names: dict[str, tuple[int, int]] = {}
    for p, (_, cols) in enumerate(parts):
        for j, c in enumerate(cols):
            names.setdefault(c, (p, j))
    n = block[0].shape[0]
    X = np.empty((n, len(names)))
    for k, (p, j) in enumerate(names.values()):
        X[:, k] = parts[p][0][:, j]
    return X, tuple(names)


@evaluates(Linear)
def _linear(est: Linear, Z: np.ndarray) -> np.ndarray:
    W = np.asarray(est.weights, dtype=np.float64).reshape(len(est.intercepts), len(est.columns))
    z = np.where(np.isnan(Z), 0.0, Z) @ W.T + np.asarray(est.intercepts)  # keep ±inf: River does
    out = arithmetic.normalised(NUMPY, arithmetic.link(NUMPY, est.link, z))
    return out[:, 0] if est.link == "identity" else out
