"""`python -m estuary.support`: a mistyped or misplaced option is an error, not a silent no-op."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def support(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "estuary.support", *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=120)


def test_write_without_census_is_refused_and_writes_nothing():
    readme = (ROOT / "README.md").read_bytes()
    done = support("--write")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: --write goes with --census\nusage: python -m estuary.support")
    assert (ROOT / "README.md").read_bytes() == readme


def test_unknown_option_and_help():
    done = support("--censsus")
    assert done.returncode == 2 and "error: unknown option '--censsus'" in done.stderr
    shown = support("--help")
    assert shown.returncode == 0 and shown.stdout.startswith("usage: python -m estuary.support")
    assert "--write-readme" in shown.stdout and "| River model |" not in shown.stdout


def test_no_option_prints_the_matrix():
    done = support()
    assert done.returncode == 0 and done.stdout.startswith("| River model | coreml | onnx |")


def test_write_readme_alone_is_a_command_line_it_runs():
    from estuary.support import usage_error

    assert usage_error(["--write-readme"]) is None  # what test_readme tells a user to run
    assert usage_error(["--write"]) == "--write goes with --census"
    assert usage_error(["--census", "--write", "--only=Hoeffding", "--formats=onnx"]) is None
