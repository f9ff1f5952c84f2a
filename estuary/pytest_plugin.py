"""estuary's pytest plugin (entry point `pytest11`, active wherever estuary is installed).

    pytest --estuary-reports reports/     # or `estuary_reports = reports` in the ini file

    def test_exported_model_matches(estuary_parity):
        estuary_parity(model, "model.onnx", rows)   # estuary.testing.assert_parity + reports

Each call writes `<dir>/<test name>[-<n>].json`, `.junit.xml` and `.html`; without the option
nothing is written. Importing this module imports nothing of estuary (it loads in every pytest
run of an environment that has estuary): the work happens when the fixture is called.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

OPTION = "--estuary-reports"
ENV = "ESTUARY_REPORTS"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("estuary", "estuary parity checks")
    group.addoption(OPTION, dest="estuary_reports", metavar="DIR", default=None,
                    help=f"write estuary parity reports (JSON, JUnit XML, HTML) to DIR "
                         f"(also: ${ENV}, or the estuary_reports ini option)")
    parser.addini("estuary_reports", "directory for estuary parity reports", default="")


def reports_dir(config: pytest.Config) -> Path | None:
    """Where reports go: the option, else $ESTUARY_REPORTS, else the ini value; relative paths
    are taken from the rootdir."""
    value = config.getoption("estuary_reports") or os.environ.get(ENV) or \
        config.getini("estuary_reports")
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else Path(config.rootpath) / path


@pytest.fixture
def estuary_reports_dir(request: pytest.FixtureRequest) -> Path | None:
    """The directory parity reports are written to, or None."""
    return reports_dir(request.config)


@pytest.fixture
def estuary_parity(request: pytest.FixtureRequest, estuary_reports_dir):
    """`estuary.testing.assert_parity`, writing its reports under the test's name."""
    from .testing import assert_parity

    calls = []

    def check(model, artifact, rows=(), *, adversarial: bool = True, name: str | None = None):
        calls.append(artifact)
        stem = name or (request.node.name if len(calls) == 1
                        else f"{request.node.name}-{len(calls)}")
        return assert_parity(model, artifact, rows, adversarial=adversarial,
                             reports=estuary_reports_dir, name=stem)

    return check
