"""Who converts what: River class → IR extractor, (format, IR node type) → emitter, and the
formats themselves.

Registering the same key twice raises `RegistrationError`, and so does an emitter whose signature
is not the one every emitter has, `emit(node, ctx) -> outputs` (`ctx` is the format's context
object: what the emitter builds into and reads from). Asking for an unregistered River class
raises `UnsupportedModelError` listing every supported class. No silent fallbacks.

A format is registered in one call, `register_format`, with everything the rest of estuary
needs to know about it: suffixes, writer, the runtimes that verify it (by name: converters never
import runtimes), precision, the extra that installs it, and its options with their defaults.
Formats are resolved by name; a file suffix only picks the first format registered for it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import (
    InvalidOptionError,
    RegistrationError,
    UnknownFormatError,
    UnsupportedModelError,
)


@dataclass(frozen=True)
class Case:
    """A catalogue case an extractor carries (River's `_unit_test_params`): `build()` returns a
    fresh, unlearned River model that contains the extractor's class; the parity suite learns it
    on the bundled River dataset named `dataset` and exports it to every format.

    >>> Case("scaler|logreg", "Phishing", lambda: StandardScaler() | LogisticRegression())
    """

    id: str
    dataset: str
    build: Callable[[], Any]


@dataclass(frozen=True)
class Extractor:
    """How one River class becomes IR.

    `extract(obj, columns, ctx)` returns an IR node (a Transform, or for a final estimator an
    `EstimatorIR`). `inputs(obj)` lists the raw keys the object knows: key → None for numeric, or
    the set of categories. `renames` is True when the step's output keys differ from its input keys
    (then the raw schema cannot be read past it). `cases` are the catalogue cases that exercise
    it: a `Case` it carries, or the id of a case another extractor carries (`cases_of` resolves).
    """

    river_type: type
    extract: Callable[..., Any]
    inputs: Callable[[Any], dict]
    renames: bool = False
    kind: str = "transform"  # "transform" | "estimator"
    produces: tuple[type, ...] = ()  # IR node types it can return (for the support matrix)
    refusal: str = ""  # why every export of this class is refused (shown in the support matrix)
    cases: tuple[Case | str, ...] = ()


PRECISIONS = ("float64", "float32")


@dataclass(frozen=True)
class Format:
    """A target format. `writer(snapshot, path, **options)` writes an artifact; `runtimes` name
    the entries of `estuary.runtimes.RUNTIMES` that load it (the first is the default);
    `precision` starts with "float64" or "float32" (the rest says where it differs); `extra` is
    the `pip install estuary-ml[<extra>]` that installs its library; `options` maps each option
    the writer takes to its default.

    >>> fmt = format_for("onnx"); fmt.write(snapshot, "model.onnx", {"opset": 17})
    """

    name: str
    suffixes: tuple[str, ...] | str
    writer: Callable[..., Any]
    describe: str = ""
    runtimes: tuple[str, ...] = ()
    precision: str = "float64"
    extra: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    # a container of another format's graph (ort: onnx): that format's emitters and refusals
    # write and bound it, so it exports exactly what that format exports
    via: str = ""
    # published (and exported by `estuary verify` of every format) unless formats are named
    by_default: bool = True
    # files the writer puts beside the artifact, named its stem + each of these (ort: the
    # reduced-operator config); they travel with it (export renames them with the artifact)
    companions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        suffixes = (self.suffixes,) if isinstance(self.suffixes, str) else tuple(self.suffixes)
        if not suffixes or not all(s.startswith(".") for s in suffixes):
            raise RegistrationError(f"format {self.name!r}: suffixes must start with '.', "
                                    f"got {self.suffixes!r}")
        if not self.precision.startswith(PRECISIONS):
            raise RegistrationError(f"format {self.name!r}: precision must start with one of "
                                    f"{PRECISIONS}, got {self.precision!r}")
        object.__setattr__(self, "suffixes", suffixes)
        object.__setattr__(self, "runtimes", tuple(self.runtimes))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def companion_paths(self, path: str | Path) -> list[Path]:
        """The files written beside the artifact at `path` (`model.ort` → `model.required_
        operators.config`)."""
        path = Path(path)
        return [path.with_name(path.stem + c) for c in self.companions]

    @property
    def suffix(self) -> str:
        """The suffix files of this format are written with."""
        return self.suffixes[0]

    def resolve_options(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults overridden by `options`; an unknown name or a value of the wrong type
        raises `InvalidOptionError` naming the options the format has."""
        out = dict(self.options)
        for key, value in (options or {}).items():
            if key not in out:
                have = ", ".join(f"{k}={v!r}" for k, v in out.items()) or "none"
                raise InvalidOptionError(f"format {self.name!r} has no option {key!r}; "
                                         f"its options: {have}")
            out[key] = _coerce(self.name, key, value, out[key])
        return out

    def write(self, snapshot: Any, path: str | Path,
              options: Mapping[str, Any] | None = None, signing_key: Any = None) -> Path:
        """Write `snapshot` to `path` with the format's options (defaults unless overridden),
        stamp the artifact's SHA-256 into its metadata (estuary/integrity.py), and sign it
        with `signing_key` (default $ESTUARY_SIGNING_KEY; none: unsigned; estuary/signing.py)."""
        from ..integrity import stamp
        from ..signing import sign_artifact
        from ..signing import signing_key as resolve_key

        key = resolve_key(signing_key)  # a bad key fails before anything is written
        out = self.writer(snapshot, path, **self.resolve_options(options))
        target = Path(out if out is not None else path)
        stamp(target)
        if key is not None:
            sign_artifact(target, key)
        return out


def _coerce(fmt: str, key: str, value: Any, default: Any) -> Any:
    """`value` as the type of `default` (a CLI gives strings); bool is not an int here."""
    kind = type(default)
    if isinstance(value, str) and kind is not str:
        try:
            value = kind(value)
        except ValueError:
            raise InvalidOptionError(
                f"format {fmt!r} option {key!r} takes a {kind.__name__}, got {value!r}") from None
    if type(value) is not kind:
        raise InvalidOptionError(
            f"format {fmt!r} option {key!r} takes a {kind.__name__}, got {value!r}")
    return value


EXTRACTORS: dict[type, Extractor] = {}
EMITTERS: dict[tuple[str, type], Callable[..., Any]] = {}
REFUSALS: dict[tuple[str, type], str] = {}  # (format, IR node type) → why it cannot be exact
FORMATS: dict[str, Format] = {}
UNAVAILABLE: dict[str, str] = {}  # format name → how to install what it needs
CONTEXTS: dict[str, str] = {}  # format → the annotation its emitters give `ctx`
VARIANTS: dict[str, str] = {}  # variant name → the format it varies (never chosen by suffix)


def qualname(t: type) -> str:
    module = t.__module__
    if module.startswith("river."):
        module = "river." + module.split(".")[1]
    return f"{module}.{t.__qualname__}"


def register_extractor(river_type: type, inputs: Callable[[Any], dict], *, renames: bool = False,
                       kind: str = "transform", produces: tuple[type, ...] = (),
                       refusal: str = "", cases: tuple[Case | str, ...] | list[Case | str] = ()
                       ) -> Callable:
    """Decorator: `@register_extractor(preprocessing.StandardScaler, inputs=..., cases=[...])`.

    `cases` are the catalogue cases that exercise the class: `Case` objects it carries, or the
    ids of cases other extractors carry (a pipeline case names every step it holds). A test
    fails for an extractor without any, and the parity suite is generated from them."""

    def deco(fn: Callable) -> Callable:
        if river_type in EXTRACTORS:
            raise RegistrationError(f"an extractor for {qualname(river_type)} is already registered")
        taken = {c.id for c in catalogue()}
        for c in cases:
            if isinstance(c, str):
                continue
            if not isinstance(c, Case):
                raise RegistrationError(f"{qualname(river_type)}: cases are Case objects or case "
                                        f"ids, got {c!r}")
            if c.id in taken:
                raise RegistrationError(f"catalogue case {c.id!r} is already registered")
            taken.add(c.id)
        EXTRACTORS[river_type] = Extractor(river_type, fn, inputs, renames, kind, produces,
                                           refusal, tuple(cases))
        return fn

    return deco


def supported_models() -> list[str]:
    """The classes an error may list as supported: not those registered only to say why every
    export of them is refused (the support matrix shows those reasons)."""
    return sorted(qualname(t) for t, ex in EXTRACTORS.items() if not ex.refusal)


def extractor_for(obj: Any) -> Extractor:
    """The extractor of exactly this class (subclasses may change semantics, so no MRO walk)."""
    ex = EXTRACTORS.get(type(obj))
    if ex is None:
        raise UnsupportedModelError(obj, supported_models())
    return ex


def catalogue() -> list[Case]:
    """Every case every extractor carries, in registration order."""
    return [c for ex in EXTRACTORS.values() for c in ex.cases if isinstance(c, Case)]


def cases_of(river_type: type) -> list[Case]:
    """The cases the extractor of `river_type` carries or names; a name no extractor carries
    raises `RegistrationError`."""
    carried = {c.id: c for c in catalogue()}
    out = []
    for c in EXTRACTORS[river_type].cases:
        if isinstance(c, str) and c not in carried:
            raise RegistrationError(f"{qualname(river_type)} names catalogue case {c!r}, which no "
                                    "extractor carries")
        out.append(carried[c] if isinstance(c, str) else c)
    return out


def check_signature(fmt: str, ir_type: type, fn: Callable) -> None:
    """Every emitter is `emit(node, ctx) -> outputs`: two positional parameters, the second
    named `ctx` and annotated with the same context type as the format's other emitters.

    >>> check_signature("onnx", ir.Linear, linear)  # def linear(est: ir.Linear, ctx: Context)
    """
    where = f"the {fmt} emitter {getattr(fn, '__qualname__', fn)!r} for {ir_type.__name__}"
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise RegistrationError(f"{where} has no inspectable signature") from None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.default is inspect.Parameter.empty
                and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    if (len(params) != 2 or len(required) != 2 or any(p.kind not in positional for p in params)
            or params[1].name != "ctx"):
        shown = f"({', '.join(p.name for p in params)})"
        raise RegistrationError(f"{where} takes {shown}; every emitter takes (node, ctx) and "
                                "returns its outputs")
    context = _context_type(fn, params[1].annotation)
    if not context:
        raise RegistrationError(f"{where}: annotate ctx with the format's context type")
    expected = CONTEXTS.setdefault(fmt, context)
    if context != expected:
        raise RegistrationError(f"{where}: ctx is {context!r}, the {fmt} emitters take {expected!r}")
    node = _annotation(params[0].annotation)
    names = {t.__name__ for t in ir_type.__mro__ if t is not object}  # `object` says nothing
    if node and not any(n in node.replace(".", " ").replace("|", " ").split() for n in names):
        raise RegistrationError(f"{where}: its node is annotated {node!r}, which is not a "
                                f"{ir_type.__name__}")


def _annotation(a: Any) -> str:
    if a is inspect.Parameter.empty:
        return ""
    return a if isinstance(a, str) else getattr(a, "__name__", repr(a))


def _context_type(fn: Callable, a: Any) -> str:
    """The ctx annotation as `module.Qualname` of the class it names (so two formats' classes
    both called `Context` differ); the annotation's text when it names nothing importable."""
    if a is inspect.Parameter.empty:
        return ""
    if isinstance(a, str) and a.isidentifier():
        a = getattr(fn, "__globals__", {}).get(a, a)
    if isinstance(a, type):
        return f"{a.__module__}.{a.__qualname__}"
    return _annotation(a)


def register_emitter(fmt: str, ir_type: type) -> Callable:
    """Decorator: `@register_emitter("onnx", ir.Linear)` on `def linear(est: ir.Linear, ctx:
    Context) -> dict[str, str]`. A second registration, an IR type the format refuses, or a
    signature other than `(node, ctx)` raises `RegistrationError`."""

    def deco(fn: Callable) -> Callable:
        if (fmt, ir_type) in EMITTERS:
            raise RegistrationError(f"a {fmt} emitter for {ir_type.__name__} is already registered")
        if (fmt, ir_type) in REFUSALS:
            raise RegistrationError(f"{fmt} refuses {ir_type.__name__} ({REFUSALS[(fmt, ir_type)]})"
                                    "; drop the refusal to register an emitter")
        check_signature(fmt, ir_type, fn)
        EMITTERS[(fmt, ir_type)] = fn
        return fn

    return deco


def register_refusal(fmt: str, ir_type: type, reason: str) -> None:
    """Say why `fmt` cannot express `ir_type` exactly: the error and the support matrix show it."""
    if (fmt, ir_type) in EMITTERS or (fmt, ir_type) in REFUSALS:
        raise RegistrationError(f"{fmt} already has an emitter or a refusal for {ir_type.__name__}")
    if not reason:
        raise RegistrationError(f"a {fmt} refusal of {ir_type.__name__} needs its reason")
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


def emit(fmt: str, node: Any, ctx: Any) -> Any:
    """The outputs of `node` in `fmt`: its registered emitter called as `emitter(node, ctx)`."""
    return emitter_for(fmt, node)(node, ctx)


def register_format(name: str | Format, *, suffixes: tuple[str, ...] | str = (),
                    writer: Callable[..., Any] | None = None, runtimes: tuple[str, ...] = (),
                    precision: str = "float64", extra: str = "",
                    options: Mapping[str, Any] | None = None, describe: str = "",
                    via: str = "", by_default: bool = True,
                    companions: tuple[str, ...] = ()) -> Format:
    """Register a format in one call.

    >>> register_format("onnx", suffixes=(".onnx",), writer=write_onnx,
    ...                 runtimes=("onnxruntime", "onnxruntime-web-node"), precision="float64",
    ...                 extra="core", options={"opset": 21, "ml_opset": 5})
    """
    if isinstance(name, Format):
        fmt = name
    else:
        if writer is None:
            raise RegistrationError(f"format {name!r} needs a writer")
        fmt = Format(name, suffixes, writer, describe, runtimes, precision, extra, options or {},
                     via, by_default, tuple(companions))
    if fmt.via and fmt.via not in FORMATS:
        raise RegistrationError(f"format {fmt.name!r} is written via {fmt.via!r}, which is not "
                                "registered: register it first")
    if fmt.name in FORMATS:
        raise RegistrationError(f"format {fmt.name!r} is already registered")
    FORMATS[fmt.name] = fmt
    return fmt


def emitted_as(fmt: str) -> str:
    """The format whose emitters and refusals decide what `fmt` exports (itself, or the format
    it contains: `emitted_as("ort") == "onnx"`)."""
    f = FORMATS.get(fmt)
    return f.via if f is not None and f.via else fmt


def default_formats() -> list[str]:
    """The formats published and verified when none are named (those not `by_default=False`)."""
    return sorted(n for n, f in FORMATS.items() if f.by_default)


def register_variant(name: str, of: str, options: Mapping[str, Any],
                     describe: str = "") -> Format:
    """A named variant of a registered format with other default options (same suffixes; it is
    chosen by name only, never by suffix).

    >>> register_variant("onnx-opset17", of="onnx", options={"opset": 17})
    """
    base = format_for(of)
    defaults = base.resolve_options(options)
    fmt = Format(name, base.suffixes, base.writer, describe or f"{base.describe} {dict(options)}",
                 base.runtimes, base.precision, base.extra, defaults, base.via, base.by_default,
                 base.companions)
    register_format(fmt)
    VARIANTS[name] = of
    return fmt


def format_for(name: str | None = None, path: str | None = None) -> Format:
    """Resolve a format by name, or else by the suffix of `path` (the first format registered
    with that suffix; a variant never answers for a suffix)."""
    if name:
        if name in UNAVAILABLE:
            raise UnknownFormatError(UNAVAILABLE[name])
        if name not in FORMATS:
            raise UnknownFormatError(f"unknown format {name!r}; available: {sorted(FORMATS)}")
        return FORMATS[name]
    for f in FORMATS.values():
        if path and f.name not in VARIANTS and any(str(path).endswith(s) for s in f.suffixes):
            return f
    suffixes = sorted({s for f in FORMATS.values() for s in f.suffixes})
    raise UnknownFormatError(
        f"cannot tell the format of {path!r} from its suffix; pass format= one of {sorted(FORMATS)}"
        f" or use a suffix in {suffixes}"
    )
