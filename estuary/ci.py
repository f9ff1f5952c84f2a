"""`estuary ci init`: the CI files that run a project's parity tests (the pytest plugin) on every
push, as examples/parity-ci has them: a GitHub Actions workflow and a GitLab CI job that install
the project's requirements, run `pytest --estuary-reports reports` with JUnit XML, and keep
`reports/` (JSON, JUnit, HTML per check) whether the tests pass or fail.

A file that already exists with other content is never overwritten unless `force`; one with the
same content is left as it is. A missing requirements.txt is written (estuary-ml and pytest at
the versions this estuary was tested with).

>>> init(Path("my-project")).written
[PosixPath('my-project/.github/workflows/parity.yml'), ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import EstuaryError

PYTEST_VERSION = "9.2.0"  # the dev extra's pytest, which the plugin is tested with
PYTEST_COMMAND = "python -m pytest --estuary-reports reports --junitxml reports/pytest.junit.xml"
HEADER = "# Parity checks: the exported model must predict what the River model predicts.\n"

GITHUB = HEADER + f"""name: parity

on:
  push:
  pull_request:

jobs:
  parity:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip
      - name: Install
        run: pip install -r requirements.txt
      - name: Parity tests
        run: {PYTEST_COMMAND}
      - name: Keep the parity reports
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: estuary-parity-reports
          path: reports/
"""

GITLAB = HEADER + f"""parity:
  image: python:3.11
  stage: test
  script:
    - pip install -r requirements.txt
    - {PYTEST_COMMAND}
  artifacts:
    when: always
    paths:
      - reports/
    reports:
      junit: reports/*.junit.xml
"""

FILES = {"github": (".github/workflows/parity.yml", GITHUB), "gitlab": (".gitlab-ci.yml", GITLAB)}


class CiInitError(EstuaryError, ValueError):
    """A CI file estuary would write exists with other content."""


@dataclass(frozen=True)
class CiInit:
    """What `init` did: files written, files already as wanted, and what the user should do."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def requirements() -> str:
    """The requirements.txt `init` writes when the project has none."""
    from . import __version__

    return f"estuary-ml=={__version__}\npytest=={PYTEST_VERSION}\n"


def init(project: str | Path, systems: tuple[str, ...] = ("github", "gitlab"),
         force: bool = False) -> CiInit:
    """Write the CI files of `systems` ("github", "gitlab") into `project`.

    >>> init(Path("."), systems=("gitlab",)).written
    [PosixPath('.gitlab-ci.yml')]
    """
    project = Path(project)
    if not project.is_dir():
        raise CiInitError(f"{project} is not a directory: pass your project's root")
    unknown = sorted(set(systems) - set(FILES))
    if unknown or not systems:
        raise CiInitError(f"unknown CI system {unknown or systems}: choose from {sorted(FILES)}")
    wanted = {project / FILES[s][0]: FILES[s][1] for s in systems}
    reqs = project / "requirements.txt"
    notes = []
    if reqs.exists():
        if "estuary-ml" not in reqs.read_text(encoding="utf-8", errors="replace"):
            notes.append(f"add estuary-ml=={requirements().split('==')[1].split()[0]} to "
                         f"{reqs}: the CI jobs install it")
    else:
        wanted[reqs] = requirements()
    clashes = [p for p, text in wanted.items()
               if p.exists() and p.read_text(encoding="utf-8", errors="replace") != text]
    if clashes and not force:
        raise CiInitError(f"{', '.join(map(str, clashes))} already exist with other content: "
                          "merge the job by hand (see `estuary ci init --print`) or pass --force")
    done = CiInit(notes=notes)
    for path, text in wanted.items():
        if path.exists() and path.read_text(encoding="utf-8", errors="replace") == text:
            done.unchanged.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        done.written.append(path)
    return done


__all__ = ["CiInit", "CiInitError", "init"]
