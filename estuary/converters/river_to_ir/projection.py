"""River `preprocessing` projections → IR Project: GaussianRandomProjector, SparseRandomProjector
and FeatureHasher, each only where the row reaching it is closed (`ctx.closed`): River draws
weights for (or hashes) any key it meets, a key the artifact cannot see too."""

from __future__ import annotations

from river import compose, linear_model, preprocessing, tree
from river._river_rust.feature_hashing import feature_hash

from ...errors import UnsupportedModelError
from ...ir.projection import Project
from ..registry import Case, register_extractor, supported_models
from .base import key_name, require_closed, require_encoded

PHISHING = ("empty_server_form_handler", "popup_window", "https", "age_of_domain",
            "request_from_other_domain", "anchor_from_other_domain", "is_popular", "long_url",
            "ip_in_url")
TRUMP = ("gallup", "ipsos", "morning_consult", "ordinal_date", "rasmussen", "you_gov")

GAUSSIAN_CASES = (
    Case("select|gaussian-projector|logreg", "Phishing", lambda: compose.Select(*PHISHING)
         | preprocessing.GaussianRandomProjector(n_components=5, seed=3)
         | linear_model.LogisticRegression()),
    Case("select|scaler|gaussian-projector|htr", "TrumpApproval", lambda: compose.Select(*TRUMP)
         | preprocessing.StandardScaler()
         | preprocessing.GaussianRandomProjector(n_components=4, seed=1)
         | tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5)),
)
SPARSE_CASES = (
    Case("select|sparse-projector|logreg", "Phishing", lambda: compose.Select(*PHISHING)
         | preprocessing.SparseRandomProjector(n_components=6, density=0.4, seed=2)
         | linear_model.LogisticRegression()),
)
HASHER_CASES = (
    Case("select|hasher|logreg", "Phishing", lambda: compose.Select(*PHISHING)
         | preprocessing.FeatureHasher(n_features=64, seed=5)
         | linear_model.LogisticRegression()),
    Case("select|scaler|hasher|htr", "TrumpApproval", lambda: compose.Select(*TRUMP)
         | preprocessing.StandardScaler() | preprocessing.FeatureHasher(n_features=1024, seed=1)
         | tree.HoeffdingTreeRegressor(grace_period=20, delta=0.5, tau=0.5)),
)


def _require_closed(step, columns: tuple[str, ...], ctx, what: str) -> None:
    require_closed(step, ctx, f"River {what} for every key of the row, also keys the model "
                   "never learned, which an artifact cannot see")
    require_encoded(step, columns, ctx)


def _weights_of(step, columns: tuple[str, ...], lookup) -> tuple[tuple[float, ...], ...]:
    """[T][S] weights from `lookup(component, column)`; a column without learned weights would
    get new random ones at predict time."""
    by_name = {key_name(k): k for k in _seen_keys(step)}
    unseen = [c for c in columns if c not in by_name]
    if unseen:
        raise UnsupportedModelError(step, supported_models(), reason=(
            f"it has no weights yet for {unseen}, which River would draw at random when it "
            "first meets them; let it learn rows holding every key first"))
    return tuple(tuple(float(lookup(i, by_name[c])) for c in columns)
                 for i in range(step.n_components))


def _seen_keys(step) -> set:
    m = step._projection_matrix
    if isinstance(step, preprocessing.GaussianRandomProjector):
        return {j for (_, j) in m}
    return set(m)


def _components(step) -> tuple[str, ...]:
    return tuple(key_name(i) for i in range(step.n_components))


@register_extractor(preprocessing.GaussianRandomProjector, inputs=lambda p: {}, renames=True,
                    produces=(Project,), cases=GAUSSIAN_CASES)
def gaussian_projector(p: preprocessing.GaussianRandomProjector, columns: tuple[str, ...],
                       ctx) -> Project:
    """River's `transform_one`: component i = Σ_j matrix[(i, j)] · x_j over the row's keys
    (0 for a row with none)."""
    _require_closed(p, columns, ctx, "draws a weight")
    weights = _weights_of(p, columns, lambda i, j: p._projection_matrix[(i, j)])
    return Project(columns, _components(p), weights)


@register_extractor(preprocessing.SparseRandomProjector, inputs=lambda p: {}, renames=True,
                    produces=(Project,), cases=SPARSE_CASES)
def sparse_projector(p: preprocessing.SparseRandomProjector, columns: tuple[str, ...],
                     ctx) -> Project:
    """River's `transform_one`: every component starts at 0 and adds w · x_j for the weights
    key j holds."""
    _require_closed(p, columns, ctx, "draws weights")
    weights = _weights_of(p, columns, lambda i, j: p._projection_matrix[j].get(i, 0.0))
    return Project(columns, _components(p), weights)


def _bucket(h: preprocessing.FeatureHasher, column: str) -> tuple[int, float]:
    """River's own hash of a key (`feature_hash` on the key alone): its bucket and sign."""
    ((bucket, sign),) = feature_hash({column: 1.0}, h.n_features, h._seed, h.alternate_sign).items()
    return int(bucket), float(sign)


@register_extractor(preprocessing.FeatureHasher, inputs=lambda h: {}, renames=True,
                    produces=(Project,), cases=HASHER_CASES)
def feature_hasher(h: preprocessing.FeatureHasher, columns: tuple[str, ...], ctx) -> Project:
    """River's `feature_hash`: each numeric key adds sign · x to its bucket (MurmurHash3 of the
    key's string, the same for the int 1 and the str "1"); only the buckets some key of the row
    falls in are output, so a bucket none of whose keys is present is missing."""
    _require_closed(h, columns, ctx, "hashes a key into a bucket")
    placed = [_bucket(h, c) for c in columns]
    buckets = sorted({b for b, _ in placed})
    weights = tuple(tuple(sign if b == bucket else 0.0 for b, sign in placed) for bucket in buckets)
    return Project(columns, tuple(key_name(b) for b in buckets), weights, missing_when_empty=True)
