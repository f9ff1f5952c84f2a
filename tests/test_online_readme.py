"""The README's online examples run as written (the Redis one against a real redis-server)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from estuary.online import Store
from estuary.online.testing import redis_server

ROOT = Path(__file__).resolve().parents[1]
HEADINGS = ("## Online: learn in your loop, publish verified snapshots",
            "## Online: from a Redis Stream")


def example(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(re.escape(heading) + r"\n\n```python\n(.*?)```", text, re.S)
    assert block, f"README.md lost the section {heading!r} or its python block"
    return block.group(1)


def test_asyncio_example_runs(tmp_path, monkeypatch, capsys):
    code = example(HEADINGS[0])
    assert len(code.strip().splitlines()) <= 16
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    assert "published after 1250 events" in capsys.readouterr().out
    assert Store(tmp_path / "models").open().manifest.n_events == 1250


def test_redis_example_runs(tmp_path, monkeypatch):
    code = example(HEADINGS[1])
    monkeypatch.chdir(tmp_path)
    try:
        with redis_server() as url:
            monkeypatch.setenv("REDIS_URL", url)
            exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    except RuntimeError as e:
        pytest.fail(str(e))
    manifest = Store(tmp_path / "models").open().manifest
    assert manifest.n_events >= 1000
