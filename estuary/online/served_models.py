"""The models one `estuary serve ROOT` answers for: the root's own store, or its named models.

Each named model (`ROOT/<name>/`, catalog.py) has a server state of its own (its served
version, refusals, watcher), so it is loaded, swapped and refused on its own: one model's bad
version never touches another. Models that appear later (a Kafka partition's first publish)
are found by `scan()`, which the server runs every few polls.

A request names its model by `/models/<name>/...` or `?model=<name>`; without a name it gets
the root's own store when the root is one (or holds no named model yet), else a 404 listing
the models.

>>> models = ModelSet(Path("models"), make_state); models.get("fraud").served
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from prometheus_client.registry import Collector

from ..errors import EstuaryError
from .catalog import is_store, model_names
from .store import Store


class UnknownModelError(EstuaryError, LookupError):
    """A request named a model the store root does not hold (HTTP 404)."""


class ModelSet:
    """The root's own state (`default`) and one state per named model (`named`)."""

    def __init__(self, root: Path, default: Any, make: Callable[[Store, str], Any]):
        self.root, self.default, self.make = Path(root), default, make
        self.named: dict[str, Any] = {}

    def scan(self) -> list[Any]:
        """Add a state for each named model that appeared since the last scan; the new ones."""
        new = []
        for name in model_names(self.root):
            if name not in self.named:
                self.named[name] = self.make(Store(self.root / name), name)
                new.append(self.named[name])
        return new

    @property
    def single(self) -> bool:
        """A one-model root: requests without a model name are its own."""
        return not self.named or is_store(self.root)

    def names(self) -> list[str]:
        return sorted(self.named)

    def get(self, name: str | None) -> Any:
        """The state of model `name` (None: the root's own, on a single-model root)."""
        if not name:
            if self.single:
                return self.default
            raise UnknownModelError(
                f"{self.root} holds {len(self.named)} models ({', '.join(self.names())}): ask "
                "/models/<name>/predict, /models/<name>/latest, or add ?model=<name>")
        state = self.named.get(name)
        if state is None and not self.single:
            self.scan()  # published since the last scan
            state = self.named.get(name)
        if state is None:
            raise UnknownModelError(f"no model {name!r} in {self.root}; it holds "
                                    f"{self.names() or 'one unnamed model (leave out the name)'}")
        return state

    def for_page(self, name: str | None) -> tuple[Any, str | None]:
        """The state the page shows, and its name: `name`, else the first named model."""
        if not name and not self.single:
            name = self.names()[0]
        return self.get(name), name

    def named_in(self, scope: dict) -> str | None:
        """The named model an ASGI request names (`/models/<name>/...`, `?model=<name>`),
        if it is one of them, else None: a bounded metrics label."""
        params = scope.get("path_params") or {}
        name = params.get("name") or params.get("version")
        if name not in self.named:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            name = (query.get("model") or [None])[0]
        return name if name in self.named else None

    def states(self) -> Iterator[tuple[str | None, Any]]:
        yield None, self.default
        yield from sorted(self.named.items())


class NamedCollector(Collector):
    """Prometheus families of every named model, one family per metric (the `model` label
    tells them apart): `per_state(state, name)` is the one-model collector to merge."""

    def __init__(self, models: ModelSet, per_state: Callable[[Any, str], Collector]):
        self.models, self.per_state = models, per_state

    def collect(self) -> Iterator[Any]:
        merged: dict[str, Any] = {}
        for name, state in sorted(self.models.named.items()):
            for family in self.per_state(state, name).collect():
                if family.name in merged:
                    merged[family.name].samples.extend(family.samples)
                else:
                    merged[family.name] = family
        yield from merged.values()


__all__ = ["ModelSet", "NamedCollector", "UnknownModelError"]
