"""Who converts what: River class → IR extractor, and (format, IR node type) → emitter.

Registering the same key twice raises `RegistrationError`; asking for an unregistered River class
raises `UnsupportedModelError` listing every supported class. No silent fallbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import RegistrationError, UnknownFormatError, UnsupportedModelError


@dataclass(frozen=True)
class Extractor:
    """How one River class becomes IR.

    `extract(obj, columns, ctx)` returns an IR node (a Transform, or for a final estimator an
    `EstimatorIR`). `inputs(obj)` lists the raw keys the object knows: key → None for numeric, or
    the set of categories. `renames` is True when the step's output keys differ from its input keys
    (then the raw schema cannot be read past it).
    """

    river_type: type
    extract: Callable[..., Any]
    inputs: Callable[[Any], dict]
    renames: bool = False
    kind: str = "transform"  # "transform" | "estimator"
    produces: tuple[type, ...] = ()  # IR node types it can return (for the support matrix)
    refusal: str = ""  # why every export of this class is refused (shown in the support matrix)


@dataclass(frozen=True)
class Format:
    """A target format: its name, file suffix, and the function that writes a Snapshot."""

    name: str
    suffix: str
    write: Callable[..., Any]
    describe: str = ""


EXTRACTORS: dict[type, Extractor] = {}
EMITTERS: dict[tuple[str, type], Callable[..., Any]] = {}
REFUSALS: dict[tuple[str, type], str] = {}  # (format, IR node type) → why it cannot be exact
FORMATS: dict[str, Format] = {}
UNAVAILABLE: dict[str, str] = {}  # format name → how to install what it needs


def qualname(t: type) -> str:
    module = t.__module__
    if module.startswith("river."):
        module = "river." + module.split(".")[1]
    return f"{module}.{t.__qualname__}"


def register_extractor(river_type: type, inputs: Callable[[Any], dict], *, renames: bool = False,
                       kind: str = "transform", produces: tuple[type, ...] = (),
                       refusal: str = "") -> Callable:
    """Decorator: `@register_extractor(preprocessing.StandardScaler, inputs=...)`."""

    def deco(fn: Callable) -> Callable:
        if river_type in EXTRACTORS:
            raise RegistrationError(f"an extractor for {qualname(river_type)} is already registered")
        EXTRACTORS[river_type] = Extractor(river_type, fn, inputs, renames, kind, produces, refusal)
        return fn

    return deco


def supported_models() -> list[str]:
    return sorted(qualname(t) for t in EXTRACTORS)


def extractor_for(obj: Any) -> Extractor:
    """The extractor of exactly this class (subclasses may change semantics, so no MRO walk)."""
    ex = EXTRACTORS.get(type(obj))
    if ex is None:
        raise UnsupportedModelError(obj, supported_models())
    return ex


def register_emitter(fmt: str, ir_type: type) -> Callable:
    """Decorator: `@register_emitter("onnx", ir.Linear)`."""

    def deco(fn: Callable) -> Callable:
        if (fmt, ir_type) in EMITTERS:
            raise RegistrationError(f"a {fmt} emitter for {ir_type.__name__} is already registered")
        EMITTERS[(fmt, ir_type)] = fn
        return fn

    return deco


def register_refusal(fmt: str, ir_type: type, reason: str) -> None:
    """Say why `fmt` cannot express `ir_type` exactly: the error and the support matrix show it."""
    if (fmt, ir_type) in EMITTERS or (fmt, ir_type) in REFUSALS:
        raise RegistrationError(f"{fmt} already has an emitter or a refusal for {ir_type.__name__}")
    REFUSALS[(fmt, ir_type)] = reason


def emitter_for(fmt: str, node: Any) -> Callable[..., Any]:
    fn = EMITTERS.get((fmt, type(node)))
    if fn is None and (fmt, type(node)) in REFUSALS:
        raise UnsupportedModelError(type(node).__name__, [t.__name__ for f, t in EMITTERS if f == fmt],
                                    reason=f"{fmt}: {REFUSALS[(fmt, type(node))]}")
    if fn is None:
        have = sorted(t.__name__ for f, t in EMITTERS if f == fmt)
        raise UnsupportedModelError(
            type(node).__name__, have, reason=f"the {fmt} emitter has no rule for this IR node"
        )
    return fn


def register_format(fmt: Format) -> None:
    if fmt.name in FORMATS:
        raise RegistrationError(f"format {fmt.name!r} is already registered")
    FORMATS[fmt.name] = fmt


def format_for(name: str | None = None, path: str | None = None) -> Format:
    """Resolve a format by name, or else by the file suffix of `path`."""
    if name:
        if name in UNAVAILABLE:
            raise UnknownFormatError(UNAVAILABLE[name])
        if name not in FORMATS:
            raise UnknownFormatError(f"unknown format {name!r}; available: {sorted(FORMATS)}")
        return FORMATS[name]
    for f in FORMATS.values():
        if path and str(path).endswith(f.suffix):
            return f
    raise UnknownFormatError(
        f"cannot tell the format of {path!r} from its suffix; pass format= one of {sorted(FORMATS)}"
        f" or use a suffix in {sorted(f.suffix for f in FORMATS.values())}"
    )
