"""Naive Bayes cases (carried by the GaussianNB extractor) for test_naive_bayes.py."""

from __future__ import annotations

from catalog import carried_by
from river import naive_bayes

CASES = carried_by(naive_bayes.GaussianNB)
