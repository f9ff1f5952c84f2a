"""Many named models in one store root: `ROOT/<name>/` is a `Store` of its own.

    ROOT/
      fraud/versions/<n>/ ...   latest   pin   log.jsonl     one model, as store.py describes
      churn/versions/<n>/ ...
      events-0/ events-1/ ...   Kafka: a model per partition (`<topic>-<p>`, kafka.py)

Why a directory per name, not a name inside each version: every guarantee of store.py (atomic
`latest`, pins, retention, the lock) stays per model, so one model's publish, pin or corrupt
version never touches another's, and `estuary serve ROOT` watches each on its own. A root that
is itself a store (`ROOT/versions/`, `ROOT/latest`) is a single-model store, served as before.

A name is 1-100 characters of letters, digits, `.`, `_` and `-`, starting with a letter or a
digit, not all digits (the server's `/models/<n>/<file>` reads those as a version number) and
not one of the server's own words under `/models/` (RESERVED).

>>> named_store("models", "fraud").root  # PosixPath('models/fraud')
>>> model_names("models")  # ['churn', 'fraud']
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import EstuaryError
from .store import LATEST, Store

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
RESERVED = frozenset({"latest", "history", "head", "predict"})


class ModelNameError(EstuaryError, ValueError):
    """A model name that cannot be a directory of a store root, or a root that cannot hold one."""


def check_name(name: str) -> str:
    """`name` if it can name a model, else `ModelNameError` saying what a name may be."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name.isdigit() \
            or name in RESERVED:
        raise ModelNameError(
            f"model name {name!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit, not only digits and not one of {sorted(RESERVED)}")
    return name


def is_store(path: Path) -> bool:
    """Whether `path` is one model's store (it has `versions/` or `latest`)."""
    return (path / "versions").is_dir() or (path / LATEST).exists()


def model_names(root: str | Path) -> list[str]:
    """The named models under `root`, sorted; [] when `root` is itself a store (one model)."""
    root = Path(root)
    if is_store(root) or not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if NAME.fullmatch(p.name) and not p.name.isdigit() and p.name not in RESERVED
                  and not p.is_symlink() and p.is_dir() and is_store(p))


def named_store(root: str | Path, name: str, keep: int = 10) -> Store:
    """The store of model `name` under `root` (created when it first publishes)."""
    root = Path(root)
    if is_store(root):
        raise ModelNameError(f"{root} is a single-model store: put named models in a directory "
                             f"of their own (e.g. {root.parent / 'models'}/{name})")
    return Store(root / check_name(name), keep=keep)


__all__ = ["ModelNameError", "check_name", "is_store", "model_names", "named_store"]
