"""The exported artifact predicts what the River model predicts (estuary's pytest plugin)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import model as project  # noqa: E402


def test_onnx_artifact_matches_the_river_model(estuary_parity, tmp_path):
    model = project.train()
    artifact = project.export(model, tmp_path / "model.onnx")
    held_out = [x for x, _ in project.rows()[1000:]]
    report = estuary_parity(model, artifact, held_out)
    assert report.label_agreement == 1.0
