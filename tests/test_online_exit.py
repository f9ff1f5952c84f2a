"""A Learner the script never closes still publishes the last snapshot it took.

At interpreter exit the executor refuses new jobs; the snapshot waiting behind the running
one used to be dropped with a RuntimeError traceback (and the store kept an older version).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import sys
    from river import linear_model, preprocessing
    from estuary.online import Learner, Store
    from estuary.online.testing import phishing

    def main(root, executor):
        learner = Learner(preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                          store=Store(root), formats=["onnx", "pmml"], executor=executor)
        for i, (x, y) in enumerate(phishing()):
            learner.learn_one(x, y)
            if i % 100 == 99:
                learner.snapshot()
        print(learner.publisher.submitted, flush=True)  # no close(), no `with`

    if __name__ == "__main__":
        main(sys.argv[1], sys.argv[2])
""")


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_the_last_snapshot_is_published_when_the_learner_is_never_closed(tmp_path: Path,
                                                                         executor: str):
    script = tmp_path / "learn.py"
    script.write_text(SCRIPT)
    root = tmp_path / "store"
    done = subprocess.run([sys.executable, str(script), str(root), executor],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12"]
    assert "Traceback" not in done.stderr
    versions = sorted(int(p.name) for p in (root / "versions").iterdir())
    manifest = json.loads((root / "versions" / str(versions[-1]) / "manifest.json").read_text())
    assert manifest["n_events"] == 1200  # the 12th snapshot, taken after 1,200 events
    assert manifest["status"] == "published"
    assert set(manifest["formats"]) == {"onnx", "pmml"}


def test_close_without_waiting_cancels_the_waiting_snapshot(tmp_path: Path):
    from concurrent.futures import CancelledError

    from river import linear_model, preprocessing

    from estuary.online import Learner, Store
    from estuary.online.testing import phishing

    learner = Learner(preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                      store=Store(tmp_path), formats=["onnx", "pmml"])
    futures = []
    for i, (x, y) in enumerate(phishing()):
        learner.learn_one(x, y)
        if i % 100 == 99:
            futures.append(learner.snapshot())
    publisher = learner.publisher
    publisher.close(wait=False)
    assert futures[0].result(timeout=120).published
    with pytest.raises(CancelledError):
        futures[-1].result(timeout=120)
    assert publisher.wait(timeout=120)
    assert [p.name for p in (tmp_path / "versions").iterdir()] == ["1"]
