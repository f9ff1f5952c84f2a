"""The model this project ships: logistic regression on River's bundled Phishing dataset."""

from __future__ import annotations

from pathlib import Path

from river import datasets, linear_model, preprocessing

import estuary


def rows() -> list[tuple[dict, bool]]:
    return list(datasets.Phishing())


def train(n: int = 1000):
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for x, y in rows()[:n]:
        model.learn_one(x, y)
    return model


def export(model, path: str | Path = "model.onnx") -> Path:
    sample = [x for x, _ in rows()[:100]]
    return estuary.export(model, path, sample=sample).path


if __name__ == "__main__":
    print(export(train()))
