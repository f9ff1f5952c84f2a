"""ONNX for tree IR (filled in by the trees work)."""
