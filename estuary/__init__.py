"""estuary: ship online River models anywhere, with proof that they predict the same."""

__version__ = "0.1.0"
