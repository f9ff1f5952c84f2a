"""`estuary ci init`: the CI files it writes into a project are the sample project's
(examples/parity-ci), pass the GitHub / GitLab JSON schemas check-jsonschema vendors, and are
never overwritten silently."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from test_pytest_plugin import EXAMPLE, _schema_errors

import estuary
from estuary.ci import CiInitError, init, requirements


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "estuary", "ci", "init", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_init_writes_the_sample_projects_ci_files(tmp_path):
    done = _run(str(tmp_path))
    assert done.returncode == 0, done.stderr
    workflow = tmp_path / ".github" / "workflows" / "parity.yml"
    gitlab = tmp_path / ".gitlab-ci.yml"
    assert workflow.read_text() == (EXAMPLE / ".github" / "workflows" / "parity.yml").read_text()
    assert gitlab.read_text() == (EXAMPLE / ".gitlab-ci.yml").read_text()
    assert (tmp_path / "requirements.txt").read_text() == requirements()
    assert f"estuary-ml=={estuary.__version__}" in requirements().split()
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        ".github/workflows/parity.yml", ".gitlab-ci.yml", "requirements.txt"]
    assert done.stdout.count("wrote ") == 3


def test_the_written_files_pass_their_json_schemas(tmp_path):
    init(tmp_path)
    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "parity.yml").read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1's boolean `on`, as GitHub reads it
    assert _schema_errors("github-workflows.json", workflow) == []
    assert _schema_errors("gitlab-ci.json", yaml.safe_load(
        (tmp_path / ".gitlab-ci.yml").read_text())) == []


def test_a_second_run_changes_nothing_and_a_different_file_is_kept(tmp_path):
    first = init(tmp_path)
    assert len(first.written) == 3 and first.unchanged == []
    again = init(tmp_path)
    assert again.written == [] and len(again.unchanged) == 2  # requirements.txt is now theirs
    mine = "build:\n  script: [make]\n"
    (tmp_path / ".gitlab-ci.yml").write_text(mine)
    done = _run(str(tmp_path))
    assert done.returncode == 2 and "already exist with other content" in done.stderr
    assert (tmp_path / ".gitlab-ci.yml").read_text() == mine  # nothing overwritten
    assert _run(str(tmp_path), "--force").returncode == 0
    assert (tmp_path / ".gitlab-ci.yml").read_text() == (EXAMPLE / ".gitlab-ci.yml").read_text()


def test_one_system_and_the_users_own_requirements(tmp_path):
    (tmp_path / "requirements.txt").write_text("river==0.26.1\n")
    done = init(tmp_path, systems=("gitlab",))
    assert done.written == [tmp_path / ".gitlab-ci.yml"]
    assert (tmp_path / "requirements.txt").read_text() == "river==0.26.1\n"  # left as it was
    assert done.notes == [f"add estuary-ml=={estuary.__version__} to "
                          f"{tmp_path / 'requirements.txt'}: the CI jobs install it"]
    assert not (tmp_path / ".github").exists()


def test_bad_arguments_are_typed_errors(tmp_path):
    with pytest.raises(CiInitError, match="is not a directory"):
        init(tmp_path / "missing")
    with pytest.raises(CiInitError, match="unknown CI system"):
        init(tmp_path, systems=("jenkins",))
    printed = _run("--print", "--no-gitlab", cwd=tmp_path)
    assert printed.returncode == 0 and "# --- .github/workflows/parity.yml" in printed.stdout
    assert list(tmp_path.iterdir()) == []  # --print writes nothing
