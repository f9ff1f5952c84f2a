"""River Hoeffding trees → IR TreeClassifier / TreeRegressor.

The River tree is walked once and flattened into binary `x <= threshold` tests on the estimator's
columns. A nominal test becomes a test on its one-hot column (`col <= 0.5` is "not this value");
a multiway nominal branch becomes a chain of such tests that ends at River's most common child,
where unseen and missing values go. Everything River decides at predict time from the current
state (most common path, nb vs. mc per leaf, mean vs. model per leaf) is frozen here.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

from river import compose, linear_model, preprocessing, tree
from river.proba.gaussian import _HALF_LOG_TAU
from river.tree.nodes.arf_htc_nodes import (
    RandomLeafMajorityClass,
    RandomLeafNaiveBayes,
    RandomLeafNaiveBayesAdaptive,
)
from river.tree.nodes.arf_htr_nodes import RandomLeafAdaptive, RandomLeafMean, RandomLeafModel
from river.tree.nodes.branch import (
    DTBranch,
    NominalBinaryBranch,
    NominalMultiwayBranch,
    NumericBinaryBranch,
)
from river.tree.nodes.efdtc_nodes import (
    EFDTLeafMajorityClass,
    EFDTLeafNaiveBayes,
    EFDTLeafNaiveBayesAdaptive,
    EFDTNominalBinaryBranch,
    EFDTNominalMultiwayBranch,
    EFDTNumericBinaryBranch,
)
from river.tree.nodes.et_nodes import ETLeafAdaptive, ETLeafMean, ETLeafModel
from river.tree.nodes.hatc_nodes import (
    AdaBranchClassifier,
    AdaLeafClassifier,
    AdaNomBinaryBranchClass,
    AdaNomMultiwayBranchClass,
    AdaNumBinaryBranchClass,
)
from river.tree.nodes.hatr_nodes import (
    AdaBranchRegressor,
    AdaLeafRegAdaptive,
    AdaLeafRegMean,
    AdaLeafRegModel,
    AdaNomBinaryBranchReg,
    AdaNomMultiwayBranchReg,
    AdaNumBinaryBranchReg,
)
from river.tree.nodes.htc_nodes import LeafMajorityClass, LeafNaiveBayes, LeafNaiveBayesAdaptive
from river.tree.nodes.htr_nodes import LeafAdaptive, LeafMean, LeafModel
from river.tree.nodes.last_nodes import (
    LeafMajorityClassWithDetector,
    LeafNaiveBayesAdaptiveWithDetector,
    LeafNaiveBayesWithDetector,
)
from river.tree.nodes.sgt_nodes import SGTLeaf
from river.tree.splitter import ExhaustiveSplitter, GaussianSplitter
from river.tree.splitter.nominal_splitter_classif import NominalSplitterClassif

from ... import ir
from ...errors import EmptyModelError, UnsupportedModelError
from ...ir.trees import NaiveBayesLeaves, TreeClassifier, TreeRegressor, TreeStructure
from ..registry import Case, extractor_for, register_extractor, supported_models
from .base import EstimatorIR, key_name, plain, require_learned
from .compose import merge_inputs

# ------------------------------------------------------------------------------------- inputs


def _splitter_categories(splitter: Any) -> set:
    if hasattr(splitter, "_att_values"):  # NominalSplitterClassif
        return set(splitter._att_values)
    return set(getattr(splitter, "_statistics", {}))  # NominalSplitterReg


def tree_inputs(t: Any) -> dict:
    """Split features (nominal ones with their values), the leaves' observed features and the
    keys of linear leaf models: all the raw keys the tree knows."""
    found: dict = {}
    if t._root is None:
        return found
    for node in t._root.iter_dfs():
        if isinstance(node, NominalBinaryBranch):
            merge_inputs(found, {node.feature: {node.value}})
        elif isinstance(node, NominalMultiwayBranch):
            merge_inputs(found, {node.feature: set(node._mapping)})
        elif isinstance(node, DTBranch):
            merge_inputs(found, {node.feature: None})
        else:
            for key, sp in (node.splitters or {}).items():
                if sp.is_numeric:  # merge_inputs of {key: None}, without a dict per splitter
                    found.setdefault(key, None)
                else:
                    merge_inputs(found, {key: _splitter_categories(sp)})
            lm = getattr(node, "_leaf_model", None)
            if lm is not None:
                merge_inputs(found, extractor_for(lm).inputs(lm))
    return found


# ------------------------------------------------------------------------------------- structure

# Exact branch and leaf classes, by what River does with them at predict time. The EFDT, HAT and
# ARF subclasses only change learning: `branch_no`, `most_common_path` and `prediction` are the
# parent's (HAT's leaf prediction is handled on its own below).
NUMERIC_BINARY = {NumericBinaryBranch, EFDTNumericBinaryBranch, AdaNumBinaryBranchClass,
                  AdaNumBinaryBranchReg}
NOMINAL_BINARY = {NominalBinaryBranch, EFDTNominalBinaryBranch, AdaNomBinaryBranchClass,
                  AdaNomBinaryBranchReg}
NOMINAL_MULTIWAY = {NominalMultiwayBranch, EFDTNominalMultiwayBranch, AdaNomMultiwayBranchClass,
                    AdaNomMultiwayBranchReg}
MAJORITY = {LeafMajorityClass, RandomLeafMajorityClass, EFDTLeafMajorityClass,
            LeafMajorityClassWithDetector}
NAIVE_BAYES = {LeafNaiveBayes, RandomLeafNaiveBayes, EFDTLeafNaiveBayes, LeafNaiveBayesWithDetector}
NAIVE_BAYES_ADAPTIVE = {LeafNaiveBayesAdaptive, RandomLeafNaiveBayesAdaptive,
                        EFDTLeafNaiveBayesAdaptive, LeafNaiveBayesAdaptiveWithDetector}
MEAN, MODEL, ADAPTIVE = ({LeafMean, RandomLeafMean, AdaLeafRegMean, ETLeafMean},
                         {LeafModel, RandomLeafModel, AdaLeafRegModel, ETLeafModel},
                         {LeafAdaptive, RandomLeafAdaptive, AdaLeafRegAdaptive, ETLeafAdaptive})


_BINARY_RULES = (NumericBinaryBranch.most_common_path, NominalBinaryBranch.most_common_path)


class _Flattener:
    """Builds the flat node arrays; `leaves` lists River's leaf objects by IR leaf index."""

    def __init__(self, model: Any, columns: tuple[str, ...]):
        self.model = model
        self.pos = {c: i for i, c in enumerate(columns)}
        self.rows: list[list] = []  # feature, threshold, left, right, missing_left, leaf, onehot
        self.leaves: list[Any] = []
        self._weights: dict[int, float] = {}

    def refuse(self, reason: str) -> UnsupportedModelError:
        return UnsupportedModelError(self.model, supported_models(), reason=reason)

    def column(self, name: str) -> int:
        if name not in self.pos:
            raise self.refuse(self._unproduced(name))
        return self.pos[name]

    def _unproduced(self, name: str) -> str:
        """Why River's steps in front give the tree `name` but the exported ones do not."""
        if any(c.startswith(f"{name}=") for c in self.pos):
            return (f"River passes {name!r} to the tree as a number, and a OneHotEncoder in "
                    f"front also encodes {name!r} as categories (it encodes every key it "
                    "receives); put compose.Select(<string keys>) in front of the encoder")
        return (f"the tree reads {name!r}, which the exported steps in front of it do not "
                "produce under that name; compose.Select the keys each step should receive "
                "(numeric keys for scalers, string keys for a OneHotEncoder), or open an issue "
                "with the pipeline")

    def new(self) -> int:
        self.rows.append([0, 0.0, -1, -1, False, -1, False])
        return len(self.rows) - 1

    def test(self, i: int, col: int, thr: float, left, right, missing_left: bool, onehot: bool):
        """Node `i` tests `x[col] <= thr`: true → River node `left`, false → `right`."""
        self.rows[i][0:2] = [col, thr]
        self.rows[i][4], self.rows[i][6] = missing_left, onehot
        self.rows[i][2] = self.emit(left)
        self.rows[i][3] = self.emit(right)

    def emit(self, node: Any) -> int:
        if node is None:
            raise self.refuse("a branch has an empty child")
        i = self.new()
        if not isinstance(node, DTBranch):
            self.rows[i][5] = len(self.leaves)
            self.leaves.append(node)
            return i
        common = self.most_common_child(node)  # where River sends a missing (or unseen) value
        left, right = node.children[0], node.children[-1]
        if type(node) in NUMERIC_BINARY:
            col = self.column(key_name(node.feature))
            threshold = float(node.threshold)
            if threshold == math.inf and common == 0:  # SGT's quantizer: every value goes left
                self.rows.pop()
                return self.emit(left)
            if not math.isfinite(threshold):
                raise self.refuse(f"a split on {node.feature!r} at {threshold} sends missing "
                                  "values to the other side")
            self.test(i, col, threshold, left, right, common == 0, False)
        elif type(node) in NOMINAL_BINARY:
            col = self.column(ir.category_column(key_name(node.feature), plain(node.value)))
            self.test(i, col, 0.5, right, left, common == 1, True)  # <= 0.5: "not equal"
        elif type(node) in NOMINAL_MULTIWAY:
            self.rows.pop()
            return self.multiway(node, common)
        else:
            raise self.refuse(f"{type(node).__name__} splits are not exported "
                              "(River's numeric multiway branch bins values by floor division)")
        return i

    def weight(self, node: Any) -> float:
        """River's `total_weight`, memoised: River's branch property re-sums the whole subtree
        on every call, which makes `most_common_path` over a whole tree quadratic."""
        key = id(node)
        if key not in self._weights:
            if isinstance(node, DTBranch) and type(node).total_weight is DTBranch.total_weight:
                self._weights[key] = sum(self.weight(c) for c in node.children if c is not None)
            else:
                self._weights[key] = node.total_weight
        return self._weights[key]

    def most_common_child(self, node: DTBranch) -> int:
        """River's `most_common_path()` index, with memoised weights for its own rules."""
        rule = type(node).most_common_path
        if rule in _BINARY_RULES:  # left unless left.total_weight < right.total_weight
            left, right = node.children
            return 1 if self.weight(left) < self.weight(right) else 0
        if rule is NominalMultiwayBranch.most_common_path:  # first child of the largest weight
            return max(range(len(node.children)), key=lambda i: self.weight(node.children[i]))
        return node.most_common_path()[0]

    def multiway(self, node: NominalMultiwayBranch, common: int) -> int:
        """One `col(v) <= 0.5` test per value; the chain ends at the most common child, so that
        the common value, unseen values and missing ones (NaN follows the chain) land there."""
        others = [(v, j) for v, j in node._mapping.items() if j != common]
        if not others:
            return self.emit(node.children[common])
        first = len(self.rows)
        chain = [self.new() for _ in others]
        for k, (value, j) in enumerate(others):
            col = self.column(ir.category_column(key_name(node.feature), plain(value)))
            self.rows[chain[k]][0:2] = [col, 0.5]
            self.rows[chain[k]][4], self.rows[chain[k]][6] = True, True
            self.rows[chain[k]][3] = self.emit(node.children[j])
        for k in range(len(chain) - 1):
            self.rows[chain[k]][2] = chain[k + 1]
        self.rows[chain[-1]][2] = self.emit(node.children[common])
        return first

    def structure(self) -> TreeStructure:
        cols = list(zip(*self.rows, strict=True))
        return TreeStructure(
            feature=tuple(int(v) for v in cols[0]), threshold=tuple(float(v) for v in cols[1]),
            left=tuple(cols[2]), right=tuple(cols[3]), missing_left=tuple(bool(v) for v in cols[4]),
            leaf=tuple(cols[5]), onehot=tuple(bool(v) for v in cols[6]),
        )


def _flatten(model: Any, columns: tuple[str, ...]) -> _Flattener:
    require_learned(model._root is not None, type(model).__name__)
    flat = _Flattener(model, columns)
    flat.emit(model._root)
    return flat


# ------------------------------------------------------------------------------------- classifier


def _uses_naive_bayes(model: Any, leaf: Any) -> bool:
    """The choice `leaf.prediction` makes right now (exact leaf types only)."""
    kind = type(leaf)
    if kind is AdaLeafClassifier:  # HAT: the tree's option decides, and inactive leaves use mc
        kind = {"mc": LeafMajorityClass, "nb": LeafNaiveBayes}.get(model.leaf_prediction,
                                                                   LeafNaiveBayesAdaptive)
        if not leaf.is_active():
            return False
    if kind in MAJORITY:
        return False
    if kind in NAIVE_BAYES:
        return leaf.is_active() and leaf.total_weight >= model.nb_threshold
    if kind in NAIVE_BAYES_ADAPTIVE:
        return leaf.is_active() and leaf._nb_correct_weight >= leaf._mc_correct_weight
    raise UnsupportedModelError(model, supported_models(),
                                reason=f"leaf type {type(leaf).__name__} is not exported")


def _majority_probs(stats: dict, classes: tuple) -> tuple[float, ...]:
    """River's `normalize_values_in_dict`: value * (1 / total); a zero total leaves counts as is."""
    total = sum(stats.values()) if stats else 0
    if total == 0 or math.isnan(total):
        return tuple(float(stats.get(c, 0.0)) for c in classes)
    inv = 1 / total
    return tuple(float(stats[c] * inv) if c in stats else 0.0 for c in classes)


# River leaf → (version, its naive-Bayes tables): leaves that did not learn since the last
# snapshot are not read again (weak keys: a leaf that splits is dropped with its tables)
_LEAF_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _NaiveBayesTables:
    """Per-leaf parameters of River's `do_naive_bayes_prediction`, in [leaf][column][class].

    Built once per snapshot, on the learning loop for online snapshots: leaves that do not use
    naive Bayes share one all-default table, and each splitter is looked at once per leaf."""

    DEFAULTS = {"gauss_on": False, "mu": 0.0, "neg2var": -1.0, "log_sd": 0.0, "cat_on": False,
                "cat_log": 0.0}

    def __init__(self, flat: _Flattener, classes: tuple, columns: tuple[str, ...]):
        self.flat, self.classes, self.columns, self.F = flat, classes, columns, len(columns)
        self.prior, self.present = [], []
        self.tables: dict[str, list] = {k: [] for k in self.DEFAULTS}
        C = len(classes)
        self._empty = {k: ((v,) * C,) * self.F for k, v in self.DEFAULTS.items()}
        self._none = ((0.0,) * C, (False,) * C)

    def add(self, leaf: Any | None) -> None:
        if leaf is None:
            for name, table in self._empty.items():
                self.tables[name].append(table)
            self.prior.append(self._none[0])
            self.present.append(self._none[1])
            return
        # incremental freeze: a leaf's tables are reused while its statistics have not moved
        # (versioned by the weight it has seen, its splitters dict, the classes and columns)
        version = (leaf.total_weight, id(leaf.splitters), len(leaf.splitters), self.classes,
                   self.columns)
        held = _LEAF_TABLES.get(leaf)
        if held is None or held[0] != version:
            held = _LEAF_TABLES[leaf] = (version, self._leaf_tables(leaf))
        tables, prior, present = held[1]
        for name, table in tables.items():
            self.tables[name].append(table)
        self.prior.append(prior)
        self.present.append(present)

    def _leaf_tables(self, leaf: Any) -> tuple[dict[str, tuple], tuple, tuple]:
        C, F = len(self.classes), self.F
        t = {k: [[v] * C for _ in range(F)] for k, v in self.DEFAULTS.items()}
        prior, present = [0.0] * C, [False] * C
        stats = leaf.stats
        total = sum(stats.values())
        voting = []  # (class, k): River gives a zero-weight class vote 0.0 and no feature terms
        for k, c in enumerate(self.classes):
            if c in stats:
                present[k] = True
                if stats[c] > 0:
                    prior[k] = math.log(stats[c] / total)
                    voting.append((c, k))
        if voting:
            for att, sp in leaf.splitters.items():
                self._splitter(t, att, sp, voting)
        return ({name: tuple(map(tuple, table)) for name, table in t.items()}, tuple(prior),
                tuple(present))

    def _splitter(self, t: dict, att: Any, sp: Any, voting: list) -> None:
        kind = type(sp)
        if kind is GaussianSplitter:
            j = self.flat.column(key_name(att))
            gauss_on, mu = t["gauss_on"][j], t["mu"][j]
            neg2var, log_sd = t["neg2var"][j], t["log_sd"][j]
            per_class = sp._att_dist_per_class
            for c, k in voting:
                dist = per_class.get(c)
                if dist is None:
                    continue
                var = dist._var
                n = var.mean.n
                if n > var.ddof:  # as in `Gaussian.log_pdf`
                    variance = var._S / (n - var.ddof)
                    if variance > 0.0:
                        gauss_on[k] = True
                        mu[k] = float(var.mean._mean)
                        neg2var[k] = float(-2.0 * variance)
                        log_sd[k] = float(0.5 * math.log(variance))
        elif kind is NominalSplitterClassif:
            name = key_name(att)
            for c, k in voting:
                dist = sp._att_dist_per_class.get(c, {})  # .get: River's defaultdict would grow
                total = sum(dist.values())
                for value, count in dist.items():
                    p = count / total if total else 0.0
                    if p > 0:
                        j = self.flat.column(ir.category_column(name, plain(value)))
                        t["cat_on"][j][k] = True
                        t["cat_log"][j][k] = math.log(p)
        elif kind is not ExhaustiveSplitter:  # that one's cond_proba is always 0: no term
            raise self.flat.refuse(f"naive-Bayes leaves over {type(sp).__name__} are not exported "
                                   "(use the default GaussianSplitter)")

    def leaves(self) -> NaiveBayesLeaves:
        return NaiveBayesLeaves(prior=tuple(self.prior), present=tuple(self.present),
                                half_log_tau=float(_HALF_LOG_TAU),
                                **{k: tuple(v) for k, v in self.tables.items()})


def tree_classifier_ir(m: Any, columns, classes: tuple, min_classes: int = 2) -> EstimatorIR:
    """Leaves: `mc` → normalised class counts; `nb` / `nba` → naive Bayes where River's leaf
    would use it now, else class counts. `classes` in River's probability dict order."""
    flat = _flatten(m, columns)
    if len(classes) < min_classes:
        raise EmptyModelError(f"{type(m).__name__} has seen only the class(es) {list(classes)}: "
                              "a classifier needs two classes to export; call learn_one on "
                              "more data before export")
    probs, use_nb = [], []
    nb = _NaiveBayesTables(flat, classes, tuple(columns))
    for leaf in flat.leaves:
        on = _uses_naive_bayes(m, leaf)
        if on and not sum(leaf.stats.values()):
            on = False  # River's naive Bayes returns {} here: all zeros, as the counts give
        probs.append(_majority_probs(leaf.stats, classes))
        use_nb.append(on)
        nb.add(leaf if on else None)
    est = TreeClassifier(columns, flat.structure(), tuple(probs), tuple(use_nb),
                         nb.leaves() if any(use_nb) else None)
    return EstimatorIR(est, "classification", tuple(plain(c) for c in classes))



GROW = {"grace_period": 20, "delta": 0.5, "tau": 0.5}  # real trees (tens to hundreds of nodes)


def _htc(leaf_prediction: str, **kw):
    return lambda: tree.HoeffdingTreeClassifier(leaf_prediction=leaf_prediction, **{**GROW, **kw})


def _htr(leaf_prediction: str, **kw):
    return lambda: tree.HoeffdingTreeRegressor(leaf_prediction=leaf_prediction, **{**GROW, **kw})


HTC_CASES = (
    Case("htc_mc_phishing", "Phishing", _htc("mc")),
    Case("htc_nb_phishing", "Phishing", _htc("nb")),
    Case("htc_nba_phishing", "Phishing", _htc("nba")),
    Case("htc_mc_imagesegments", "ImageSegments", _htc("mc")),
    Case("htc_nb_imagesegments", "ImageSegments", _htc("nb")),
    Case("htc_nba_imagesegments", "ImageSegments", _htc("nba")),
    Case("htc_nba_bananas", "Bananas", _htc("nba", grace_period=10)),
    Case("scaler_htc_nba_bananas", "Bananas",
         lambda: preprocessing.StandardScaler() | _htc("nba")()),
)
HTR_CASES = (
    Case("htr_mean_trumpapproval", "TrumpApproval", _htr("mean")),
    Case("htr_adaptive_trumpapproval", "TrumpApproval", _htr("adaptive")),
    Case("scaler_htr_adaptive_trumpapproval", "TrumpApproval",
         lambda: preprocessing.StandardScaler() | _htr("adaptive")()),
    # unscaled, River's linear leaves diverge to ~1e21 on TrumpApproval: parity is relative there
    Case("htr_model_trumpapproval", "TrumpApproval", _htr("model")),
    Case("scaler_htr_model_trumpapproval", "TrumpApproval",
         lambda: preprocessing.StandardScaler() | _htr("model")()),
    # diet (1..4) learned as a nominal feature: multiway and binary nominal splits
    Case("htr_mean_chickweights_nominal_diet", "ChickWeights",
         _htr("mean", grace_period=10, nominal_attributes=["diet"])),
)
EFDT_CASES = (Case("efdt_nba_phishing", "Phishing", lambda: tree.ExtremelyFastDecisionTreeClassifier(
    leaf_prediction="nba", **GROW)),)
HAT_CASES = (Case("hat_nba_phishing", "Phishing", lambda: tree.HoeffdingAdaptiveTreeClassifier(
    leaf_prediction="nba", seed=1, **GROW)),)
LAST_CASES = (Case("last_nba_phishing", "Phishing", lambda: tree.LASTClassifier(
    leaf_prediction="nba")),)
SGT_CLASSIFIER_CASES = (Case("sgt_phishing", "Phishing", lambda: tree.SGTClassifier(
    grace_period=50)),)
SGT_REGRESSOR_CASES = (
    Case("sgt_reg_trumpapproval", "TrumpApproval", lambda: tree.SGTRegressor(
        grace_period=50)),
    # its splits are all on `diet`: Discard("chick") puts a numeric key in the schema
    Case("discard|sgt_reg_chickweights_nominal_diet", "ChickWeights", lambda: (
        compose.Discard("chick") | tree.SGTRegressor(grace_period=20,
                                                     nominal_attributes=["diet"]))),
)
HATR_CASES = (
    Case("hatr_adaptive_trumpapproval", "TrumpApproval", lambda: (
        tree.HoeffdingAdaptiveTreeRegressor(leaf_prediction="adaptive", seed=1, **GROW))),
    Case("scaler_hatr_model_trumpapproval", "TrumpApproval", lambda: (
        preprocessing.StandardScaler()
        | tree.HoeffdingAdaptiveTreeRegressor(leaf_prediction="model", seed=1, **GROW))),
    Case("hatr_mean_chickweights_nominal_diet", "ChickWeights", lambda: (
        tree.HoeffdingAdaptiveTreeRegressor(leaf_prediction="mean", seed=1, grace_period=10,
                                            delta=0.5, nominal_attributes=["diet"]))),
)


@register_extractor(tree.HoeffdingTreeClassifier, inputs=tree_inputs, kind="estimator",
                    produces=(TreeClassifier,), cases=HTC_CASES)
def hoeffding_tree_classifier(m: tree.HoeffdingTreeClassifier, columns, ctx) -> EstimatorIR:
    return tree_classifier_ir(m, columns, tuple(sorted(m.classes)))


@register_extractor(tree.ExtremelyFastDecisionTreeClassifier, inputs=tree_inputs,
                    kind="estimator", produces=(TreeClassifier,), cases=EFDT_CASES)
def extremely_fast_decision_tree(m: tree.ExtremelyFastDecisionTreeClassifier, columns,
                                 ctx) -> EstimatorIR:
    """EFDT predicts as a Hoeffding tree (its branches learn, but route as the parent's)."""
    return tree_classifier_ir(m, columns, tuple(sorted(m.classes)))


def _alternate_trees(m: Any) -> int:
    branch = (AdaBranchClassifier, AdaBranchRegressor)
    if not isinstance(m._root, branch):
        return 0
    return sum(1 for node in m._root.iter_dfs()
               if isinstance(node, branch) and node._alternate_tree is not None)


def _refuse_alternates(m: Any) -> None:
    n_alt = _alternate_trees(m)
    if n_alt:
        raise UnsupportedModelError(
            m, supported_models(),
            reason=f"{n_alt} alternate subtree(s) are growing and River mixes their leaves into "
            "predictions; export once they are swapped in or dropped (or use HoeffdingTree)")


@register_extractor(tree.HoeffdingAdaptiveTreeClassifier, inputs=tree_inputs, kind="estimator",
                    produces=(TreeClassifier,), cases=HAT_CASES)
def hoeffding_adaptive_tree(m: tree.HoeffdingAdaptiveTreeClassifier, columns, ctx) -> EstimatorIR:
    """The active tree. River's `predict_proba_one` adds up every leaf a row reaches, alternate
    subtrees' leaves included, each scaled by 1 / (its sum · its error²), then normalises: with
    no alternate tree that is the leaf's own distribution (to rounding). An alternate tree in
    growth changes predictions, so it is refused rather than ignored. Classes in the order of
    River's `classes` set (its probability dict order)."""
    _refuse_alternates(m)
    return tree_classifier_ir(m, columns, tuple(m.classes))


@register_extractor(tree.LASTClassifier, inputs=tree_inputs, kind="estimator",
                    produces=(TreeClassifier,), cases=LAST_CASES)
def last_classifier(m: tree.LASTClassifier, columns, ctx) -> EstimatorIR:
    """LAST splits on change detectors, but predicts as a Hoeffding tree: its leaves are the
    Hoeffding leaves with a detector attached (`prediction` is theirs)."""
    return tree_classifier_ir(m, columns, tuple(sorted(m.classes)))


# ------------------------------------------------------------------------------------- SGT


def _sgt_inputs(t: Any) -> dict:
    """The split features: an SGT leaf predicts a constant, whatever x holds."""
    found: dict = {}
    for node in t._root.iter_dfs():
        if isinstance(node, NominalMultiwayBranch):
            merge_inputs(found, {node.feature: set(node._mapping)})
        elif isinstance(node, DTBranch):
            merge_inputs(found, {node.feature: None})
    return found


def _sgt_leaf_values(m: Any, columns) -> tuple[_Flattener, list[float]]:
    """River's `predict`: `loss_func.transfer(leaf.prediction())` of the leaf reached, which is
    a constant per leaf (computed here by River's own function)."""
    flat = _flatten(m, columns)
    for leaf in flat.leaves:
        if type(leaf) is not SGTLeaf:
            raise flat.refuse(f"leaf type {type(leaf).__name__} is not exported")
    return flat, [float(m.loss_func.transfer(leaf.prediction())) for leaf in flat.leaves]


@register_extractor(tree.SGTClassifier, inputs=_sgt_inputs, kind="estimator",
                    produces=(TreeClassifier,), cases=SGT_CLASSIFIER_CASES)
def sgt_classifier(m: tree.SGTClassifier, columns, ctx) -> EstimatorIR:
    """`{True: t, False: 1 - t}` with t the leaf's sigmoid, in that order."""
    flat, values = _sgt_leaf_values(m, columns)
    probs = tuple((t, 1 - t) for t in values)
    est = TreeClassifier(columns, flat.structure(), probs, tuple(False for _ in probs))
    return EstimatorIR(est, "classification", (True, False))


@register_extractor(tree.SGTRegressor, inputs=_sgt_inputs, kind="estimator",
                    produces=(TreeRegressor,), cases=SGT_REGRESSOR_CASES)
def sgt_regressor(m: tree.SGTRegressor, columns, ctx) -> EstimatorIR:
    flat, values = _sgt_leaf_values(m, columns)
    est = TreeRegressor(columns, flat.structure(), tuple(values), tuple(False for _ in values))
    return EstimatorIR(est, "regression")


# ------------------------------------------------------------------------------------- regressor


def _uses_model(model: Any, leaf: Any) -> bool:
    if type(leaf) in MEAN:
        return False
    if type(leaf) in MODEL:
        return True
    if type(leaf) in ADAPTIVE:
        return not leaf._fmse_mean < leaf._fmse_model
    raise UnsupportedModelError(model, supported_models(),
                                reason=f"leaf type {type(leaf).__name__} is not exported")


def _leaf_linear(m: Any, leaf: Any, columns, ctx) -> tuple[tuple[float, ...], float]:
    lm = leaf._leaf_model
    try:
        result = extractor_for(lm).extract(lm, columns, ctx)
    except EmptyModelError:
        if type(lm) is not linear_model.LinearRegression:
            raise
        return tuple(0.0 for _ in columns), float(lm.intercept)  # no weight yet: the intercept
    est = result.estimator if isinstance(result, EstimatorIR) else None
    if not (isinstance(est, ir.Linear) and est.link == "identity" and len(est.weights) == 1):
        raise UnsupportedModelError(m, supported_models(),
                                    reason="leaf models are exported when they are linear regressors")
    return est.weights[0], est.intercepts[0]


def _unseen_reaches(flat: _Flattener, node: Any, key: Any) -> set[int]:
    """ids of the leaves a value of nominal `key` that no split knows can reach, by River's
    routing: `≠ value` at a binary test, the most common child at a multiway one (KeyError)."""
    found: set[int] = set()
    stack = [node]
    while stack:
        node = stack.pop()
        if not isinstance(node, DTBranch):
            found.add(id(node))
        elif isinstance(node, NominalBinaryBranch) and node.feature == key:
            stack.append(node.children[1])
        elif isinstance(node, NominalMultiwayBranch) and node.feature == key:
            stack.append(node.children[flat.most_common_child(node)])
        else:
            stack.extend(c for c in node.children if c is not None)
    return found


class _NominalNumbers:
    """River hands a model leaf the raw row: its LinearRegression multiplies a nominal attribute
    (`diet` = 4) by a weight, while the splits and the schema see that attribute as one-hot
    columns, which drop the weight. Folded back here, weight · category into each category's
    column, that is exact for every known category (a missing value adds nothing in River and
    NaN → 0 here); an unknown number reaching such a leaf cannot be carried, so it is refused."""

    def __init__(self, m: Any, flat: _Flattener, columns: tuple[str, ...], ctx: Any):
        self.m, self.flat, self.columns = m, flat, tuple(columns)
        self.pos = {c: i for i, c in enumerate(self.columns)}
        self.features = {f.name: f for f in ctx.schema.features
                         if f.kind == "categorical" and f.name not in self.pos}
        self._reach: dict[Any, set[int]] = {}

    def fold(self, leaf: Any, w: tuple[float, ...]) -> tuple[float, ...]:
        lm = leaf._leaf_model
        read = [k for k in extractor_for(lm).inputs(lm) if key_name(k) in self.features]
        if not read:
            return w
        raw = getattr(lm, "_weights", None)
        if raw is None:
            raise self.flat.refuse(f"its leaf model {type(lm).__name__} reads the nominal "
                                   f"attribute {key_name(read[0])!r} as a number; use "
                                   "linear_model.LinearRegression leaves or leaf_prediction='mean'")
        out = list(w)
        for key in read:
            coef = float(raw.get(key, 0.0))
            if coef != 0.0:
                self._fold_one(leaf, key, coef, out)
        return tuple(out)

    def _fold_one(self, leaf: Any, key: Any, coef: float, out: list[float]) -> None:
        f = self.features[key_name(key)]
        if key not in self._reach:
            self._reach[key] = _unseen_reaches(self.flat, self.m._root, key)
        numeric = all(isinstance(c, (int, float)) for c in f.categories)
        if id(leaf) in self._reach[key] or not numeric:
            raise self.flat.refuse(
                f"its leaf models multiply the nominal attribute {f.name!r} by a weight "
                f"({coef:.6g}: River's {type(leaf._leaf_model).__name__} reads the raw value as "
                "a number) and a value outside the known categories "
                f"{list(f.categories)} reaches such a leaf, whose answer the one-hot "
                f"{f.name!r} columns cannot carry; use leaf_prediction='mean', or leave "
                f"{f.name!r} out of nominal_attributes so that it is a numeric feature")
        for c in f.categories:
            col = ir.category_column(f.name, c)
            if col not in self.pos:
                raise self.flat.refuse(f"the leaf models read {f.name!r}, whose column {col!r} "
                                       "no step in front produces")
            out[self.pos[col]] += coef * c


@register_extractor(tree.HoeffdingTreeRegressor, inputs=tree_inputs, kind="estimator",
                    produces=(TreeRegressor,), cases=HTR_CASES)
def hoeffding_tree_regressor(m: tree.HoeffdingTreeRegressor, columns, ctx) -> EstimatorIR:
    """Leaves: `mean` → the target mean; `model` → its linear model; `adaptive` → whichever of the
    two the leaf picks now (mean when its faded MSE is strictly lower)."""
    flat = _flatten(m, columns)
    nominal = _NominalNumbers(m, flat, columns, ctx)
    means, use_model, weights, intercepts = [], [], [], []
    for leaf in flat.leaves:
        on = _uses_model(m, leaf)
        means.append(float(leaf.stats.mean.get()))
        use_model.append(on)
        w, b = _leaf_linear(m, leaf, columns, ctx) if on else (tuple(0.0 for _ in columns), 0.0)
        if on:
            w = nominal.fold(leaf, w)
        weights.append(tuple(w))
        intercepts.append(float(b))
    any_model = any(use_model)
    est = TreeRegressor(columns, flat.structure(), tuple(means), tuple(use_model),
                        tuple(weights) if any_model else (),
                        tuple(intercepts) if any_model else ())
    return EstimatorIR(est, "regression")


@register_extractor(tree.HoeffdingAdaptiveTreeRegressor, inputs=tree_inputs, kind="estimator",
                    produces=(TreeRegressor,), cases=HATR_CASES)
def hoeffding_adaptive_tree_regressor(m: tree.HoeffdingAdaptiveTreeRegressor, columns,
                                      ctx) -> EstimatorIR:
    """River's `predict_one` averages the leaves a row reaches, alternate subtrees' leaves
    included: with no alternate tree that is the one leaf's prediction (p / 1), as in the
    Hoeffding tree regressor. An alternate tree in growth is refused, as for HAT."""
    _refuse_alternates(m)
    return hoeffding_tree_regressor(m, columns, ctx)
