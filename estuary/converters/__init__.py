"""River model → IR → artifacts. Format modules import `ir` and their format library only."""
