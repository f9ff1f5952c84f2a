"""`estuary store ...`: list, show, diff, pin, unpin, rollback, gc; what `latest`, the server's
/models/latest and /predict give at each step; refusals leave the store as it was."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from typer.testing import CliRunner

from estuary.cli import app
from estuary.online import Store, store_admin
from estuary.online.publish import publish
from estuary.online.server import create_app
from estuary.online.store import StoreError
from estuary.online.store_admin import (
    NoSuchVersionError,
    NothingToRollBackToError,
    NotPinnedError,
    NotVerifiedError,
    PinnedError,
    RejectedVersionError,
    StoreAdminError,
)
from estuary.online.testing import broken_format, logreg, phishing, running_server

runner = CliRunner()
ROWS = phishing(400)


def _freeze(model, n: int, reason: str):
    from estuary.online.freeze import freeze

    return freeze(model, [x for x, _ in ROWS[:16]], budget=8, n_events=n, reason=reason,
                  metrics={"Accuracy": n / 1000})


def _publish(store: Store, model, upto: int, reason: str):
    """Learn the rows up to `upto` (from where the model is) and publish ONNX."""
    start = getattr(model, "_seen", 0)
    for x, y in ROWS[start:upto]:
        model.learn_one(x, y)
    model._seen = upto
    return publish(_freeze(model, upto, reason), store, formats=["onnx"])


@pytest.fixture
def store3(tmp_path):
    """Three published versions (N, T, drift) and one rejected (version 4)."""
    store, model = Store(tmp_path / "m"), logreg()
    for upto, reason in ((100, "every 100 events"), (200, "every 30 s"), (300, "drift (ADWIN)")):
        assert _publish(store, model, upto, reason).published
    with broken_format() as name:
        bad = publish(_freeze(model, 300, "manual"), store, formats=[name])
    assert (bad.version, bad.published) == (4, False)
    return store, model


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _served(http: httpx.Client, row: dict) -> tuple[int, int]:
    return (http.get("/models/latest").json()["version"],
            http.post("/predict", json=row).json()["version"])


def test_rollback_pin_publish_unpin_gc_with_a_server(store3):
    store, model = store3
    row = ROWS[0][0]
    with running_server(create_app(store.root, poll=0.02)) as url, \
            httpx.Client(base_url=url) as http:
        assert _served(http, row) == (3, 3)
        history = http.get("/models/history").json()
        assert history["served"] == 3
        assert [(v["number"], v["status"], v["trigger"], v["latest"], v["n_events"])
                for v in history["versions"]] == [
            (1, "published", "N", False, 100), (2, "published", "T", False, 200),
            (3, "published", "drift", True, 300), (4, "rejected", "manual", False, 300)]
        assert history["versions"][0]["metrics"]["Accuracy"] == 0.1

        change = store_admin.rollback(store, reason="v3 misroutes", by="ana")
        assert (change.action, change.from_, change.to, change.user) == ("rollback", 3, 2, "ana")
        assert store.latest_number() == 2
        wait_for(lambda: _served(http, row) == (2, 2))

        store_admin.pin(store, 1, reason="known good", by="bo")
        assert store.latest_number() == 1 and store.read_pin().version == 1
        wait_for(lambda: _served(http, row) == (1, 1))

        held = _publish(store, model, 350, "every 50 events")
        assert (held.version, held.published) == (5, True)
        assert "pinned to version 1 by bo" in held.not_promoted
        assert "not promoted" in held.summary()
        assert store.latest_number() == 1 and (store.versions / "5").is_dir()
        store.open(5)  # kept and verified
        time.sleep(0.2)  # several polls: the server stays on the pinned version
        assert _served(http, row) == (1, 1)

        change = store_admin.unpin(store, reason="fixed upstream", by="bo")
        assert (change.from_, change.to, change.extra["waiting"]) == (1, None, [2, 3, 5])
        assert store.latest_number() == 1 and store.read_pin() is None
        after = _publish(store, model, 400, "every 50 events")
        assert (after.version, after.published, after.not_promoted) == (6, True, None)
        assert store.latest_number() == 6
        wait_for(lambda: _served(http, row) == (6, 6))

    store_admin.pin(store, 2, reason="audit hold", by="cy")
    result = store_admin.gc(store, keep=1, by="cy")
    assert (result.removed, result.kept, result.protected) == ([1, 3, 5], [2, 6], [2])
    assert store.version_numbers() == [2, 6] and store.version_numbers(rejected=True) == [4]
    assert store.latest_number() == 2  # gc never moves `latest`
    assert store_admin.gc(store, keep=1).removed == []  # latest and pinned stay

    log = store_admin.read_log(store)
    assert [(e["action"], e["from"], e["to"], e["user"]) for e in log] == [
        ("rollback", 3, 2, "ana"), ("pin", 2, 1, "bo"), ("unpin", 1, None, "bo"),
        ("pin", 6, 2, "cy"), ("gc", None, None, "cy")]
    assert [e["reason"] for e in log] == ["v3 misroutes", "known good", "fixed upstream",
                                          "audit hold", "keep 1"]
    assert log[-1]["removed"] == [1, 3, 5] and all(e["time"].endswith("Z") for e in log)


def test_rollback_refuses_a_version_whose_files_changed(store3):
    store, _ = store3
    (store.versions / "2" / "model.onnx").write_bytes(b"tampered")
    before = (store.root / "latest").read_bytes()
    with pytest.raises(NotVerifiedError, match="version 2 does not verify.*SHA-256"):
        store_admin.rollback(store, reason="try")
    with pytest.raises(NotVerifiedError):
        store_admin.pin(store, 2, reason="try")
    assert (store.root / "latest").read_bytes() == before
    assert store.read_pin() is None and store_admin.read_log(store) == []
    # an explicit earlier version that verifies is fine
    assert store_admin.rollback(store, 1, reason="skip the broken one").to == 1


def test_refusals_are_typed_and_change_nothing(store3):
    store, _ = store3
    with pytest.raises(RejectedVersionError, match="version 4 was rejected"):
        store_admin.pin(store, 4, reason="x")
    with pytest.raises(NoSuchVersionError, match="no version 9"):
        store_admin.pin(store, 9, reason="x")
    with pytest.raises(NothingToRollBackToError, match="not earlier") as e:
        store_admin.rollback(store, 3, reason="x")
    assert str(e.value).endswith(f"`estuary store pin {store.root} 3 -m REASON` moves `latest` "
                                 "to any verified version")  # a command that runs as written
    with pytest.raises(NotPinnedError):
        store_admin.unpin(store)
    with pytest.raises(StoreAdminError, match="say why"):
        store_admin.rollback(store, reason="  ")
    store_admin.pin(store, reason="freeze")  # pins where `latest` is
    assert store.read_pin().version == 3 and store.latest_number() == 3
    with pytest.raises(PinnedError, match="pinned to version 3") as e:
        store_admin.rollback(store, reason="x")
    assert str(e.value).endswith(f"`estuary store pin {store.root} N -m REASON` moves the pin, "
                                 f"`estuary store unpin {store.root}` lifts it")
    with pytest.raises(StoreAdminError, match="at least 1"):
        store_admin.gc(store, 0)
    assert [e["action"] for e in store_admin.read_log(store)] == ["pin"]
    store_admin.unpin(store)
    store_admin.rollback(store, reason="a", to=1)
    with pytest.raises(NothingToRollBackToError, match="earlier than 1"):
        store_admin.rollback(store, reason="again")


def test_a_pin_file_estuary_did_not_write_holds_publishes(store3):
    store, model = store3
    (store.root / "pin").write_text("[1, 2]")
    with pytest.raises(StoreError, match="not a pin estuary wrote"):
        store.read_pin()
    result = _publish(store, model, 350, "manual")
    assert result.published and "cannot be read" in result.not_promoted
    assert store.latest_number() == 3
    assert store_admin.pin(store, 5, reason="repair").to == 5  # pinning replaces it


def test_list_show_diff(store3):
    store, _ = store3
    rows = store_admin.list_versions(store)
    assert [(r.number, r.status, r.trigger, r.latest, r.n_events) for r in rows] == [
        (1, "published", "N", False, 100), (2, "published", "T", False, 200),
        (3, "published", "drift", True, 300), (4, "rejected", "manual", False, 300)]
    assert rows[0].parity["onnx"]["state"] == "ok" and rows[3].parity["broken"]["state"] == "error"
    assert rows[0].size_bytes == sum(f.size for f in store.open(1).manifest.files.values())
    assert 0 <= rows[0].age_seconds < 600
    assert store_admin.show(store).manifest.version == 3
    assert store_admin.show(store, 4).manifest.status == "rejected"
    d = store_admin.diff(store, 1, 3)
    assert d["schema"]["same"] and d["classes"] == {"a": [False, True], "b": [False, True],
                                                    "same": True}
    assert not d["ir_hash"]["same"] and d["n_events"] == {"a": 100, "b": 300, "same": False}
    assert d["parity"]["onnx"]["a"]["state"] == "ok"
    assert d["metrics"]["Accuracy"] == {"a": 0.1, "b": 0.3, "same": False}
    assert set(d["metrics"]) == {"Accuracy", "stall_ms", "export_seconds"}


def test_trigger_names():
    assert [store_admin.trigger(r) for r in ("every 1000 events", "every 2.5 s", "drift (ADWIN)",
                                             "manual", "end of stream", "odd")] == \
        ["N", "T", "drift", "manual", "end", "other"]


def test_cli_commands(store3):
    store, _ = store3
    root = str(store.root)
    listed = runner.invoke(app, ["store", "list", root, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [v["number"] for v in json.loads(listed.stdout)["versions"]] == [1, 2, 3, 4]
    table = runner.invoke(app, ["store", "list", root])
    assert table.exit_code == 0 and "drift" in table.stdout and "latest" in table.stdout
    shown = runner.invoke(app, ["store", "show", root, "2", "--json"])
    assert json.loads(shown.stdout)["version"] == 2
    diffed = runner.invoke(app, ["store", "diff", root, "1", "2", "--json"])
    assert json.loads(diffed.stdout)["n_events"]["b"] == 200
    assert runner.invoke(app, ["store", "diff", root, "1", "2"]).exit_code == 0

    bad = runner.invoke(app, ["store", "pin", root, "4", "-m", "x", "--json"])
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["error_type"] == "RejectedVersionError"
    assert runner.invoke(app, ["store", "rollback", root]).exit_code == 2  # no --reason
    assert runner.invoke(app, ["store", "list", root + "/nope"]).exit_code == 2

    rolled = runner.invoke(app, ["store", "rollback", root, "-m", "bad v3", "--by", "ana",
                                 "--pin", "--json"])
    assert rolled.exit_code == 0, rolled.output
    assert json.loads(rolled.stdout) | {"time": "t"} == {
        "ok": True, "time": "t", "user": "ana", "action": "rollback", "from": 3, "to": 2,
        "reason": "bad v3", "pinned": True}
    assert store.latest_number() == 2 and store.read_pin().version == 2
    assert runner.invoke(app, ["store", "unpin", root]).exit_code == 0
    gone = runner.invoke(app, ["store", "gc", root, "--keep", "1", "--dry-run", "--json"])
    assert json.loads(gone.stdout)["removed"] == [1] and store.version_numbers() == [1, 2, 3]
    assert runner.invoke(app, ["store", "gc", root, "--keep", "1"]).exit_code == 0
    assert store.version_numbers() == [2, 3]
