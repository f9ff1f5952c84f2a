"""River naive Bayes → IR (filled in by the naive-Bayes work)."""
