"""The frozen IR: plain numbers in immutable dataclasses, one class per concept.

Columns are referred to by name. The input vector's columns come from the `FeatureSchema`
(a numeric feature is one column, a categorical feature one column per category); each
transform maps the named columns it receives to the named columns it returns, exactly as the
River step maps dict keys to dict keys. Missing values travel as NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .tasks import TASKS

Scalar = str | int | float | bool

NODE_TYPES: dict[str, type] = {}


class IRError(ValueError):
    """An IR node is inconsistent (shapes, names or values)."""


def ir_node(cls: type) -> type:
    """Register a frozen dataclass as an IR node so that JSON round trips find it by name."""
    name = cls.__name__
    if name in NODE_TYPES:
        raise IRError(f"IR node type {name!r} is registered twice")
    NODE_TYPES[name] = cls
    return cls


def require_columns(step: str, wanted: Iterable[str], inputs: tuple[str, ...]) -> None:
    """Raise IRError naming the columns `step` reads that no earlier step produces."""
    have = set(inputs)
    missing = [c for c in wanted if c not in have]
    if missing:
        raise IRError(f"{step} asks for columns that are not there: {missing}")


def category_column(feature: str, category: Scalar) -> str:
    """Name of the input column that is 1.0 when `feature == category`."""
    return f"{feature}={category}"


@ir_node
@dataclass(frozen=True)
class Feature:
    """One raw input key. `key` keeps the original (int keys stay ints); `name` is its string."""

    name: str
    key: Scalar
    kind: str = "numeric"  # "numeric" | "categorical"
    categories: tuple[Scalar, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "categorical"):
            raise IRError(f"feature {self.name!r}: kind must be numeric or categorical")
        if self.kind == "categorical" and not self.categories:
            raise IRError(f"categorical feature {self.name!r} has no categories")

    @property
    def columns(self) -> tuple[str, ...]:
        if self.kind == "numeric":
            return (self.name,)
        return tuple(category_column(self.name, c) for c in self.categories)


@ir_node
@dataclass(frozen=True)
class FeatureSchema:
    """Ordered raw inputs; `columns` is the artifact's input tensor layout."""

    features: tuple[Feature, ...]

    def __post_init__(self) -> None:
        cols = self.columns
        if len(set(cols)) != len(cols):
            dup = sorted({c for c in cols if cols.count(c) > 1})
            raise IRError(f"input columns collide: {dup}; rename the features")

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for f in self.features for c in f.columns)

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)


# --------------------------------------------------------------------------------- transforms


class Transform:
    """Marker base: a step from named columns to named columns."""

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        raise NotImplementedError


@ir_node
@dataclass(frozen=True)
class Select(Transform):
    """Keep these columns, in this order (River `compose.Select` / `Discard`)."""

    columns: tuple[str, ...]

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        require_columns("Select", self.columns, inputs)
        return self.columns


@ir_node
@dataclass(frozen=True)
class Scale(Transform):
    """out = (x - offset) / divisor, or 0.0 where divisor == 0; NaN (missing) stays NaN.

    One entry per input column, in input order: StandardScaler (divisor = sqrt(var), River's
    zero-variance rule), MinMaxScaler, MaxAbsScaler all fit this shape.
    """

    columns: tuple[str, ...]
    offset: tuple[float, ...]
    divisor: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.columns) == len(self.offset) == len(self.divisor):
            raise IRError("Scale: columns, offset and divisor differ in length")

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        if inputs != self.columns:
            raise IRError("Scale must receive exactly its own columns, in order")
        return self.columns


@ir_node
@dataclass(frozen=True)
class OneHot(Transform):
    """River `OneHotEncoder`: input one-hot columns renamed to River's `f"{key}_{value}"` keys.

    `source` are input columns (already 1.0/0.0, NaN when the feature is missing); `target` the
    output names. A missing feature gives 0.0 everywhere unless River drops zeros
    (`missing_as_nan`), in which case the keys are absent downstream, i.e. NaN.
    """

    source: tuple[str, ...]
    target: tuple[str, ...]
    missing_as_nan: bool = False

    def __post_init__(self) -> None:
        if len(self.source) != len(self.target):
            raise IRError("OneHot: source and target differ in length")

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        require_columns("OneHot", self.source, inputs)
        return self.target


@ir_node
@dataclass(frozen=True)
class Chain(Transform):
    """Transforms applied one after another (the transformer part of a River Pipeline)."""

    steps: tuple[Transform, ...]

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        for step in self.steps:
            inputs = step.output_columns(inputs)
        return inputs


@ir_node
@dataclass(frozen=True)
class Union(Transform):
    """River `TransformerUnion`: every branch sees the same input; on a duplicate output name
    the first branch wins (River builds the dict first-occurrence-wins)."""

    branches: tuple[Chain, ...]

    def output_columns(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for branch in self.branches:
            for c in branch.output_columns(inputs):
                seen.setdefault(c, None)
        return tuple(seen)


# --------------------------------------------------------------------------------- estimators


class Estimator:
    """Marker base: the final step; reads named columns, returns values or probabilities."""

    columns: tuple[str, ...]


LINKS = ("identity", "sigmoid", "softmax", "ovr_sigmoid")


@ir_node
@dataclass(frozen=True)
class Linear(Estimator):
    """z_k = Σ_j w_kj · x_j + b_k over present columns (NaN contributes 0), then the link.

    - identity: regression, K = 1.
    - sigmoid: binary; p = River's clamped sigmoid (`ir.arithmetic.clamped_sigmoid`); probas [1-p, p].
    - softmax: K classes, River's max-shifted softmax.
    - ovr_sigmoid: K one-vs-rest sigmoids normalised by their sum (uniform if the sum is 0).
    """

    columns: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]  # [K][F]
    intercepts: tuple[float, ...]  # [K]
    link: str

    def __post_init__(self) -> None:
        if self.link not in LINKS:
            raise IRError(f"Linear.link must be one of {LINKS}, not {self.link!r}")
        if len(self.weights) != len(self.intercepts):
            raise IRError("Linear: weights and intercepts differ in length")
        for row in self.weights:
            if len(row) != len(self.columns):
                raise IRError("Linear: a weight row does not match the columns")


# --------------------------------------------------------------------------------- the model


@ir_node
@dataclass(frozen=True)
class Model:
    """Schema → transforms → estimator. `classes` is River's probability dict order."""

    schema: FeatureSchema
    transform: Chain
    estimator: Estimator
    task: str  # a name in `ir.tasks.TASKS`
    classes: tuple[Scalar, ...] = ()  # classes, or cluster ids for clusterers
    source: str = ""  # the River class this came from, e.g. "river.compose.Pipeline"

    def __post_init__(self) -> None:
        spec = TASKS.get(self.task)
        if spec is None:
            raise IRError(f"task must be one of {sorted(TASKS)}, not {self.task!r}")
        if self.task == "classification" and len(self.classes) < 2:
            raise IRError("a classifier needs at least two classes")
        if len(self.classes) < spec.min_classes:
            raise IRError(f"a {self.task} model needs at least {spec.min_classes} ids")
        if self.classes and not spec.has_classes:
            raise IRError(f"a {self.task} model has no classes")
        out = self.transform.output_columns(self.schema.columns)
        missing = [c for c in self.estimator.columns if c not in out]
        if missing:
            raise IRError(f"the estimator reads columns no step produces: {missing}")


@ir_node
@dataclass(frozen=True)
class Provenance:
    """Where a snapshot came from. Not part of the model hash."""

    river_version: str
    estuary_version: str
    n_events: int | None = None
    created_at: str | None = None
    snapshot_id: str | None = None


@ir_node
@dataclass(frozen=True)
class Snapshot:
    """A model frozen at one moment, with its provenance and golden check vectors."""

    model: Model
    provenance: Provenance
    golden_inputs: tuple[tuple[float | None, ...], ...] = ()  # input rows; None = missing
    golden_outputs: tuple[tuple[float, ...], ...] = ()  # probabilities or (value,)
    notes: tuple[str, ...] = field(default=())
    golden_labels: tuple[Scalar | None, ...] = ()  # River's predict_one (classifiers)
