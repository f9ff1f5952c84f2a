"""River `feature_selection` → IR Select: the keys each selector lets through right now.

`VarianceThreshold` keeps a key it has not seen `min_samples` times or whose variance is above
the threshold; `SelectKBest` keeps the `k` keys at the top of its leaderboard (every key while
the leaderboard is empty). Both decide per key from their current state, so the decision is
frozen into the column list.
"""

from __future__ import annotations

from river import feature_selection, linear_model, preprocessing, stats

from ... import ir
from ..registry import Case, register_extractor
from .base import key_name, numeric_inputs

VARIANCE_CASES = (Case("variance-threshold(0.15)|logreg", "Phishing", lambda: (
    feature_selection.VarianceThreshold(threshold=0.15) | linear_model.LogisticRegression())),)
K_BEST_CASES = (Case("select-3-best|scaler|linreg", "TrumpApproval", lambda: (
    feature_selection.SelectKBest(similarity=stats.PearsonCorr(), k=3)
    | preprocessing.StandardScaler() | linear_model.LinearRegression())),)


def _keep(columns: tuple[str, ...], ctx, keep) -> ir.Select:
    """The columns whose raw key `keep(name)` lets through (a categorical key's columns go
    together)."""
    return ir.Select(tuple(c for c in columns if keep(ctx.column_feature(c))))


@register_extractor(feature_selection.VarianceThreshold,
                    inputs=lambda s: numeric_inputs(s.variances), produces=(ir.Select,),
                    cases=VARIANCE_CASES)
def variance_threshold(s: feature_selection.VarianceThreshold, columns: tuple[str, ...],
                       ctx) -> ir.Select:
    """River's `check_feature` per key (read with `in`: the defaultdict does not grow)."""
    known = {key_name(k): k for k in s.variances}
    return _keep(columns, ctx, lambda name: name not in known or s.check_feature(known[name]))


@register_extractor(feature_selection.SelectKBest, inputs=lambda s: numeric_inputs(s.leaderboard),
                    produces=(ir.Select,), cases=K_BEST_CASES)
def select_k_best(s: feature_selection.SelectKBest, columns: tuple[str, ...], ctx) -> ir.Select:
    """`{pair[0] for pair in leaderboard.most_common(k)}`, or every key while it is empty."""
    if not s.leaderboard:
        return ir.Select(columns)
    best = {key_name(k) for k, _ in s.leaderboard.most_common(s.k)}
    return _keep(columns, ctx, lambda name: name in best)
