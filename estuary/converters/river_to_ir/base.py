"""Shared pieces of River → IR extraction: the estimator result and key/feature helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ... import ir
from ...errors import EmptyModelError, UnsupportedModelError
from ..registry import supported_models


@dataclass(frozen=True)
class EstimatorIR:
    """What an estimator extractor returns: the IR estimator, its task and River's class order."""

    estimator: ir.Estimator
    task: str
    classes: tuple = ()


# every key of River's bundled Phishing dataset: catalogue and census cases close a row with it
PHISHING_KEYS = ("empty_server_form_handler", "popup_window", "https", "request_from_other_domain",
                 "anchor_from_other_domain", "is_popular", "long_url", "age_of_domain",
                 "ip_in_url")
# every key of River's bundled TrumpApproval dataset
TRUMP_KEYS = ("gallup", "ipsos", "morning_consult", "ordinal_date", "rasmussen", "you_gov")

def key_name(key: Any) -> str:
    """River keys may be any hashable; the IR names columns by their string."""
    return key if isinstance(key, str) else str(key)


def canonical_order(values: Any) -> list:
    """`values` (a River set: classes, categories) in an order that depends on their content
    only, not on the set's history or PYTHONHASHSEED (a set of str iterates in hash order, so a
    pickled or deep-copied model, or another process, may list it otherwise), so equal states
    freeze to equal IR. Mixed types sort by type name, then text: str, int and bool classes
    never compare with each other. Only where River's answer does not depend on the order
    (a tie-break that follows it must keep River's own order)."""
    return sorted(values, key=_order_key)


def _order_key(value: Any) -> tuple[str, str]:
    """`canonical_order`'s key: the plain value's type name, then its text."""
    value = plain(value)
    return type(value).__name__, str(value)


def categorical_owner(ctx: Any) -> dict[str, Any]:
    """Each column of the row's raw categorical features (one per category) → its feature:
    the keys River receives as category values, not numbers, when no encoder comes first."""
    return {c: f for f in ctx.schema.features if f.kind == "categorical" for c in f.columns}


def raw_categories(columns: tuple[str, ...], ctx: Any) -> list[str]:
    """The raw categorical features (by name) among `columns`: values River receives as
    categories, not numbers, when no encoder comes first."""
    owner = categorical_owner(ctx)
    return sorted({owner[c].name for c in columns if c in owner})


def require_closed(m: Any, ctx: Any, why: str) -> None:
    """Refuse `m`, which reads every key of the row, unless the row reaches it closed
    (`ctx.closed`): `why` says what River does with a key an artifact cannot see."""
    if not ctx.closed:
        raise UnsupportedModelError(m, supported_models(), reason=(
            f"{why}; put compose.Select(<keys>) in front of it"))


# what to put in front of raw categories where the row must stay closed (`require_closed`)
ENCODE_CLOSED = "encode them (OneHotEncoder behind the Select is not closed: use OrdinalEncoder)"


def require_encoded(m: Any, columns: tuple[str, ...], ctx: Any, why: str = "",
                    fix: str = "encode them (OrdinalEncoder) first") -> None:
    """Refuse `m` when raw categories reach it among `columns` (`why`: what River would do
    with them, `fix`: what to put in front)."""
    hit = raw_categories(columns, ctx)
    if hit:
        raise UnsupportedModelError(m, supported_models(), reason=(
            f"it receives {hit} as raw categories{why}; {fix}"))


def plain(value: Any) -> Any:
    """A JSON scalar for a key, class or category (numpy scalars become Python ones)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, (str, bool, int, float)):
        return value
    raise UnsupportedModelError(
        f"a {type(value).__name__} key, class or category", [],
        reason=f"{value!r} cannot be stored: use str, int, float or bool keys (map the keys "
        "to strings before learn_one)")


def numeric_inputs(keys: Any) -> dict:
    """`inputs()` answer for a step that knows these keys as numbers."""
    return {k: None for k in keys}


def require_learned(condition: bool, what: str) -> None:
    if not condition:
        raise EmptyModelError(f"{what} has learned nothing: call learn_one on some data before export")
