"""A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` in a temporary directory,
the server on 127.0.0.1 and a free port (no Unix socket), trust authentication for the
`estuary` superuser, stopped and deleted on exit.

`initdb` and `postgres` refuse to run as root. Run as root, the cluster runs as an unprivileged
user: `user` (default `postgres`, which Debian's postgresql-common creates); the data directory
is created for that user, and the processes get its uid, gid and no supplementary groups.

>>> with temporary_cluster() as pg:
...     psycopg.connect(pg.dsn).execute("SELECT 1")
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .postgres import PG_INSTALL, PostgresError

SUPERUSER = "estuary"
DEBIAN_ROOT = Path("/usr/lib/postgresql")  # Debian installs each major version's bin/ here


@dataclass(frozen=True)
class Cluster:
    dsn: str
    port: int
    data: Path
    bindir: Path
    uid: int  # the OS user the server runs as
    gid: int


def find_bindir() -> Path:
    """PostgreSQL's server binaries: $ESTUARY_PG_BINDIR, Debian's newest
    /usr/lib/postgresql/<v>/bin, or `initdb` on PATH."""
    candidates = [os.environ.get("ESTUARY_PG_BINDIR", "")]
    debian = sorted(DEBIAN_ROOT.glob("*/bin"),
                    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    candidates += [str(p) for p in reversed(debian)]
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "postgres").is_file():
            return Path(c)
    raise PostgresError(f"PostgreSQL's server (initdb, postgres) is not installed: {PG_INSTALL}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as(user: str | None) -> tuple[int, int, dict]:
    """uid, gid and Popen keyword arguments for the server's processes."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid(), {}
    name = user or "postgres"
    try:
        pw = pwd.getpwnam(name)
    except KeyError as e:
        raise PostgresError(f"initdb refuses to run as root and there is no user {name!r} to run "
                            f"the server as: `useradd --system {name}` (Debian's postgresql-common "
                            "creates `postgres`), or pass user=") from e
    return pw.pw_uid, pw.pw_gid, {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _wait_ready(proc: subprocess.Popen, dsn: str, log: Path, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(dsn, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise PostgresError(f"postgres did not start: {log.read_text()[-1500:]}")
        time.sleep(0.05)


@contextmanager
def temporary_cluster(user: str | None = None, timeout: float = 60.0,
                      settings: dict[str, str] | None = None) -> Iterator[Cluster]:
    """Start a cluster; yield it; stop it (fast shutdown) and delete its files."""
    bindir = find_bindir()
    uid, gid, as_user = _run_as(user)
    tmp = Path(tempfile.mkdtemp(prefix="estuary-pg-"))
    proc = None
    try:
        os.chown(tmp, uid, gid)
        data, log = tmp / "data", tmp / "postgres.log"
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        done = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER,
                               "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
                              cwd=tmp, env=env, capture_output=True, text=True, **as_user)
        if done.returncode != 0:
            raise PostgresError(f"initdb failed: {done.stderr[-1500:]}")
        port = _free_port()
        options = {"listen_addresses": "127.0.0.1", "port": str(port),
                   "unix_socket_directories": "", "fsync": "off", **(settings or {})}
        args = [str(bindir / "postgres"), "-D", str(data)]
        for key, value in options.items():
            args += ["-c", f"{key}={value}"]
        with log.open("wb") as out:
            proc = subprocess.Popen(args, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    **as_user)
        dsn = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
        _wait_ready(proc, dsn, log, timeout)
        yield Cluster(dsn, port, data, bindir, uid, gid)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["Cluster", "find_bindir", "temporary_cluster"]
