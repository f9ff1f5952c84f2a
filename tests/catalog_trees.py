"""Hoeffding-tree cases (carried by the tree extractors) for test_trees.py."""

from __future__ import annotations

from catalog import carried_by
from river import tree

CASES = carried_by(tree.HoeffdingTreeClassifier, tree.HoeffdingTreeRegressor)
