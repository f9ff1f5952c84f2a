"""Unique names for the tensors / fields an emitter adds to a document that already names some."""

from __future__ import annotations


def unique_name(hint: str, used: set[str], sep: str, first: int) -> str:
    """`hint`, or else `hint{sep}{k}` for the first `k` from `first` up that is not in `used`;
    the name is added to `used`. The separator and first number are each format's own (its
    names must stay as they were: they are in the artifact's bytes)."""
    name, k = hint, first
    while name in used:
        name = f"{hint}{sep}{k}"
        k += 1
    used.add(name)
    return name
