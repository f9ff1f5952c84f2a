"""Score rows inside PostgreSQL, on insert: the installer (runs where `estuary` is installed).

`install` makes a deployment directory the database server can read and creates the SQL
functions (PL/Python, `plpython3u`, so the DSN must be a superuser's):

    HOME/site/            numpy + onnxruntime (pip install --target, the versions estuary runs
                          here, for the server's Python) and a slim copy of estuary (no River)
    HOME/models/NAME/     verified copies of a store's published versions (`versions/<n>/`,
                          `latest`): what the server loads, sha256-checked by estuary's store reader

The user's store is never chmod'ed: its files may be 0600 in a private directory. `sync` copies
the newest published version (checked against its manifest) into HOME/models/NAME, owned by the
caller and readable by the server's group only (files 0640, directories 2750). The functions
see a new `latest` on the next row, no restart. Run `sync` after each publish (or from cron).

>>> install("postgresql://postgres@localhost/app", store="models", home="/srv/estuary-pg")
>>> add_trigger("postgresql://postgres@localhost/app", "events", "models", proba_column="proba")
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from .._atomic import fsync_path
from ..errors import EstuaryError
from ..online.store import LATEST, MANIFEST, Store, sha256_file
from .pg_server import MODEL_NAME

log = logging.getLogger(__name__)

PG_INSTALL = "apt-get update && apt-get install -y postgresql-15 postgresql-plpython3-15"
SITE_PACKAGES = ("numpy", "onnxruntime")  # what pg_server imports besides estuary itself
SITE_STAMP = ".estuary-site.json"
KEEP = 3  # versions kept in HOME/models/NAME (the one `latest` names always stays)

SERVER_INFO_SQL = """
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE OR REPLACE FUNCTION estuary_server_info() RETURNS jsonb LANGUAGE plpython3u AS $estuary$
import json, os, sys
return json.dumps({"uid": os.getuid(), "gid": os.getgid(),
                   "python": "%d.%d" % sys.version_info[:2], "executable": sys.executable})
$estuary$;
"""


class PostgresError(EstuaryError):
    """Installing or syncing in-database scoring failed; the message says how to fix it."""


@dataclass(frozen=True)
class ServerInfo:
    uid: int
    gid: int
    python: str  # "3.11": the PL/Python interpreter's version, for pip --python-version


@dataclass(frozen=True)
class Installed:
    home: Path
    site: Path
    model: str | None
    version: int | None
    checked: dict | None  # what the server loaded (estuary_check), None without a model


def _connect(dsn: str):
    try:
        import psycopg
    except ModuleNotFoundError as e:
        raise PostgresError("psycopg is not installed: pip install 'estuary-ml[postgres]'") from e
    return psycopg.connect(dsn, autocommit=True)


def server_info(conn) -> ServerInfo:
    """Create `estuary_server_info()` and ask the server who it runs as."""
    import psycopg

    try:
        conn.execute(SERVER_INFO_SQL)
    except (psycopg.errors.FeatureNotSupported, psycopg.errors.UndefinedFile) as e:
        raise PostgresError(f"PL/Python is not installed on the server ({e.diag.message_primary})"
                            f": {PG_INSTALL}") from e
    except psycopg.errors.InsufficientPrivilege as e:
        raise PostgresError("creating plpython3u functions needs a superuser: connect as one "
                            f"({e})") from e
    info = conn.execute("SELECT estuary_server_info()").fetchone()[0]
    return ServerInfo(info["uid"], info["gid"], info["python"])


# --------------------------------------------------------------------------- permissions

def grant(path: Path, gid: int) -> None:
    """Give group `gid` read access to `path` and below (dirs 2750 so new entries keep the
    group, files 0640), taking nothing from the owner."""
    paths = [path] if path.is_file() else [path] + sorted(path.rglob("*"))
    try:
        for p in paths:
            if p.is_symlink():
                continue
            os.chown(p, -1, gid)
            if p.is_dir():
                os.chmod(p, 0o2750)
            else:
                mode = p.stat().st_mode & 0o700
                os.chmod(p, mode | 0o040 | (0o010 if mode & 0o100 else 0))
    except PermissionError as e:
        raise PostgresError(f"cannot give the database server's group (gid {gid}) read access to "
                            f"{e.filename}: run as root or as a member of that group") from e


def check_reachable(home: Path, info: ServerInfo) -> None:
    """Every parent of `home` must let the server's user in (e.g. /root does not)."""
    for parent in reversed(home.resolve().parents):
        st = parent.stat()
        if st.st_mode & 0o001 or (st.st_uid == info.uid and st.st_mode & 0o100) or \
                (st.st_gid == info.gid and st.st_mode & 0o010):
            continue
        raise PostgresError(f"the database server (uid {info.uid}) cannot enter {parent}, so it "
                            f"cannot read {home}: choose a directory it can reach (e.g. "
                            "/var/lib/estuary-pg) or let its group in")


# --------------------------------------------------------------------------- the site

def _estuary_source() -> Path:
    return Path(__file__).resolve().parents[1]


def _source_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and "_assets" not in p.relative_to(root).parts and p.suffix in {".py", ".json",
                                                                                  ".sql"})


def site_stamp(python: str) -> dict:
    """What a site was built from: the server's Python, the package versions, estuary's code."""
    h = hashlib.sha256()
    root = _estuary_source()
    for p in _source_files(root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return {"python": python, "packages": {n: metadata.version(n) for n in SITE_PACKAGES},
            "estuary": h.hexdigest()}


SLIM_INIT = '''"""estuary inside PostgreSQL: a slim copy written by `estuary pg install`.

The full package's __init__ imports River; the server only needs the store reader and the
ONNX runtime (estuary.integrations.pg_server).
"""
'''


def _copy_estuary(dest: Path) -> None:
    root = _estuary_source()
    for p in _source_files(root):
        target = dest / "estuary" / p.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    (dest / "estuary" / "__init__.py").write_text(SLIM_INIT)
    (dest / "estuary" / "online" / "__init__.py").write_text(SLIM_INIT)


def build_site(site: Path, python: str) -> Path:
    """numpy + onnxruntime (`pip install --target`, the versions installed here, wheels for the
    server's Python) and a slim estuary in `site`; reused while its stamp matches."""
    stamp = site_stamp(python)
    try:
        if json.loads((site / SITE_STAMP).read_text()) == stamp:
            return site
    except (OSError, ValueError):
        pass
    new = site.with_name(f"{site.name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    pins = [f"{n}=={v}" for n, v in stamp["packages"].items()]
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--target", str(new), "--python-version", python, "--only-binary=:all:", *pins]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(new, ignore_errors=True)
        raise PostgresError(f"pip could not install {' '.join(pins)} for Python {python} into "
                            f"{new}:\n{done.stderr[-2000:]}")
    _copy_estuary(new)
    (new / SITE_STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True))
    old = site.with_name(f"{site.name}.old-{uuid.uuid4().hex[:8]}")
    if site.exists():
        os.rename(site, old)
    os.rename(new, site)
    shutil.rmtree(old, ignore_errors=True)
    return site


# --------------------------------------------------------------------------- models

def _check_name(model: str) -> str:
    if not MODEL_NAME.match(model):
        raise PostgresError(f"{model!r} is not a model name: letters, digits, _ . - (at most 63)")
    return model


def _write_pointer(root: Path, number: int, manifest_sha256: str, gid: int) -> None:
    """`latest`, replaced atomically and group-readable before it appears."""
    tmp = root / f".latest-{uuid.uuid4().hex[:8]}"
    data = json.dumps({"version": number, "manifest_sha256": manifest_sha256}, indent=2,
                      sort_keys=True) + "\n"
    with tmp.open("w") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    grant(tmp, gid)
    os.replace(tmp, root / LATEST)
    fsync_path(root)


def _intact(copy: Path, version) -> bool:
    """The copy holds the version's manifest and every file with its SHA-256."""
    try:
        if sha256_file(copy / MANIFEST) != sha256_file(version.path / MANIFEST):
            return False
        return all(sha256_file(copy / name) == entry.sha256
                   for name, entry in version.manifest.files.items())
    except OSError:
        return False


def sync(store: str | Path, home: str | Path, model: str | None = None) -> int:
    """Copy the newest published version of `store` into HOME/models/MODEL (verified against its
    manifest before and after the copy) and point `latest` at it; the server picks it up on its
    next row. A damaged copy already there is replaced. Returns the version number. MODEL
    defaults to the store directory's name.

    >>> sync("models", "/srv/estuary-pg")
    """
    store, home = Path(store), Path(home)
    model = _check_name(model or store.resolve().name)
    if not (home / "models").is_dir():
        raise PostgresError(f"{home} is not an estuary pg deployment: run `estuary pg install`")
    gid = (home / "models").stat().st_gid
    version = Store(store).open()  # every file's sha256 checked
    root = home / "models" / model
    versions = root / "versions"
    if not versions.is_dir():
        versions.mkdir(parents=True)
        grant(root, gid)
    target = versions / str(version.number)
    if target.is_dir() and not _intact(target, version):
        trash = root / f".trash-{uuid.uuid4().hex[:8]}"  # a damaged copy: replaced, not trusted
        os.rename(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
    if not target.is_dir():
        staging = root / f".staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            shutil.copytree(version.path, staging, copy_function=shutil.copyfile)
            grant(staging, gid)
            for name, entry in version.manifest.files.items():
                if sha256_file(staging / name) != entry.sha256:
                    raise PostgresError(f"{store}: {name} changed while it was copied; retry")
            os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _write_pointer(root, version.number, sha256_file(target / MANIFEST), gid)
    Store(root).open()  # the copy as the server will read it
    for n in sorted((int(p.name) for p in versions.iterdir() if p.name.isdigit()),
                    reverse=True)[KEEP:]:
        if n != version.number:
            shutil.rmtree(versions / str(n), ignore_errors=True)
    return version.number


def watch(store: str | Path, home: str | Path, model: str | None = None,
          interval: float = 1.0, stop: threading.Event | None = None,
          on_sync: Callable[[int], None] | None = None) -> None:
    """`sync` whenever `store`'s `latest` changes (polled every `interval` seconds) until `stop`
    is set: a sidecar that keeps the database on the newest published version. A sync that
    fails (e.g. a version being retained away) is logged and retried at the next change.

    >>> watch("models", "/srv/estuary-pg", interval=2.0)
    """
    stop = stop or threading.Event()
    pointer, seen = Path(store) / LATEST, None
    while not stop.is_set():
        try:
            stamp = pointer.read_bytes()
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp != seen:
            try:
                number = sync(store, home, model)
            except (EstuaryError, OSError) as e:
                log.warning("estuary pg sync failed: %s", e)
            else:
                if on_sync is not None:
                    on_sync(number)
            seen = stamp
        stop.wait(interval)


# --------------------------------------------------------------------------- SQL

def _literal(path: Path) -> str:
    text = str(path.resolve())
    if "$" in text:
        raise PostgresError(f"{text}: a deployment path may not contain '$'")
    return json.dumps(text)  # a valid Python string literal


# The opening of every PL/Python function: this connection's Scorer, made once and kept in GD.
SCORER = """scorer = GD.get(@KEY@)
if scorer is None:
    import sys
    if @SITE@ not in sys.path:
        sys.path.insert(0, @SITE@)
    from estuary.integrations.pg_server import Scorer
    scorer = GD[@KEY@] = Scorer(plpy, @HOME@)
"""


def render_sql(home: str | Path, site: str | Path | None = None) -> str:
    """The SQL that creates estuary_predict, estuary_check, estuary_score_trigger and
    estuary_add_trigger for a deployment directory (what `install` runs)."""
    home = Path(home)
    site = Path(site) if site is not None else home / "site"
    sql = resources.files(__package__).joinpath("postgres.sql").read_text()
    sql = sql.replace("@SCORER@\n", SCORER)
    return (sql.replace("@SITE@", _literal(site)).replace("@HOME@", _literal(home))
            .replace("@KEY@", json.dumps("estuary:" + str(home.resolve()))))


def install(dsn: str, store: str | Path | None = None, home: str | Path = "estuary-pg",
            model: str | None = None, site: str | Path | None = None) -> Installed:
    """Build HOME (site + a copy of `store`'s newest published version), create the functions
    in the database `dsn` names (a superuser's), and prove the server loads the model.

    >>> install("postgresql://postgres@localhost/app", "models", "/srv/estuary-pg").version
    """
    home = Path(home).resolve()
    site_path = Path(site).resolve() if site is not None else home / "site"
    with _connect(dsn) as conn:
        info = server_info(conn)
        (home / "models").mkdir(parents=True, exist_ok=True)
        check_reachable(home, info)
        grant(home, info.gid)
        build_site(site_path, info.python)
        check_reachable(site_path, info)
        grant(site_path, info.gid)
        version = None
        if store is not None:
            model = _check_name(model or Path(store).resolve().name)
            version = sync(store, home, model)
        conn.execute(render_sql(home, site_path))
        checked = None
        if model is not None and version is not None:
            checked = conn.execute("SELECT estuary_check(%s)", [model]).fetchone()[0]
    return Installed(home, site_path, model, version, checked)


def add_trigger(dsn: str, table: str, model: str, prediction_column: str = "prediction",
                proba_column: str | None = None, version_column: str | None = None) -> str:
    """Add a BEFORE INSERT trigger on `table` that fills `prediction_column` (and the class
    probabilities as jsonb, and the model version) from the row's feature columns. Returns the
    trigger's name. The same as `SELECT estuary_add_trigger(...)` in SQL."""
    with _connect(dsn) as conn:
        return conn.execute("SELECT estuary_add_trigger(%s, %s, %s, %s, %s)",
                            [table, model, prediction_column, proba_column, version_column]
                            ).fetchone()[0]


__all__ = ["Installed", "PG_INSTALL", "PostgresError", "ServerInfo", "add_trigger", "build_site",
           "grant", "install", "render_sql", "server_info", "sync", "watch"]
