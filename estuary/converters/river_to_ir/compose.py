"""River `compose`: Pipeline, TransformerUnion, Select, Discard → IR Chain / Union / Select."""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable
from typing import Any

from river import compose, linear_model, preprocessing, tree

from ... import ir
from ...errors import UnsupportedModelError
from ...ir.features import Polynomial
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import EstimatorIR, categorical_owner, key_name


def merge_inputs(into: dict, more: dict) -> dict:
    """Union of `inputs()` answers; a key categorical anywhere is categorical."""
    for k, cats in more.items():
        if cats is None:
            into.setdefault(k, None)
        else:
            into[k] = set(into.get(k) or ()) | set(cats)
    return into


def pipeline_inputs(p: compose.Pipeline) -> dict:
    """Raw keys a pipeline knows: read steps front to back until one renames its keys. A key
    renamer (`Prefixer`, `Suffixer`, `Renamer`) is read through: the keys the steps behind it
    know are mapped back to the raw keys they come from."""
    found: dict = {}
    back: Callable[[Any], Any] = lambda k: k  # noqa: E731  (a key here → its raw key, or None)
    for step in p.steps.values():
        ex = extractor_for(step)
        for k, cats in ex.inputs(step).items():
            raw = back(k)
            if raw is not None:
                merge_inputs(found, {raw: cats})
        if type(step) in KEY_RENAMERS:
            back = _through(back, KEY_RENAMERS[type(step)][1], step)
            continue
        if isinstance(step, compose.TransformerUnion):  # read through its key-keeping branches
            back = _through(back, _union_source, step)
            continue
        if ex.renames:
            break
    return found


def _branch_source(steps: list, key: Any) -> Any:
    """The raw key a union branch passes on as `key`, unchanged in value, or None. Only a branch
    of key routing (Select, Discard, renamers) that selects the key by name counts: a scaler or
    encoder branch makes its keys from values, and a branch that passes every key would claim
    keys another branch makes (the IR's union resolves a duplicate name once, not per row)."""
    selected = False
    for step in reversed(flatten(steps)):
        if isinstance(step, compose.Select):
            if key not in step.keys:
                return None
            selected = True
        elif isinstance(step, compose.Discard):
            if key in step.keys:
                return None
        elif type(step) in KEY_RENAMERS:
            key = KEY_RENAMERS[type(step)][1](step, key)
            if key is None:
                return None
        else:
            return None
    return key if selected else None


def _union_source(u: compose.TransformerUnion, key: Any) -> Any:
    """The raw key a key behind a union comes from, as River's union builds its dict (the first
    branch that emits the key wins): a string a union passes on reaches the model as a string,
    so the model's categories for it are the raw key's categories."""
    for t in u.transformers.values():
        raw = _branch_source([t], key)
        if raw is not None:
            return raw
    return None


def _through(back: Callable, inverse: Callable, step: Any) -> Callable:
    def mapped(k: Any) -> Any:
        before = inverse(step, k)
        return None if before is None else back(before)
    return mapped


def flatten(steps: list) -> list:
    """Nested transformer pipelines are the same chain as their steps inline."""
    out = []
    for step in steps:
        out.extend(flatten(list(step.steps.values())) if isinstance(step, compose.Pipeline) else [step])
    return out


def _key_keeping() -> tuple[type, ...]:
    """River steps whose output keys come from their input keys alone (a subset, a rename, one
    per input, or a fixed set): behind them, a row holds no key the artifact cannot see if it
    held none in front. A OneHotEncoder is not one: an unseen category makes a new key."""
    from river import feature_extraction, feature_selection

    return (compose.Discard, compose.Prefixer, compose.Suffixer, compose.Renamer,
            compose.SelectType, preprocessing.StandardScaler, preprocessing.MinMaxScaler,
            preprocessing.MaxAbsScaler, preprocessing.RobustScaler,
            preprocessing.AdaptiveStandardScaler, preprocessing.StatImputer,
            preprocessing.Binarizer, preprocessing.Normalizer, preprocessing.OrdinalEncoder,
            preprocessing.GaussianRandomProjector, preprocessing.SparseRandomProjector,
            feature_extraction.PolynomialExtender, feature_selection.SelectKBest,
            feature_selection.VarianceThreshold)


def closed_after(step: Any, closed: bool) -> bool:
    """Whether the rows leaving `step` can only hold keys the IR knows (`ctx.closed`), given
    whether the rows reaching it could. River's `compose.Select` closes the key set (it
    builds its output from its own keys); a union is closed when every branch is (its
    extractor says so in `ctx.closed`); other steps keep it only if they make no key of their
    own from a value."""
    if isinstance(step, compose.Select):
        return True
    return closed and isinstance(step, _key_keeping())


def extract_chain(steps: list, columns: tuple[str, ...], ctx) -> tuple[ir.Chain, tuple[str, ...]]:
    """The chain of transform `steps`; `ctx.closed` follows the key set along it (see
    `closed_after`), for the steps behind that read every key of a row (Normalizer, AdPredictor)."""
    out = []
    for step in flatten(steps):
        ex = extractor_for(step)
        if ex.kind != "transform":
            raise UnsupportedModelError(step, supported_models(),
                                        reason="only the last step of a pipeline may be a model")
        closed = ctx.closed
        node = ex.extract(step, columns, ctx)
        if not isinstance(step, compose.TransformerUnion):
            ctx.closed = closed_after(step, closed)
        columns = node.output_columns(columns)
        out.append(node)
    return ir.Chain(tuple(out)), columns



def _chick_union(model_factory):
    """ChickWeights: `time` scaled next to the one-hot `diet`, then `model_factory()`."""
    return lambda: ((compose.Select("time") | preprocessing.StandardScaler())
                    + (compose.Select("diet") | preprocessing.OneHotEncoder())) | model_factory()


def _chick_tree(**options):
    return tree.HoeffdingTreeRegressor(grace_period=10, delta=0.5, tau=0.5,
                                       leaf_prediction="mean", **options)


UNION_CASES = (
    Case("union(scaler,onehot)|linreg", "ChickWeights", _chick_union(linear_model.LinearRegression)),
    Case("union(scaler,onehot)|scaler|pa-reg", "ChickWeights",
         lambda: _chick_union(preprocessing.StandardScaler)() | linear_model.PARegressor()),
    # the tree splits on the encoder's `diet_<n>` columns
    Case("union(scaler,onehot)|htr", "ChickWeights", _chick_union(_chick_tree)),
    # the union passes the raw `diet` on: the tree's nominal split reads the raw categories
    Case("union(scaler,select)|htr-nominal-diet", "ChickWeights",
         lambda: ((compose.Select("time") | preprocessing.StandardScaler()) + compose.Select("diet"))
         | _chick_tree(nominal_attributes=["diet"])),
)
DISCARD_CASES = (Case("discard|scaler|linreg", "TrumpApproval",
                      lambda: compose.Discard("ordinal_date") | preprocessing.StandardScaler()
                      | linear_model.LinearRegression()),)


@register_extractor(compose.Pipeline, inputs=pipeline_inputs, kind="estimator",
                    produces=(ir.Chain,), cases=("scaler|logreg", "scaler|linreg"))
def pipeline(p: compose.Pipeline, columns: tuple[str, ...], ctx):
    """A pipeline ending in a model → (Chain, EstimatorIR); a transformer-only one → Chain."""
    steps = flatten(list(p.steps.values()))
    if not steps:
        raise UnsupportedModelError(p, supported_models(), reason="the pipeline has no steps; "
                                    "build it from transformers and a model, e.g. a | b | model")
    last = extractor_for(steps[-1])
    start = ctx.closed  # an ensemble's members each see the row as it reaches the ensemble
    try:
        if last.kind == "transform":
            return extract_chain(steps, columns, ctx)[0]
        chain, columns = extract_chain(steps[:-1], columns, ctx)
        inner = last.extract(steps[-1], columns, ctx)
    finally:
        ctx.closed = start
    if isinstance(inner, tuple):  # a wrapper around a pipeline: its steps follow ours
        inner_chain, inner = inner
        chain = ir.Chain(chain.steps + inner_chain.steps)
    assert isinstance(inner, EstimatorIR)
    return chain, inner


def union_inputs(u: compose.TransformerUnion) -> dict:
    found: dict = {}
    for t in u.transformers.values():
        merge_inputs(found, extractor_for(t).inputs(t))
    return found


@register_extractor(compose.TransformerUnion, inputs=union_inputs, renames=True,
                    produces=(ir.Union, ir.Chain), cases=UNION_CASES)
def union(u: compose.TransformerUnion, columns: tuple[str, ...], ctx) -> ir.Union:
    if not u.transformers:  # River's own union of nothing outputs {}: the model sees no feature
        raise UnsupportedModelError(u, supported_models(), reason="the TransformerUnion has no "
                                    "transformers; give it at least one, or drop it")
    start, ends, branches = ctx.closed, [], []
    for t in u.transformers.values():
        ctx.closed = start
        branches.append(extract_chain([t], columns, ctx)[0])
        ends.append(ctx.closed)
    ctx.closed = all(ends)
    return ir.Union(tuple(branches))


@register_extractor(compose.Select, inputs=lambda s: {k: None for k in s.keys},
                    produces=(ir.Select,), cases=("union(scaler,onehot)|linreg",))
def select(s: compose.Select, columns: tuple[str, ...], ctx) -> ir.Select:
    """Keep the input columns that belong to the selected keys (a categorical key has several)."""
    wanted = {key_name(k) for k in s.keys}
    return ir.Select(tuple(c for c in columns if ctx.column_feature(c) in wanted))


@register_extractor(compose.Discard, inputs=lambda d: {k: None for k in d.keys},
                    produces=(ir.Select,), cases=DISCARD_CASES)
def discard(d: compose.Discard, columns: tuple[str, ...], ctx) -> ir.Select:
    dropped = {key_name(k) for k in d.keys}
    return ir.Select(tuple(c for c in columns if ctx.column_feature(c) not in dropped))


# ------------------------------------------------------------------------------ key renamers


def _unprefix(p: compose.Prefixer, key: Any) -> Any:
    k = key_name(key)
    return k[len(p.prefix):] if k.startswith(p.prefix) else None


def _unsuffix(p: compose.Suffixer, key: Any) -> Any:
    k = key_name(key)
    return k[:len(k) - len(p.suffix)] if p.suffix and k.endswith(p.suffix) else (
        k if not p.suffix else None)


def _unrename(r: compose.Renamer, key: Any) -> Any:
    inverse = {new: old for old, new in r.mapping.items()}
    if key in inverse:
        return inverse[key]
    return None if key in r.mapping else key


# class → (the new key of a key, the key a new key comes from or None)
KEY_RENAMERS: dict[type, tuple[Callable, Callable]] = {
    compose.Prefixer: (lambda p, k: f"{p.prefix}{k}", _unprefix),
    compose.Suffixer: (lambda s, k: f"{k}{s.suffix}", _unsuffix),
    compose.Renamer: (lambda r, k: r.mapping.get(k, k), _unrename),
}

RENAMER_CASES = (
    Case("prefixer|scaler|logreg", "Phishing", lambda: compose.Prefixer("p_")
         | preprocessing.StandardScaler() | linear_model.LogisticRegression()),
    Case("scaler|suffixer|linreg", "TrumpApproval", lambda: preprocessing.StandardScaler()
         | compose.Suffixer("_scaled") | linear_model.LinearRegression()),
    Case("renamer|htr-nominal-diet", "ChickWeights", lambda: compose.Renamer({"diet": "regime"})
         | tree.HoeffdingTreeRegressor(grace_period=10, delta=0.5, tau=0.5,
                                       nominal_attributes=["regime"])),
)


def _check_renamer(r: compose.Renamer) -> None:
    """River pops and inserts key by key: a chain (a → b, b → c) or a new key that is also
    an old one is order-dependent; refused rather than guessed."""
    olds, news = set(r.mapping), list(r.mapping.values())
    if olds & set(news) or len(set(news)) != len(news):
        raise UnsupportedModelError(r, supported_models(),
                                    reason="its mapping chains or merges keys; rename each key once")


def rename_columns(step: Any, columns: tuple[str, ...], ctx) -> ir.OneHot:
    """Each column under its new key (a raw categorical feature's columns under the new key
    with the same category); the value as is and NaN (absent) as absent: a OneHot with
    `missing_as_nan` is exactly a rename."""
    if type(step) is compose.Renamer:
        _check_renamer(step)
    rename = KEY_RENAMERS[type(step)][0]
    owner = categorical_owner(ctx)
    target = []
    for c in columns:
        f = owner.get(c)
        if f is not None:
            cat = f.categories[f.columns.index(c)]
            target.append(ir.category_column(key_name(rename(step, f.key)), cat))
        else:
            target.append(key_name(rename(step, c)))
    if len(set(target)) != len(target):
        raise UnsupportedModelError(step, supported_models(),
                                    reason="two keys get the same new name; River keeps one")
    return ir.OneHot(tuple(columns), tuple(target), missing_as_nan=True)


for _renamer, _case in zip(KEY_RENAMERS, RENAMER_CASES, strict=True):
    register_extractor(_renamer, inputs=lambda step: {}, renames=True, produces=(ir.OneHot,),
                       cases=(_case,))(rename_columns)


# ------------------------------------------------------------------------------ product


PRODUCT_CASES = (Case("product(scaler(time), onehot(diet))|linreg", "ChickWeights", lambda: (
    compose.TransformerProduct(compose.Select("time") | preprocessing.StandardScaler(),
                               compose.Select("diet") | preprocessing.OneHotEncoder())
    | linear_model.LinearRegression())),)


@register_extractor(compose.TransformerProduct, inputs=union_inputs, renames=True,
                    produces=(ir.Union, ir.Chain, Polynomial), cases=PRODUCT_CASES)
def product(p: compose.TransformerProduct, columns: tuple[str, ...], ctx) -> ir.Chain:
    """River's `transform_one`: for every combination of one key per transformer's output, the
    key `"*".join(combo)` holds `prod(values)` (1 · a · b ... : the product of the present
    values, left to right); a combination with an absent key is absent. The branches run side
    by side (a Union; their outputs must not share a key), then a Polynomial multiplies."""
    branches = [extract_chain([t], columns, ctx) for t in p.transformers.values()]
    outputs = [cols for _, cols in branches]
    every = [c for cols in outputs for c in cols]
    if len(set(every)) != len(every):
        raise UnsupportedModelError(p, supported_models(),
                                    reason="two of its transformers output the same key")
    if categorical_owner(ctx).keys() & set(every):
        raise UnsupportedModelError(p, supported_models(),
                                    reason="a transformer passes a raw categorical value on, "
                                    "which River would multiply as it is; encode it first")
    names, factors = [], []
    for combo in itertools.product(*outputs):
        names.append("*".join(combo))
        factors.append(tuple(combo))
    if len(set(names)) != len(names):
        raise UnsupportedModelError(p, supported_models(), reason="generated keys collide")
    union_node = ir.Union(tuple(chain for chain, _ in branches))
    return ir.Chain((union_node, Polynomial(tuple(names), tuple(factors))))


# ------------------------------------------------------------------------------ SelectType

SELECT_TYPE_CASES = (Case("select-type(number)|linreg", "ChickWeights", lambda: (
    compose.SelectType(numbers.Number) | linear_model.LinearRegression())),)


def _keeps(s: compose.SelectType, kinds: tuple[type, ...]) -> bool | None:
    """True / False when River keeps / drops a value of every one of these types, None when
    it depends on which of them the row holds."""
    kept = {issubclass(k, s.types) for k in kinds} if s.types else {False}
    return kept.pop() if len(kept) == 1 else None


@register_extractor(compose.SelectType, inputs=lambda s: {}, produces=(ir.Select,),
                    cases=SELECT_TYPE_CASES)
def select_type(s: compose.SelectType, columns: tuple[str, ...], ctx) -> ir.Select:
    """River keeps `{i: xi for i, xi in x.items() if isinstance(xi, types)}`. A numeric input
    holds an int, a float or a bool in River's row, so it is kept when all three are instances
    of `types`, dropped when none is; a raw categorical feature by the types of its categories
    (an unseen category is all zeros either way). Anything in between depends on the row's
    Python types, which the float input tensor does not carry: refused."""
    owner = categorical_owner(ctx)
    keep_numbers = _keeps(s, (int, float, bool))
    kept = []
    for c in columns:
        f = owner.get(c)
        decision = keep_numbers if f is None else _keeps(s, tuple({type(v) for v in f.categories}))
        if decision is None:
            what = "numbers (int, float and bool)" if f is None else f"the categories of {f.name!r}"
            raise UnsupportedModelError(s, supported_models(),
                                        reason=f"it keeps some of {what} and drops others; "
                                        "the artifact's float input does not say which a row held")
        if decision:
            kept.append(c)
    return ir.Select(tuple(kept))
