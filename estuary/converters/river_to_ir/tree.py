"""River Hoeffding trees → IR (filled in by the trees work)."""
