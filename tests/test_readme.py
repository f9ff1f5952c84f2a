"""The README is part of the product: its example runs and its support matrix is current."""

from __future__ import annotations

import re
from pathlib import Path

from estuary.support import support_matrix_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_support_matrix_is_generated_and_current():
    text = README.read_text()
    block = re.search(r"<!-- support-matrix:start -->\n(.*?)\n<!-- support-matrix:end -->", text, re.S)
    assert block, "README lost its support-matrix markers"
    assert block.group(1).strip() == support_matrix_markdown().strip(), (
        "README support matrix is stale: run python -m estuary.support --write-readme")


def test_python_example_runs(tmp_path, monkeypatch):
    code = re.search(r"## Python\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "phishing.onnx").exists()


def test_sklearn_example_runs(tmp_path, monkeypatch):
    code = re.search(r"## scikit-learn models\n.*?```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "iris.onnx").exists()
