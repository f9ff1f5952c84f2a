"""The on-loop part of a snapshot: a River model's state at one instant, copied as little as possible.

The model mutates with the next `learn_one`, so whatever a snapshot reads of it is read on the
loop; everything derived from that state (IR, probes, River's reference) can then run elsewhere
(`freeze.complete`) on a copy the live model never touches again. `Capturer.capture(model)`:

- Hoeffding tree classifiers (exact class, alone or as a pipeline's step): each branch is
  recorded with its children's captures (a leaf that splits changes its parent's children
  list); a leaf is read only if it learned since the last capture (versioned by its weight,
  class count and splitters), otherwise its previous capture is reused by identity, and so is
  a branch whose children's captures are all the same. A leaf's Gaussian statistics go into
  one `array('d')`: no collector-tracked object per number, ~10 µs per changed leaf.
  Off the loop, `materialize` rebuilds River's own branch, leaf, splitter and `Gaussian`
  objects from them, once per version, so River's own prediction code answers the reference
  rows. Cost on the loop: ~1 µs per node walked plus the leaves that learned.
- a bare Hoeffding tree classifier fed through a `Learner` (`Capturer.track`): each event's
  path is recorded as it learns and the leaf it reached is read then (`_Tracker.learned`, ~15
  µs a learn_one), so the capture visits only the branches on those paths and reuses every
  other subtree whole: O(paths learned since the last capture), not O(nodes). Whatever the
  record could miss (an event learned elsewhere, a missing feature, inactive leaves, which
  River may (de)activate anywhere) makes that capture walk every node as above.
- anything else: `copy.deepcopy` (a scaler and a linear model are a few dicts, ~0.2 ms).
"""

from __future__ import annotations

import copy
from array import array
from typing import Any

from river import compose, stats, tree
from river.proba import Gaussian
from river.tree.nodes.branch import DTBranch
from river.tree.nodes.htc_nodes import LeafMajorityClass, LeafNaiveBayes, LeafNaiveBayesAdaptive
from river.tree.splitter import GaussianSplitter

_LEAVES = (LeafMajorityClass, LeafNaiveBayes, LeafNaiveBayesAdaptive)
_GAUSS_TEMPLATE = Gaussian().__dict__  # seed and rng: never read by the density River predicts with


class _LeafState:
    """One leaf's captured state; `build()` (off the loop) gives River's leaf object for it."""

    __slots__ = ("cls", "attrs", "layout", "values", "built")

    def __init__(self, leaf: Any):
        attrs = leaf.__dict__.copy()
        attrs["stats"] = leaf.stats.copy()
        attrs.pop("_disabled_attrs", None)  # learning only; set anew in build()
        self.cls, self.attrs, self.built = type(leaf), attrs, None
        splitters = leaf.splitters
        if splitters is None:  # an inactive leaf
            self.layout = self.values = None
            return
        layout, values = [], []
        for att, sp in splitters.items():
            if type(sp) is GaussianSplitter:
                per_class = sp._att_dist_per_class
                for g in per_class.values():
                    var = g._var
                    mean = var.mean
                    values += (mean.n, mean._mean, var._S, var.ddof)
                layout.append((att, tuple(per_class), sp.n_splits))
            else:  # nominal and other splitters: a plain copy (rare in numeric streams)
                layout.append((att, copy.deepcopy(sp), None))
        self.layout, self.values = layout, array("d", values)

    def build(self) -> Any:
        if self.built is None:
            leaf = self.cls.__new__(self.cls)
            leaf.__dict__.update(self.attrs)
            leaf._disabled_attrs = set()
            leaf.splitters = None if self.layout is None else self._splitters()
            self.built = leaf
        return self.built

    def _splitters(self) -> dict:
        out, values, k = {}, self.values, 0
        for att, classes, n_splits in self.layout:
            if n_splits is None:
                out[att] = classes  # the deep copy made on the loop
                continue
            sp = GaussianSplitter.__new__(GaussianSplitter)
            per_class = {}
            for c in classes:
                var = stats.Var.__new__(stats.Var)
                mean = stats.Mean.__new__(stats.Mean)
                mean.n, mean._mean, var._S, var.ddof = (values[k], values[k + 1], values[k + 2],
                                                        int(values[k + 3]))
                var.mean = mean
                g = Gaussian.__new__(Gaussian)
                g.__dict__.update(_GAUSS_TEMPLATE)
                g._var = var
                per_class[c] = g
                k += 4
            sp.__dict__.update(_min_per_class={}, _max_per_class={},
                               _att_dist_per_class=per_class, n_splits=n_splits)
            out[att] = sp
        return out


class Capturer:
    """Captures one model again and again, reusing what did not change since the last time.

    Fed every event a bare Hoeffding tree classifier learns (`track(model)`, then
    `learned(x, w)` after each `learn_one`), the next capture of that tree re-reads only the
    nodes those events went through (see `_Tracker`), not every node."""

    def __init__(self) -> None:
        self._leaves: dict[int, tuple] = {}  # id(live leaf) → (leaf, version, state)
        # id(live branch) → (branch, child captures, copy, live children)
        self._branches: dict[int, tuple] = {}
        self._dropped: list = []
        self._owner: Any = None  # the tree whose nodes `_leaves` and `_branches` hold
        self._root: Any = None  # its root at the last capture
        self._tracker: _Tracker | None = None

    def track(self, model: Any) -> _Tracker | None:
        """The tracker to feed each event `model` learns, or None if `model` is not a bare
        Hoeffding tree classifier (its captures then walk every node)."""
        self._tracker = _Tracker(model) if type(model) is tree.HoeffdingTreeClassifier else None
        return self._tracker

    def capture(self, model: Any) -> Any:
        """A copy of `model`'s state now, for `materialize`; the live model may learn on."""
        trees = [self._tree(t) for t in _steps(model)
                 if type(t) is tree.HoeffdingTreeClassifier]
        if len(trees) == 1 and trees[0].live is model:
            return Capture(trees[0].shell, trees, self._drop())
        memo = {id(t.live): t.shell for t in trees}  # deepcopy takes the captured tree as is
        return Capture(copy.deepcopy(model, memo), trees, self._drop())

    def _drop(self) -> list:
        """What the last capture held and this one no longer needs (the states of leaves that
        learned or split since): freed with the capture, in the worker, not on the loop."""
        dropped, self._dropped = self._dropped, []
        return dropped

    def _tree(self, model: Any) -> Any:
        root = model._root
        shell = model.__class__.__new__(model.__class__)
        shell.__dict__.update(model.__dict__)
        shell.classes = set(model.classes)
        tracker = self._tracker
        if tracker is not None and tracker.tree is model and self._owner is model \
                and tracker.complete():
            shell._root = None if root is None else self._refresh(root, tracker.dirty,
                                                                  tracker.fresh)
            if self._root is not None and root is not self._root:  # the root leaf split
                self._forget(self._root)
        else:  # the full walk: anything may have changed
            leaves, branches = {}, {}
            shell._root = None if root is None else self._node(root, leaves, branches)
            # forget nodes no longer in the tree (freeing them is left to the capture's holder)
            self._dropped += (self._leaves, self._branches)
            self._leaves, self._branches = leaves, branches
        self._owner, self._root = model, root
        if tracker is not None and tracker.tree is model:
            tracker.restart()
        return _CapturedTree(model, shell)

    def _refresh(self, node: Any, dirty: set, fresh: dict) -> Any:
        """`_node` for a tracked tree: only the branches in `dirty` are visited again, with the
        leaves read as they learned (`fresh`) and new subtrees; any other node's last capture
        is reused with its whole subtree."""
        kind = type(node)
        if kind in _LEAVES:
            key = id(node)
            read, held = fresh.get(key), self._leaves.get(key)
            if read is None:
                if held is not None and held[0] is node:
                    return held[2]
            elif read[0] is node and read[1] == _version(node):
                if held is not None:
                    self._dropped.append(held)
                self._leaves[key] = read
                return read[2]
            return self._leaf(node, self._leaves)
        held = self._branches.get(id(node))
        if held is None or held[0] is not node or not _is_branch(kind):
            return self._node(node, self._leaves, self._branches)  # a new subtree: all of it
        if id(node) not in dirty:
            return held[2]
        children = tuple(node.children)
        kids_t = tuple(None if c is None else self._refresh(c, dirty, fresh)
                       for c in children)
        mapping = "_mapping" in node.__dict__
        if held[1] != kids_t or mapping:
            for old in held[3]:
                if old is not None and old not in children:  # a leaf that split
                    self._forget(old)
            self._dropped.append(held)
            self._branches[id(node)] = (node, kids_t, _BranchState(
                node, kids_t, dict(node._mapping) if mapping else None), children)
        return self._branches[id(node)][2]

    def _forget(self, node: Any) -> None:
        """Stop holding a node (and its subtree) that left the tree; freed in the worker."""
        for table in (self._leaves, self._branches):
            held = table.get(id(node))
            if held is not None and held[0] is node:
                self._dropped.append(table.pop(id(node)))
                if table is self._branches:
                    for c in held[3]:
                        if c is not None:
                            self._forget(c)

    def _node(self, node: Any, leaves: dict, branches: dict) -> Any:
        if not _is_branch(type(node)):
            return self._leaf(node, leaves)
        kids: list = []
        add, old = kids.append, self._leaves
        children = tuple(node.children)
        for c in children:  # leaves inline: most nodes of a big tree are leaves
            kind = type(c)
            if c is None:
                add(None)
            elif _is_branch(kind):
                add(self._node(c, leaves, branches))
            elif kind in _LEAVES:  # what `_leaf` does, without a call per leaf
                version = _version(c)
                held = old.get(id(c))
                if held is None or held[0] is not c or held[1] != version:
                    held = (c, version, _LeafState(c))
                leaves[id(c)] = held
                add(held[2])
            else:
                add(self._leaf(c, leaves))
        kids_t = tuple(kids)
        held = self._branches.get(id(node))
        mapping = "_mapping" in node.__dict__  # a nominal multiway branch grows on new values
        if held is None or held[0] is not node or held[1] != kids_t or mapping:
            held = (node, kids_t, _BranchState(node, kids_t,
                                               dict(node._mapping) if mapping else None),
                    children)
        branches[id(node)] = held
        return held[2]

    def _leaf(self, leaf: Any, leaves: dict) -> Any:
        if type(leaf) not in _LEAVES:
            state = _LeafState.__new__(_LeafState)
            state.built = copy.deepcopy(leaf)
            leaves[id(leaf)] = (leaf, None, state)
            return state
        version = _version(leaf)
        held = self._leaves.get(id(leaf))
        if held is None or held[0] is not leaf or held[1] != version:
            if held is not None and leaves is self._leaves:  # updated in place: free the old
                self._dropped.append(held)
            held = (leaf, version, _LeafState(leaf))
        leaves[id(leaf)] = held
        return held[2]


def _version(leaf: Any) -> tuple:
    """What learn_one moves in a leaf: the weight seen (any positive weight), a class's first
    count, the splitters (deactivated, reactivated, a poor attribute dropped)."""
    stats, sp = leaf.stats, leaf.splitters
    return (sum(stats.values()), len(stats), id(sp), -1 if sp is None else len(sp))


class _Tracker:
    """The nodes of one Hoeffding tree classifier that the events learned since its last
    capture went through, for a capture that reads only those.

    River's `learn_one` changes the one leaf an event is routed to (its statistics; it may
    split, which changes its parent's children, or be deactivated) and, after a split, may
    (de)activate leaves anywhere (`_enforce_size_limit`), which it does only when the tree has
    inactive leaves or outgrows `max_size`: then `_n_inactive_leaves > 0` after the event.
    `learned(x, w)` routes x through the tree as it is after learning (the leaf that learned,
    or the new branch and leaf in its place), records that path's branches and reads the leaf
    (~10 µs, against the ~650 µs of a 1k-node nba tree's learn_one), so that a capture only
    puts together the states read since the last one. The record is
    `complete()` only if every event the tree learned came through here (the tree's total
    weight is the sum of the weights fed here, added in the same order), no event met a
    missing feature or an unknown value (River then takes the most common path, whose choice
    is not retraced here), and the tree never had an inactive leaf: otherwise the capture walks
    every node. Not seen: the tree learning events of weight 0 outside of `learned`."""

    __slots__ = ("tree", "dirty", "fresh", "weight", "exact")

    def __init__(self, model: Any):
        self.tree = model
        self.exact = False  # the first capture walks every node
        self.dirty: set[int] = set()  # id(branch)
        self.fresh: dict[int, tuple] = {}  # id(leaf) → (leaf, version, state) after learning
        self.weight = 0.0

    def learned(self, x: dict, w: float = 1.0) -> None:
        """Record where `x`, just learned with weight `w`, went: call after each learn_one."""
        self.weight += w
        if not self.exact:
            return
        model = self.tree
        node = model._root
        if model._n_inactive_leaves or node is None:
            self.exact = False
            return
        add = self.dirty.add
        try:
            while type(node) not in _LEAVES:
                if not _is_branch(type(node)):
                    self.exact = False
                    return
                add(id(node))
                node = node.children[node.branch_no(x)]
        except Exception:  # a missing feature, an unknown value: River's own fallbacks
            self.exact = False
            return
        self.fresh[id(node)] = (node, _version(node), _LeafState(node))

    def complete(self) -> bool:
        model = self.tree
        return (self.exact and model._train_weight_seen_by_model == self.weight
                and not model._n_inactive_leaves)

    def restart(self) -> None:
        """After a capture: record from here."""
        model = self.tree
        self.dirty, self.fresh = set(), {}
        self.weight = model._train_weight_seen_by_model
        self.exact = not model._n_inactive_leaves


class _BranchState:
    """A branch with its children's captures; `build()` (off the loop) copies River's branch.

    Of a Hoeffding tree classifier's branch, learning changes only the children (a leaf that
    splits, a nominal branch's new value) and a multiway branch's value mapping: those are
    captured here; its test (feature, threshold, value) and statistics are set once, when the
    branch is made, so the copy may read them later."""

    __slots__ = ("node", "kids", "mapping", "built")

    def __init__(self, node: Any, kids: tuple, mapping: dict | None):
        self.node, self.kids, self.mapping, self.built = node, kids, mapping, None

    def build(self) -> Any:
        if self.built is None:
            node = self.node
            clone = node.__class__.__new__(node.__class__)
            clone.__dict__.update(node.__dict__)
            clone.children = [None if k is None else k.build() for k in self.kids]
            if self.mapping is not None:
                clone._mapping = self.mapping
            self.built = clone
        return self.built

    def __getstate__(self):  # to a worker process: the built copy, never the live branch
        return (None, (), None, self.build())

    def __setstate__(self, state) -> None:
        self.node, self.kids, self.mapping, self.built = state


_BRANCH_KINDS: dict[type, bool] = {}


def _is_branch(kind: type) -> bool:
    """`issubclass(kind, DTBranch)`, memoised: DTBranch is an ABC, whose check costs a call."""
    known = _BRANCH_KINDS.get(kind)
    if known is None:
        known = _BRANCH_KINDS[kind] = issubclass(kind, DTBranch)
    return known


def _steps(model: Any) -> list:
    return [model] + (list(model.steps.values()) if isinstance(model, compose.Pipeline) else [])


class _CapturedTree:
    """A captured tree: the shell (River's class) over branch copies and leaf states."""

    __slots__ = ("live", "shell")

    def __init__(self, live: Any, shell: Any):
        self.live, self.shell = live, shell

    def __getstate__(self):  # to a worker process: the capture, not the live model
        return (None, self.shell)

    def __setstate__(self, state) -> None:
        self.live, self.shell = state

    def materialize(self) -> None:
        root = self.shell._root
        if isinstance(root, (_LeafState, _BranchState)):  # not yet built
            self.shell._root = root.build()
        self.live = None


class Capture:
    """A model's captured state: `model` is River's model once `materialize` has run."""

    __slots__ = ("model", "trees", "dropped")

    def __init__(self, model: Any, trees: list[_CapturedTree], dropped: list):
        self.model, self.trees, self.dropped = model, trees, dropped

    def __getstate__(self):
        return (self.model, self.trees)

    def __setstate__(self, state) -> None:
        (self.model, self.trees), self.dropped = state, []


def materialize(captured: Capture) -> Any:
    """The River model a capture stands for (off the loop): its trees' leaves rebuilt."""
    captured.dropped = []  # the previous capture's leftovers: freed here, off the loop
    for t in captured.trees:
        t.materialize()
    return captured.model


__all__ = ["Capture", "Capturer", "materialize"]
