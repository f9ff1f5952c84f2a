"""River classifiers that only vote → IR VoteCount: `multiclass.OneVsOneClassifier` and
`ensemble.VotingClassifier` (River 0.26.1: multiclass/ovo.py, ensemble/voting.py). Neither has a
`predict_proba_one`; the artifact's probabilities are the one-hot of River's label (the
label-only contract: votes, not probabilities; README "Artifact contract").

OneVsOne: every pair's classifier votes for pair[1] when its label is True, else pair[0], in
the order River created the pairs; River's `max` over its vote dict keeps the class voted first
on a tie. That tie-break follows the pairs (a dict: its order is the model's state, kept by a
copy), never the `classes` set, so the classes (the output columns) are in `canonical_order`:
a set of str iterates in PYTHONHASHSEED's order. Voting: hard votes count each member's label
(`Counter`, ties to the label first voted); soft votes add the members' probability dicts
(`Counter.update`), ties to the class that entered the Counter first: the members' class
orders, one after another.
"""

from __future__ import annotations

from typing import Any

from river import ensemble, linear_model, multiclass, naive_bayes, preprocessing, tree

from ...errors import UnsupportedModelError
from ...ir.ensembles import Member
from ...ir.votes import VoteCount
from ..registry import Case, register_extractor, supported_models
from .base import EstimatorIR, canonical_order, plain, require_learned
from .ensemble import class_union, member_ir, members_inputs

OVO_CASES = (
    Case("scaler|ovo(logreg)", "ImageSegments", lambda: preprocessing.StandardScaler()
         | multiclass.OneVsOneClassifier(linear_model.LogisticRegression())),
)
VOTING_CASES = (
    Case("voting-soft(logreg, htc, gnb)", "Phishing", lambda: ensemble.VotingClassifier([
        linear_model.LogisticRegression(), tree.HoeffdingTreeClassifier(),
        naive_bayes.GaussianNB()])),
    Case("scaler|voting-hard(gnb, htc, softmax, ovr)", "ImageSegments", lambda: (
        preprocessing.StandardScaler() | ensemble.VotingClassifier([
            naive_bayes.GaussianNB(), tree.HoeffdingTreeClassifier(grace_period=50),
            linear_model.SoftmaxRegression(),
            multiclass.OneVsRestClassifier(linear_model.LogisticRegression())],
            use_probabilities=False))),
)


def _label_from_proba(owner: Any, model: Any) -> None:
    """A member's label must be River's generic `max(predict_proba_one(x), key=get)`, which
    the vote reads from the member's probabilities."""
    last = list(model.steps.values())[-1] if hasattr(model, "steps") else model
    fn = getattr(type(last), "predict_one", None)
    if (getattr(fn, "__qualname__", ""), getattr(fn, "__module__", "")) != (
            "Classifier.predict_one", "river.base.classifier"):
        raise UnsupportedModelError(owner, supported_models(), reason=(
            f"its member {type(last).__name__} has its own predict_one, not the arg-max of its "
            "probabilities the vote is read from"))


@register_extractor(multiclass.OneVsOneClassifier, kind="estimator", produces=(VoteCount,),
                    inputs=lambda m: members_inputs(list(m.classifiers.values())),
                    cases=OVO_CASES)
def one_vs_one(m: multiclass.OneVsOneClassifier, columns, ctx) -> EstimatorIR:
    require_learned(bool(m.classifiers), "OneVsOneClassifier")
    classes = tuple(canonical_order(m.classes))  # columns only: ties follow the pairs' order
    index = {c: i for i, c in enumerate(classes)}
    members = []
    for pair, clf in m.classifiers.items():
        _label_from_proba(m, clf)
        chain, out = member_ir(clf, columns, ctx)
        if out.task != "classification" or not set(out.classes) <= {False, True}:
            raise UnsupportedModelError(m, supported_models(), reason=(
                "a pair's classifier does not answer True / False"))
        side = {False: index[pair[0]], True: index[pair[1]]}
        members.append(Member(chain, out.estimator, tuple(side[c] for c in out.classes)))
    est = VoteCount(columns, tuple(members), len(classes))
    return EstimatorIR(est, "classification", tuple(plain(c) for c in classes))


@register_extractor(ensemble.VotingClassifier, kind="estimator", produces=(VoteCount,),
                    inputs=lambda m: members_inputs(list(m)), cases=VOTING_CASES)
def voting(m: ensemble.VotingClassifier, columns, ctx) -> EstimatorIR:
    parts = []
    for model in m:
        if not m.use_probabilities:
            _label_from_proba(m, model)
        chain, out = member_ir(model, columns, ctx)  # EmptyModelError for an unlearned one
        if out.task != "classification":
            raise UnsupportedModelError(m, supported_models(), reason="a member is a regressor")
        parts.append((chain, out))
    classes = class_union([out for _, out in parts])
    if len(classes) < 2:
        raise UnsupportedModelError(m, supported_models(), reason=(
            "its members have seen one class only: learn a second class before export"))
    index = {c: k for k, c in enumerate(classes)}
    members = tuple(Member(chain, out.estimator, tuple(index[c] for c in out.classes))
                    for chain, out in parts)
    est = VoteCount(columns, members, len(classes), soft=bool(m.use_probabilities))
    return EstimatorIR(est, "classification", tuple(plain(c) for c in classes))
