"""Tree IR nodes (filled in by the trees work)."""
