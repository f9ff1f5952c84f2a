"""Feature-construction cases (OrdinalEncoder, PolynomialExtender), as carried by their
extractors."""

from __future__ import annotations

from catalog import carried_by
from river import feature_extraction, preprocessing

CASES = carried_by(preprocessing.OrdinalEncoder, feature_extraction.PolynomialExtender)
