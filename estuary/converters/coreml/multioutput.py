"""Core ML for IR EstimatorChain (River's ClassifierChain, RegressorChain, PerOutput*), in
float64 classic models when the members are (a scaler and a logistic or linear regression).

Each member is emitted into the same pipeline as an ensemble member is (`ensembles`): its own
transforms over the chain's row, its estimator, and its last stage turned into an array:
[P(False), P(True)] (a logistic member: a GLMRegressor with the Logit transform p and a Scaler
1 - p, River's two roundings) or its value. A FeatureVectorizer appends what River writes into
the row (`x[o] = P(True)`, or the prediction) for the next member.

Outputs per target (`ir.tasks`): `probabilities.<t>` [2] and `label.<t>` int64, or `value.<t>`.
The label is River's `max` over {False: 1 - p, True: p} (a tie is False) without rounding: a
GLMRegressor gives 2^1000 · P(True) - 2^1000 · P(False) (exact products, so the sign of the one
rounded sum is exact), a Scaler · 2^1000 makes any non-zero difference at least 2^-74 · 2^1000,
and a GLMClassifier's Logit of that is exactly 0 or 1 (0.5 and 0.5 on a tie: the first class).

EncodedLabels (River's MultiClassEncoder) is refused: the exact sign above would give
its first maximum, but its multi-class member's probabilities are float32 in Core ML.
"""

from __future__ import annotations

from ...ir.ensembles import Member
from ...ir.multioutput import EncodedLabels, EstimatorChain
from ..registry import register_emitter, register_refusal
from .builder import Stages, array_type, int64_type
from .ensembles import member_probabilities, member_value
from .transforms import Context

SIGN_SCALE = 2.0 ** 1000


def _label(s: Stages, p: str, name: str) -> None:
    """`name` (int64): 1 when P(True) > P(False), else 0, exactly (module docstring)."""
    d = s.glm(p, [[-SIGN_SCALE, SIGN_SCALE]], [0.0], hint="label_difference")
    d = s.scaler(d, 1, 0.0, SIGN_SCALE, "label_sign")

    def fill(g) -> None:
        g.weights.add().value.append(1.0)
        g.offset.append(0.0)
        g.postEvaluationTransform = g.Logit
        g.classEncoding = g.OneVsRest
        g.int64ClassLabels.vector.extend([0, 1])

    m = s.add("glmClassifier", [(d, array_type(1))], [(name, int64_type())], fill)
    m.description.predictedFeatureName = name


def _named(s: Stages, x: str, width: int, name: str) -> None:
    """An exact copy of array `x` under the output name `name` (a Scaler 1 · (x + 0))."""

    def fill(p) -> None:
        p.shiftValue.append(0.0)
        p.scaleValue.append(1.0)

    s.add("scaler", [(x, array_type(width))], [(name, array_type(width))], fill)


@register_emitter("coreml", EstimatorChain)
def estimator_chain(est: EstimatorChain, ctx: Context) -> None:
    s, x, columns = ctx.stages, ctx.x, est.columns
    results = []
    for target, chain, member in zip(est.targets, est.transforms, est.estimators, strict=True):
        m = Member(chain, member, (0, 1))
        if est.kind == "probabilities":
            out = member_probabilities(m, 1.0, s, x, columns, 2)
            fed = s.extract(out, 2, [1], "fed")
        else:
            out = fed = member_value(m, s, x, columns)
        results.append((target, out))
        if est.feeds:
            x = s.vectorize([(x, len(columns)), (fed, 1)], "chain_row")
            columns = columns + (target,)
    for target, out in results:
        if est.kind == "probabilities":
            _named(s, out, 2, f"probabilities.{target}")
            _label(s, out, f"label.{target}")
        else:
            _named(s, out, 1, f"value.{target}")


register_refusal("coreml", EncodedLabels, "its multi-class member's code probabilities come "
                 "from Core ML's float32 neural-network layers (a softmax or one-vs-rest "
                 "normalisation: no float64 classic model divides by a computed sum), and River's "
                 "first maximum over float64 ones can be another code when two are within "
                 "float32 rounding; export to ONNX or PMML")
