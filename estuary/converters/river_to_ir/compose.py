"""River `compose`: Pipeline, TransformerUnion, Select, Discard → IR Chain / Union / Select."""

from __future__ import annotations

from river import compose, linear_model, preprocessing

from ... import ir
from ...errors import UnsupportedModelError
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import EstimatorIR, key_name


def merge_inputs(into: dict, more: dict) -> dict:
    """Union of `inputs()` answers; a key categorical anywhere is categorical."""
    for k, cats in more.items():
        if cats is None:
            into.setdefault(k, None)
        else:
            into[k] = set(into.get(k) or ()) | set(cats)
    return into


def pipeline_inputs(p: compose.Pipeline) -> dict:
    """Raw keys a pipeline knows: read steps front to back until one renames its keys."""
    found: dict = {}
    for step in p.steps.values():
        ex = extractor_for(step)
        merge_inputs(found, ex.inputs(step))
        if ex.renames:
            break
    return found


def flatten(steps: list) -> list:
    """Nested transformer pipelines are the same chain as their steps inline."""
    out = []
    for step in steps:
        out.extend(flatten(list(step.steps.values())) if isinstance(step, compose.Pipeline) else [step])
    return out


def extract_chain(steps: list, columns: tuple[str, ...], ctx) -> tuple[ir.Chain, tuple[str, ...]]:
    out = []
    for step in flatten(steps):
        ex = extractor_for(step)
        if ex.kind != "transform":
            raise UnsupportedModelError(step, supported_models(),
                                        reason="only the last step of a pipeline may be a model")
        node = ex.extract(step, columns, ctx)
        columns = node.output_columns(columns)
        out.append(node)
    return ir.Chain(tuple(out)), columns



def _chick_union(model_factory):
    """ChickWeights: `time` scaled next to the one-hot `diet`, then `model_factory()`."""
    return lambda: ((compose.Select("time") | preprocessing.StandardScaler())
                    + (compose.Select("diet") | preprocessing.OneHotEncoder())) | model_factory()


UNION_CASES = (
    Case("union(scaler,onehot)|linreg", "ChickWeights", _chick_union(linear_model.LinearRegression)),
    Case("union(scaler,onehot)|scaler|pa-reg", "ChickWeights",
         lambda: _chick_union(preprocessing.StandardScaler)() | linear_model.PARegressor()),
)
DISCARD_CASES = (Case("discard|scaler|linreg", "TrumpApproval",
                      lambda: compose.Discard("ordinal_date") | preprocessing.StandardScaler()
                      | linear_model.LinearRegression()),)


@register_extractor(compose.Pipeline, inputs=pipeline_inputs, kind="estimator",
                    produces=(ir.Chain,), cases=("scaler|logreg", "scaler|linreg"))
def pipeline(p: compose.Pipeline, columns: tuple[str, ...], ctx):
    """A pipeline ending in a model → (Chain, EstimatorIR); a transformer-only one → Chain."""
    steps = flatten(list(p.steps.values()))
    last = extractor_for(steps[-1])
    if last.kind == "transform":
        return extract_chain(steps, columns, ctx)[0]
    chain, columns = extract_chain(steps[:-1], columns, ctx)
    inner = last.extract(steps[-1], columns, ctx)
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
    return ir.Union(tuple(extract_chain([t], columns, ctx)[0] for t in u.transformers.values()))


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
