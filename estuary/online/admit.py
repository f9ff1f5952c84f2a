"""Refuse, when a `Learner` is created, a model it could never use: something that cannot
learn, and, when the Learner publishes to a store, a model no format exports. Otherwise the
first would fail at the first event and the second after it had learned, at the first snapshot.

Only what is refused in *every* format is refused here: a model some formats take is published
in those (`Publisher` skips the others)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..converters.registry import extractor_for, qualname, supported_models
from ..converters.river_to_ir.wrappers import holds_selector
from ..errors import NotAModelError, UnsupportedModelError

EXAMPLE = "e.g. preprocessing.StandardScaler() | linear_model.LogisticRegression()"
NO_STORE = "or create the Learner without store= to learn and checkpoint it only"


def admit(model: Any, publishes: bool) -> None:
    """`NotAModelError` if `model` has no `learn_one`; with `publishes`,
    `UnsupportedModelError` for a model, pipeline step or nested member (of an ensemble or a
    wrapper) that no format exports."""
    if not callable(getattr(model, "learn_one", None)):
        shown = repr(model) if isinstance(model, str | int | float | bool) else qualname(type(model))
        raise NotAModelError(f"Learner(model={shown}): not a model that learns (it has no learn_one); "
                             f"pass a River estimator, {EXAMPLE}")
    if not publishes:
        return
    for step in _steps(model):
        try:
            ex = extractor_for(step)
        except UnsupportedModelError:
            raise UnsupportedModelError(step, supported_models(), reason=(
                f"no format exports it, so this Learner could never publish a snapshot; pass a "
                f"supported model, {NO_STORE}")) from None
        if ex.refusal:
            raise UnsupportedModelError(step, supported_models(), reason=(
                f"{ex.refusal}; every format refuses it, so this Learner could never publish a "
                f"snapshot: pass a supported model, {NO_STORE}"))
        _admit_members(step, ex)


def _admit_members(step: Any, ex: Any) -> None:
    """The members an ensemble or wrapper holds, found as export finds them: its extractor's
    `inputs` asks `extractor_for` about each member it predicts with. Not for a step that is or
    holds a model selector (at any depth): `inputs` reads the candidate it predicts with now,
    and another candidate may win as it learns."""
    if isinstance(getattr(step, "steps", None), Mapping) or holds_selector(step):
        return  # a pipeline's steps are admitted one by one
    try:
        ex.inputs(step)
    except UnsupportedModelError as e:
        why = f" ({e.reason})" if e.reason else ""
        raise UnsupportedModelError(e.model_type, supported_models(), reason=(
            f"a member of {qualname(type(step))} that no format exports{why}, so this Learner "
            f"could never publish a snapshot; give it a supported member, {NO_STORE}")) from None


def _steps(model: Any) -> Iterator[Any]:
    """The model, then each step of a pipeline, depth first."""
    yield model
    steps = getattr(model, "steps", None)
    if isinstance(steps, Mapping):
        for step in steps.values():
            yield from _steps(step)
