"""`estuary._atomic`: the one atomic-write helper (export, scikit-learn export, store pointer)."""

from __future__ import annotations

import os
import stat

import pytest

from estuary._atomic import staged, write_atomic, write_staged


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_staged_file_appears_whole_with_the_umask_permissions(tmp_path):
    path = tmp_path / "sub" / "model.onnx"
    with staged(path, ".onnx") as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".model.onnx.")
        assert tmp.suffix == ".onnx" and tmp.read_bytes() == b"" and not path.exists()
        tmp.write_bytes(b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx"]


def test_a_failure_keeps_the_previous_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "model.pmml"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="golden"), staged(path, ".pmml") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("golden vectors do not reproduce")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pmml"]


def test_a_directory_artifact_replaces_the_previous_one(tmp_path):
    path = tmp_path / "model.tfjs"
    path.mkdir()
    (path / "model.json").write_text("old")
    (path / "stale.bin").write_bytes(b"x")
    with staged(path, ".tfjs") as tmp:
        tmp.unlink()  # a directory writer replaces the empty file it is given
        tmp.mkdir()
        (tmp / "model.json").write_text("new")
    assert sorted(p.name for p in path.iterdir()) == ["model.json"]
    assert (path / "model.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tfjs"]


def test_write_atomic_replaces_bytes(tmp_path):
    path = tmp_path / "latest"
    write_atomic(path, b'{"version": 1}\n')
    write_atomic(path, b'{"version": 2}\n')
    assert path.read_bytes() == b'{"version": 2}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["latest"]


def test_keep_same_leaves_a_file_holding_the_very_bytes(tmp_path):
    """A re-export of unchanged bytes renames nothing (ext4 flushes a file renamed over
    another); other bytes, or a link at the path, are replaced as before."""
    path = tmp_path / "model.onnx"
    path.write_bytes(b"same")
    before = path.stat().st_ino
    with staged(path, ".onnx", keep_same=True) as tmp:
        tmp.write_bytes(b"same")
    assert path.stat().st_ino == before and path.read_bytes() == b"same"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
    with staged(path, ".onnx", keep_same=True) as tmp:
        tmp.write_bytes(b"sane")  # same size, other bytes
    assert path.stat().st_ino != before and path.read_bytes() == b"sane"
    target = tmp_path / "elsewhere.onnx"
    target.write_bytes(b"sane")
    path.unlink()
    path.symlink_to(target)
    with staged(path, ".onnx", keep_same=True) as tmp:
        tmp.write_bytes(b"sane")
    assert not path.is_symlink() and path.read_bytes() == b"sane"
    kept = path.stat().st_ino
    with staged(path, ".onnx") as tmp:  # without keep_same: always renamed
        tmp.write_bytes(b"sane")
    assert path.stat().st_ino != kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.onnx", "model.onnx"]


def test_write_staged_writes_and_cuts_without_truncating_first(tmp_path):
    path = tmp_path / "model.onnx"
    write_staged(path, b"abcdef")  # a new file
    assert path.read_bytes() == b"abcdef"
    write_staged(path, b"xy")  # a longer file there: cut after the write
    assert path.read_bytes() == b"xy"
    with staged(path, ".onnx") as tmp:
        write_staged(tmp, b"staged bytes")
    assert path.read_bytes() == b"staged bytes"
