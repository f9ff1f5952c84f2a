"""Naive Bayes IR nodes (filled in by the naive-Bayes work)."""
