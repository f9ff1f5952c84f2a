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
- a bare Hoeffding tree classifier fed through a `Learner` (`Capturer.track`): the leaf each
  event reached is read right after its `learn_one` (`_Tracker.learned`): only class y's
  Gaussians when the leaf was read before and only they moved since (`_read`), the whole leaf
  otherwise (~5–13 µs, against River's ~60–80 µs median and ~650 µs mean learn_one), and the
  capture (`_Structure`) is the last one's leaf states and branch records copied as
  dicts (in C) and updated with those reads and with the branches whose children changed
  (splits, found on the recorded paths): O(leaves learned since the last capture) in Python,
  not O(nodes). Whatever the record could miss (an event learned elsewhere, a missing
  feature, inactive leaves, which River may (de)activate anywhere) makes that capture walk
  every node.
- anything else (a scaler and a linear model: a few dicts): `pickle.dumps` on the loop and
  `pickle.loads` off it (`_Pickled`). For plain objects pickling runs in C from end to end: ~20
  µs for scaler|logreg against 80–300 µs for `copy.deepcopy`, which calls Python per object
  (the longer the capture, the likelier the worker thread's GIL request lands in it and the loop
  waits out the worker's slice), and one bytes object the collector does not track instead of
  ~100 new container objects. The round trip is River's own state, floats bit for bit. The
  bytes stay in the process (or go to its own worker process); nothing here reads a pickle
  from a store or the network. A model pickle refuses (a lambda, a lock, a structure deeper
  than the recursion limit) is deep-copied, as before.
"""

from __future__ import annotations

import copy
import pickle
from array import array
from typing import Any

from river import compose, stats, tree
from river.proba import Gaussian
from river.tree.nodes.branch import DTBranch, NumericBinaryBranch
from river.tree.nodes.htc_nodes import LeafMajorityClass, LeafNaiveBayes, LeafNaiveBayesAdaptive
from river.tree.splitter import GaussianSplitter

_LEAVES = (LeafMajorityClass, LeafNaiveBayes, LeafNaiveBayesAdaptive)
_GAUSS_TEMPLATE = Gaussian().__dict__  # seed and rng: never read by the density River predicts with


class _LeafState:
    """One leaf's captured state; `build()` (off the loop) gives River's leaf object for it."""

    __slots__ = ("cls", "attrs", "layout", "values", "built", "offsets")

    def __init__(self, leaf: Any):
        self.cls, self.attrs, self.built, self.offsets = type(leaf), _attrs(leaf), None, None
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

    def learned(self, leaf: Any, y: Any) -> _LeafState:
        """`leaf`'s state after it learned one event of class `y` since this state was read,
        or None if that event may have changed more than class y's part (`_Tracker.learned`
        says when this is asked). Such an event moves the leaf's scalars (copied anew, as
        `__init__` does) and, in each Gaussian splitter, only class y's Gaussian (River's
        `GaussianSplitter.update`): those three numbers are read again over a copy of these
        values. Not when a class, a splitter or a split attempt (which may drop a splitter)
        came since, nor for nominal splitters: then None. Class y's Gaussians are found once
        per layout (River updates them in place, never replaces them)."""
        offsets = self.offsets
        if offsets is None:
            offsets = self.offsets = {}
        found = offsets.get(y, _UNKNOWN)
        if found is _UNKNOWN:
            found = offsets[y] = _class_numbers(self.layout, leaf.splitters, y)
        if found is None:
            return None
        values = self.values[:]
        for mean, var, k in found:
            values[k] = mean.n
            values[k + 1] = mean._mean
            values[k + 2] = var._S
        new = _LeafState.__new__(_LeafState)
        new.cls, new.attrs, new.layout, new.values = self.cls, _attrs(leaf), self.layout, values
        new.built, new.offsets = None, offsets  # the same layout: the same offsets
        return new

    def version(self) -> tuple:
        """`_version` of the leaf when it was read, from what was read."""
        attrs = self.attrs
        stats = attrs["stats"]
        return (sum(stats.values()), len(stats), id(attrs["splitters"]),
                -1 if self.layout is None else len(self.layout))

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


_UNKNOWN = object()


def _attrs(leaf: Any) -> dict:
    """A leaf's own attributes, as `_LeafState` keeps them (its class counts copied)."""
    attrs = leaf.__dict__.copy()
    attrs["stats"] = leaf.stats.copy()
    attrs.pop("_disabled_attrs", None)  # learning only; set anew in build()
    return attrs


def _class_numbers(layout: list, splitters: dict, y: Any) -> list | None:
    """Where class y's Gaussian of each splitter is read from (its `Mean`, its `Var`) and
    sits in the values, or None if a splitter has no Gaussian of class y or is not a Gaussian
    splitter. `splitters` are the leaf's, laid out as `layout` (same keys, same order)."""
    found, k = [], 0
    for (_, classes, n_splits), sp in zip(layout, splitters.values()):
        if n_splits is None or y not in classes:
            return None
        var = sp._att_dist_per_class[y]._var
        found.append((var.mean, var, k + 4 * classes.index(y)))
        k += 4 * len(classes)
    return found


class Capturer:
    """Captures one model again and again, reusing what did not change since the last time.

    A bare Hoeffding tree classifier whose every event is fed to its tracker (`track(model)`,
    then `learned(x, w)` after each `learn_one`, as `Learner` does) is captured as a
    `_Structure`: see `_tracked`."""

    def __init__(self) -> None:
        self._leaves: dict[int, tuple] = {}  # id(live leaf) → (leaf, version, state)
        self._branches: dict[int, tuple] = {}  # id(live branch) → (branch, child captures, copy)
        # a tracked tree's branches: id(live branch) → (branch, live children, mapping)
        self._records: dict[int, tuple] = {}
        self._owner: Any = None  # the tracked tree `_leaves` and `_records` describe
        self._root: Any = None  # its root at the last capture
        self._dropped: list = []
        self._tracker: _Tracker | None = None
        self._unpicklable: Any = None  # the last model pickle refused: deep-copied from then on

    def track(self, model: Any) -> _Tracker | None:
        """The tracker to feed each event `model` learns, or None if `model` is not a bare
        Hoeffding tree classifier (its captures then walk every node). The tree is recorded
        now (the full walk, once), so that the first capture too reads only what learned."""
        if type(model) is not tree.HoeffdingTreeClassifier:
            self._tracker = None
            return None
        tracker = self._tracker = _Tracker(model)
        self._tracked(model, tracker)
        tracker.restart(self._leaves)
        return tracker

    def capture(self, model: Any) -> Any:
        """A copy of `model`'s state now, for `materialize`; the live model may learn on."""
        trees = [self._tree(t) for t in _steps(model)
                 if type(t) is tree.HoeffdingTreeClassifier]
        if len(trees) == 1 and trees[0].live is model:
            return Capture(trees[0].shell, trees, self._drop())
        if not trees:
            return Capture(self._copy(model), trees, self._drop())
        memo = {id(t.live): t.shell for t in trees}  # deepcopy takes the captured tree as is
        return Capture(copy.deepcopy(model, memo), trees, self._drop())

    def _copy(self, model: Any) -> Any:
        """A model without a captured tree: its pickle (the module docstring), or a deep copy
        if pickle refuses it."""
        if model is not self._unpicklable:
            try:
                return _Pickled(pickle.dumps(model, pickle.HIGHEST_PROTOCOL))
            except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
                self._unpicklable = model  # not tried again for this model
        return copy.deepcopy(model)

    def _drop(self) -> list:
        """What the last capture held and this one no longer needs (the states of leaves that
        learned or split since): freed with the capture, in the worker, not on the loop."""
        dropped, self._dropped = self._dropped, []
        return dropped

    def _tree(self, model: Any) -> Any:
        shell = model.__class__.__new__(model.__class__)
        shell.__dict__.update(model.__dict__)
        shell.classes = set(model.classes)
        tracker = self._tracker
        if tracker is not None and tracker.tree is model:
            shell._root = self._tracked(model, tracker)
            tracker.restart(self._leaves)
            return _CapturedTree(model, shell)
        root = model._root
        leaves, branches = {}, {}
        shell._root = None if root is None else self._node(root, leaves, branches)
        # forget nodes no longer in the tree (freeing them is left to the capture's holder)
        self._dropped += (self._leaves, self._branches)
        self._leaves, self._branches, self._owner = leaves, branches, None
        return _CapturedTree(model, shell)

    def _tracked(self, model: Any, tracker: _Tracker) -> _Structure:
        """A tracked tree's capture: the last capture's leaf states and branch records, copied
        (dict copies, in C) and updated with the leaves read as they learned and the branches
        whose children changed (a leaf that split, a new nominal value), found on the paths
        the tracker recorded: O(paths learned), not O(nodes). The full walk (`_record` from
        the root) when the record is not complete, and after a capture that holds many leaves
        no longer in the tree (born and split between two captures)."""
        root = model._root
        n_leaves = model._n_active_leaves + model._n_inactive_leaves
        self._dropped += (self._leaves, self._records)
        if self._owner is model and tracker.complete():
            leaves, records = self._leaves.copy(), self._records.copy()
            leaves.update(tracker.fresh)
            for path in tracker.grown:
                # the deepest branch recorded on the path is the one whose children changed
                # (those above it did not); what is under it and new gets recorded with it
                for node in reversed(path):
                    held = records.get(id(node))
                    if held is not None and held[0] is node:
                        if not _same_nodes(held[1], node.children):
                            for gone in held[1]:  # a leaf that split
                                if gone is not None and not any(gone is c
                                                                for c in node.children):
                                    _unrecord(gone, leaves, records)
                            self._record(node, leaves, records)
                        break
            if root is not self._root:  # the root leaf split
                _unrecord(self._root, leaves, records)
                self._record(root, leaves, records)
            if len(leaves) > n_leaves + n_leaves // 8 + 32:  # leaves born and split since
                model = None  # the last capture: the next capture walks and forgets them
        else:
            leaves, records = {}, {}
            if root is not None:
                self._record(root, leaves, records, old=self._leaves)
        self._leaves, self._records, self._owner, self._root = leaves, records, model, root
        return _Structure(root, leaves, records)

    def _record(self, node: Any, leaves: dict, records: dict, old: dict | None = None) -> None:
        """Record `node` and whatever under it is not recorded yet (all of it from the root
        with `old`, the previous leaf states, reused where a leaf's version did not move)."""
        kind = type(node)
        if not _is_branch(kind):
            if old is None:
                held = leaves.get(id(node))
                if held is not None and held[0] is node:
                    return
                old = {}
            leaves[id(node)] = self._leaf_held(node, old)
            return
        children = tuple(node.children)
        mapping = dict(node._mapping) if "_mapping" in node.__dict__ else None
        records[id(node)] = (node, children, mapping)
        for c in children:
            if c is None:
                continue
            if old is None and _is_branch(type(c)):
                held = records.get(id(c))
                if held is not None and held[0] is c:
                    continue  # recorded, with its subtree
            self._record(c, leaves, records, old)

    def _leaf_held(self, leaf: Any, old: dict) -> tuple:
        if type(leaf) not in _LEAVES:
            state = _LeafState.__new__(_LeafState)
            state.built = copy.deepcopy(leaf)
            return (leaf, None, state)
        version = _version(leaf)
        held = old.get(id(leaf))
        if held is None or held[0] is not leaf or _held_version(held) != version:
            held = (leaf, version, _LeafState(leaf))
        return held

    def _node(self, node: Any, leaves: dict, branches: dict) -> Any:
        if not _is_branch(type(node)):
            return self._leaf(node, leaves)
        kids: list = []
        add, old = kids.append, self._leaves
        for c in node.children:  # leaves inline: most nodes of a big tree are leaves
            kind = type(c)
            if c is None:
                add(None)
            elif _is_branch(kind):
                add(self._node(c, leaves, branches))
            elif kind in _LEAVES:  # what `_leaf` does, without a call per leaf
                version = _version(c)
                held = old.get(id(c))
                if held is None or held[0] is not c or _held_version(held) != version:
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
                                               dict(node._mapping) if mapping else None))
        branches[id(node)] = held
        return held[2]

    def _leaf(self, leaf: Any, leaves: dict) -> Any:
        held = leaves[id(leaf)] = self._leaf_held(leaf, self._leaves)
        return held[2]


def _same_nodes(held: tuple, children: list) -> bool:
    return len(held) == len(children) and all(a is b for a, b in zip(held, children))


def _unrecord(node: Any, leaves: dict, records: dict) -> None:
    """Forget a node (and its subtree) that left the tree."""
    for table in (leaves, records):
        held = table.get(id(node))
        if held is not None and held[0] is node:
            del table[id(node)]
            if table is records:
                for c in held[1]:
                    if c is not None:
                        _unrecord(c, leaves, records)


def _read(leaf: Any, held: tuple | None, y: Any) -> _LeafState:
    """`leaf`'s state after it learned one event of class y. `held` is its state read before
    that event and after every other event it learned (the tracker's record is complete), so
    only class y's part of it moved, unless the leaf's splitters were replaced or grew (a new
    feature), a class is new to it or a split was attempted (River may then drop a splitter):
    those read the whole leaf."""
    if held is not None:
        state = held[2]
        attrs, splitters, layout = state.attrs, leaf.splitters, state.layout
        if (splitters is attrs["splitters"] and layout is not None
                and len(splitters) == len(layout) and len(leaf.stats) == len(attrs["stats"])
                and leaf._last_split_attempt_at == attrs["_last_split_attempt_at"]):
            new = state.learned(leaf, y)
            if new is not None:
                return new
    return _LeafState(leaf)


def _path(root: Any, leaf: Any, x: dict) -> list:
    """The branches x goes through from `root` to `leaf` (which `_Tracker.learned` reached)."""
    path, node = [], root
    while node is not leaf:
        path.append(node)
        node = node.children[node.branch_no(x)]
    return path


def _held_version(held: tuple) -> Any:
    """The version of a held leaf state (`_Tracker` leaves it to be derived from the state)."""
    return held[2].version() if held[1] is None else held[1]


def _version(leaf: Any) -> tuple:
    """What learn_one moves in a leaf: the weight seen (any positive weight), a class's first
    count, the splitters (deactivated, reactivated, a poor attribute dropped)."""
    stats, sp = leaf.stats, leaf.splitters
    return (sum(stats.values()), len(stats), id(sp), -1 if sp is None else len(sp))


class _Tracker:
    """What the events one Hoeffding tree classifier learned since its last capture changed.

    River's `learn_one` changes the one leaf an event is routed to (its statistics; it may
    split, which changes its parent's children, or be deactivated) and, after a split, may
    (de)activate leaves anywhere (`_enforce_size_limit`), which it does only when the tree has
    inactive leaves or outgrows `max_size`: then `_n_inactive_leaves > 0` after the event.
    `learned(x, y, w)` routes x through the tree as it is after learning (to the leaf that
    learned, or to a new leaf in its place) and reads that leaf (`_read`: class y's part
    alone when that is all the event moved); a leaf the last capture did not know means the
    structure changed on that path, which is kept for the capture. The record is `complete()`
    only if every event the tree learned came through here (the tree's total weight is the
    sum of the weights fed here, added in the same order; checked at every event, to stop
    reading once it is not), no event met a missing feature or
    an unknown value (River then takes the most common path, which is not retraced here), and
    the tree never had an inactive leaf: otherwise the capture walks every node, from the last
    capture's leaf states (never from reads made since, which a class-y re-read could have
    built on a leaf changed elsewhere). Not seen: the
    tree learning events of weight 0 outside of `learned`."""

    __slots__ = ("tree", "known", "fresh", "grown", "weight", "exact")

    def __init__(self, model: Any):
        self.tree = model
        self.exact = False  # the first capture walks every node
        self.known: dict[int, tuple] = {}  # the leaves of the last capture
        self.fresh: dict[int, tuple] = {}  # id(leaf) → (leaf, None, state) after learning
        self.grown: list[list] = []  # the branches on paths that reached a leaf not known
        self.weight = 0.0

    def learned(self, x: dict, y: Any, w: float = 1.0) -> None:
        """Record where `x` (class `y`), just learned with weight `w`, went: call after each
        learn_one."""
        self.weight += w
        if not self.exact:
            return
        model = self.tree
        if (model._n_inactive_leaves or model._root is None
                or model._train_weight_seen_by_model != self.weight):  # learned elsewhere too
            self.exact = False
            return
        node = self._leaf(x)
        if node is None:
            self.exact = False
            return
        key = id(node)
        held = self.fresh.get(key)  # read earlier since the last capture
        if held is None:
            held = self.known.get(key)
            if held is None or held[0] is not node:
                self.grown.append(_path(model._root, node, x))
                held = None
        # the version is derived from the state when a full walk compares it (`_held_version`)
        self.fresh[key] = (node, None, _read(node, held, y))

    def _leaf(self, x: dict) -> Any:
        """The leaf x reaches now, or None where River would not follow x's own values (a
        missing feature, an unknown value: its fallbacks are not retraced here)."""
        node = self.tree._root
        try:
            while True:
                kind = type(node)
                if kind is NumericBinaryBranch:  # River's `branch_no`, inline
                    node = node.children[0 if x[node.feature] <= node.threshold else 1]
                elif kind in _LEAVES:
                    return node
                elif _is_branch(kind):
                    node = node.children[node.branch_no(x)]
                else:
                    return None
        except Exception:
            return None

    def complete(self) -> bool:
        model = self.tree
        return (self.exact and model._train_weight_seen_by_model == self.weight
                and not model._n_inactive_leaves)

    def restart(self, known: dict) -> None:
        """After a capture (whose leaves are `known`): record from here."""
        model = self.tree
        self.known, self.fresh, self.grown = known, {}, []
        self.weight = model._train_weight_seen_by_model
        self.exact = not model._n_inactive_leaves


class _Structure:
    """A tracked tree's capture: its root, each branch's live children (and value mapping) and
    each leaf's state; `build()` (off the loop) copies River's tree from them. The live
    branches are read for what learning never changes (test, statistics)."""

    __slots__ = ("root", "leaves", "records", "built")

    def __init__(self, root: Any, leaves: dict, records: dict):
        self.root, self.leaves, self.records, self.built = root, leaves, records, None

    def build(self) -> Any:
        if self.built is None and self.root is not None:
            self.built = self._build(self.root)
        return self.built

    def _build(self, node: Any) -> Any:
        held = self.records.get(id(node))
        if held is None or held[0] is not node:
            held = self.leaves[id(node)]
            if held[0] is not node:
                raise RuntimeError("capture: a leaf of the captured tree has no state")
            return held[2].build()
        branch, children, mapping = held
        clone = branch.__class__.__new__(branch.__class__)
        clone.__dict__.update(branch.__dict__)
        clone.children = [None if c is None else self._build(c) for c in children]
        if mapping is not None:
            clone._mapping = mapping
        return clone

    def __getstate__(self):  # to a worker process: the built copy, never the live nodes
        return (self.build(),)

    def __setstate__(self, state) -> None:
        self.root = self.leaves = self.records = None
        (self.built,) = state


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
        if isinstance(root, (_LeafState, _BranchState, _Structure)):  # not yet built
            self.shell._root = root.build()
        self.live = None


class _Pickled:
    """A model's state as the bytes `Capturer._copy` pickled on the loop, made in this process.
    Pickled again (a snapshot's checkpoint, a worker process) it is `pickle.loads(data)`: the
    model itself once loaded, without pickling the model a second time; it then shares no
    object with what is pickled beside it (a checkpoint's metric)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data

    def __reduce__(self):
        return pickle.loads, (self.data,)


class Capture:
    """A model's captured state: `model` is River's model once `materialize` has run."""

    __slots__ = ("model", "trees", "dropped")

    def __init__(self, model: Any, trees: list[_CapturedTree], dropped: list):
        self.model, self.trees, self.dropped = model, trees, dropped

    def __getstate__(self):
        return (self.model, self.trees)

    def __setstate__(self, state) -> None:
        (self.model, self.trees), self.dropped = state, []

    def pickled(self) -> _Pickled | None:
        """The model as its pickle when this capture is one (`Capturer._copy`), else None: a
        checkpoint taken at the same instant stores it (it loads as the model) rather than
        pickle the model again."""
        return self.model if type(self.model) is _Pickled else None


def materialize(captured: Capture) -> Any:
    """The River model a capture stands for (off the loop): its trees' leaves rebuilt."""
    captured.dropped = []  # the previous capture's leftovers: freed here, off the loop
    if type(captured.model) is _Pickled:
        captured.model = pickle.loads(captured.model.data)  # the loop's own bytes (_copy)
    for t in captured.trees:
        t.materialize()
    return captured.model


__all__ = ["Capture", "Capturer", "materialize"]
