"""The catalogue the suites run: every case the registered extractors carry (River's
`_unit_test_params`: a model's cases live with its extractor, in
`estuary/converters/river_to_ir/<family>.py`), as (case id, bundled dataset, factory).

A `tests/catalog_<name>.py` module with a `CASES` list of such triples adds test-only cases (an
id the registry already carries keeps the registry's case); the catalog_<family>.py modules here
only select registry cases for the family suites (test_naive_bayes, test_trees).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path

import river.compose
import river.linear_model
import river.multiclass

import estuary  # noqa: F401  (registers every extractor and format)
from estuary.converters import registry

Case = tuple[str, str, Callable[[], object]]


def all_cases() -> list[Case]:
    cases = [(c.id, c.dataset, c.build) for c in registry.catalogue()]
    seen = {c[0] for c in cases}
    for path in sorted(Path(__file__).parent.glob("catalog_*.py")):
        for case in importlib.import_module(path.stem).CASES:
            if case[0] not in seen:
                cases.append(tuple(case))
                seen.add(case[0])
    return cases


def river_objects(obj: object, seen: set[int] | None = None) -> Iterator[object]:
    """Every River estimator inside `obj` (itself, pipeline steps, union parts, wrapped and
    member models), each once."""
    from river import base

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, base.Base):
        yield obj
        children = vars(obj).values()
    elif isinstance(obj, dict):
        children = obj.values()
    elif isinstance(obj, list | tuple):
        children = obj
    else:
        return
    for child in children:
        yield from river_objects(child, seen)


def registered_classes(model: object) -> set[type]:
    """The River classes inside `model` that have a registered extractor."""
    return {type(o) for o in river_objects(model) if type(o) in registry.EXTRACTORS}


def extractor_refusal(factory: Callable[[], object]) -> str:
    """Why every export of the case is refused (an extractor's declared `refusal`), or ''."""
    classes = registered_classes(factory())
    return "; ".join(sorted({registry.EXTRACTORS[c].refusal for c in classes} - {""}))


def select(*ids: str) -> list[Case]:
    """The catalogue cases with these ids, in this order."""
    by_id = {c[0]: c for c in all_cases()}
    return [by_id[i] for i in ids]


def carried_by(*river_types: type) -> list[Case]:
    """The cases these extractors carry or name, as (case id, dataset, factory)."""
    return [(c.id, c.dataset, c.build) for t in river_types for c in registry.cases_of(t)]


# the original catalogue's first list, kept for the suites that import it
LINEAR_CASES: list[Case] = carried_by(
    river.linear_model.LogisticRegression, river.linear_model.PAClassifier,
    river.linear_model.Perceptron, river.linear_model.SoftmaxRegression,
    river.multiclass.OneVsRestClassifier, river.linear_model.LinearRegression,
    river.linear_model.PARegressor, river.compose.Discard, river.compose.TransformerUnion)
