"""Naive Bayes cases for the shared export suite: (case id, bundled dataset name, model factory)."""

from __future__ import annotations

from river import naive_bayes, preprocessing


def gaussian_nb():
    return naive_bayes.GaussianNB()


def scaled_gaussian_nb():
    return preprocessing.StandardScaler() | naive_bayes.GaussianNB()


CASES = [
    ("gaussian_nb-phishing", "Phishing", gaussian_nb),
    ("gaussian_nb-bananas", "Bananas", gaussian_nb),
    ("gaussian_nb-image_segments", "ImageSegments", gaussian_nb),
    ("scaler_gaussian_nb-phishing", "Phishing", scaled_gaussian_nb),
    ("scaler_gaussian_nb-image_segments", "ImageSegments", scaled_gaussian_nb),
]
