"""Where estuary's files that are not Python live: the web page, the JS client, its npm packages.

The one place that answers "where is it?", in a wheel and in a source checkout alike:

- the page (`web_demo/`) and the JS client package (`js/`: package.json, package-lock.json,
  src/*.js, types/*.d.ts) ship in the wheel under `estuary/_assets/` (setup.py copies them at
  build time); in a source checkout (`pip install -e .`) they are the top-level folders.
- the npm packages (@tensorflow/tfjs, onnxruntime-web) and the page's TF.js bundle are built
  from the shipped lockfile into the *JS home*: `$ESTUARY_JS_HOME` if set, else the checkout's
  own `js/` (`npm ci --prefix js`), else a user cache folder (`~/.cache/estuary/js`).
  `estuary setup-js` fills it: a copy of the JS package, then `npm ci --omit=dev` there, whose
  postinstall builds `dist/tfjs-cpu.mjs`. The Node runner and the server run the JS home's copy,
  which a stamp ties to the package it was copied from: a stale or half-done copy is refused
  with the command that fixes it.

>>> require_js_home()  # raises JsSetupError naming `estuary setup-js` when not set up
PosixPath('/home/me/.cache/estuary/js')
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import UnknownFormatError

ENV_HOME = "ESTUARY_JS_HOME"
SETUP_COMMAND = "estuary setup-js"
STAMP = ".estuary-setup.json"  # written in a JS home by setup_js once `npm ci` succeeded
# what the runtimes and the page need from npm (package → a file that proves it installed)
REQUIRED = {"@tensorflow/tfjs": "package.json", "onnxruntime-web": "package.json",
            "onnxruntime-node": "package.json"}
BUNDLE = "tfjs-cpu.mjs"
_PACKAGED = Path(__file__).resolve().parent / "_assets"  # inside an installed wheel
_CHECKOUT = Path(__file__).resolve().parents[1]  # a source checkout (editable install)
COPIED = ".estuary-files.json"  # the files setup_js copied into a JS home (all it may remove)
_NOT_PACKAGE = {"node_modules", "dist", STAMP, COPIED}  # built by npm in a JS home, never shipped


class JsSetupError(UnknownFormatError):
    """The npm packages of the Node runtimes and the web page are missing or stale.

    An UnknownFormatError, as a missing runtime extra is: `.tfjs` cannot run here yet."""


def _root() -> Path:
    if (_PACKAGED / "web_demo").is_dir():
        return _PACKAGED
    if (_CHECKOUT / "web_demo").is_dir() and (_CHECKOUT / "js" / "package.json").is_file():
        return _CHECKOUT
    raise FileNotFoundError(
        f"estuary's web page and JS client are neither in {_PACKAGED} (a wheel) nor in "
        f"{_CHECKOUT} (a source checkout): reinstall estuary-ml")


def web_demo_dir() -> Path:
    """The page: index.html, app.js, runtimes.js, style.css."""
    return _root() / "web_demo"


def js_package_dir() -> Path:
    """The JS client package as shipped: package.json, package-lock.json, src/, types/."""
    return _root() / "js"


def js_src_dir() -> Path:
    """The JS client's sources (estuary.js, runner.js, tfjs-cpu.js) as shipped."""
    return js_package_dir() / "src"


def js_home() -> Path:
    """Where the npm packages are installed (and the runner and page run from): see the module
    docstring. Only says where; `require_js_home` checks it is ready."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser().resolve()
    if _root() == _CHECKOUT:
        return _CHECKOUT / "js"
    return default_js_home()


def default_js_home() -> Path:
    """A user-writable cache folder (the npm packages are rebuilt from the lockfile at will)."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "estuary" / "js"


def node_modules_dir() -> Path:
    """The npm packages: @tensorflow/tfjs, onnxruntime-web (and what they need)."""
    return js_home() / "node_modules"


def bundle_dir() -> Path:
    """The page's TF.js bundle (dist/tfjs-cpu.mjs), built by `npm ci` from node_modules."""
    return js_home() / "dist"


def _package_files(root: Path) -> list[Path]:
    """The files of the JS package under `root` (not what npm builds there, nor hidden files)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _NOT_PACKAGE and not d.startswith(".")]
        found += [Path(folder, f) for f in files if f not in _NOT_PACKAGE and not f.startswith(".")]
    return sorted(found)


def package_digest(root: Path | None = None) -> str:
    """SHA-256 over the shipped JS package's file names and their contents under `root` (the
    shipped package by default); a file of the package missing under `root` changes it, a file
    the package does not have is not counted."""
    shipped = js_package_dir()
    root = root or shipped
    h = hashlib.sha256()
    for path in _package_files(shipped):
        rel = path.relative_to(shipped).as_posix()
        there = root / rel
        h.update(rel.encode() + b"\0" + (there.read_bytes() if there.is_file() else b"\1") + b"\0")
    return h.hexdigest()


def js_problem(home: Path | None = None) -> str | None:
    """Why the JS home cannot be used yet (None when it can)."""
    home = home or js_home()
    missing = [p for p, f in REQUIRED.items() if not (home / "node_modules" / p / f).is_file()]
    if missing:
        return f"the npm packages {', '.join(missing)} are not installed in {home / 'node_modules'}"
    if not (home / "dist" / BUNDLE).is_file():
        return f"the TF.js bundle {home / 'dist' / BUNDLE} is not built"
    if home.resolve() == js_package_dir().resolve():
        return None  # the checkout's own js/: its sources are the package
    try:
        stamp = json.loads((home / STAMP).read_text())
    except (OSError, ValueError):
        return f"{home} was not set up by `{SETUP_COMMAND}` (no {STAMP})"
    if package_digest(home) != package_digest() or stamp.get("digest") != package_digest():
        return (f"{home} holds another version of estuary's JS package than this estuary "
                f"({stamp.get('estuary', 'unknown')})")
    return None


def setup_hint(home: Path | None = None) -> str:
    """The command that makes the JS home ready."""
    home = home or js_home()
    if home.resolve() == js_package_dir().resolve():
        return f"{SETUP_COMMAND} (or: npm ci --prefix {home})"
    default = home == default_js_home() and not os.environ.get(ENV_HOME)
    return SETUP_COMMAND if default else f"{SETUP_COMMAND} --dir {home}"


def require_js_home() -> Path:
    """The JS home, checked: raises JsSetupError naming the command to run."""
    home = js_home()
    problem = js_problem(home)
    if problem:
        raise JsSetupError(
            f"the Node runtimes (.tfjs, onnxruntime-web) and the web page need estuary's npm "
            f"packages: {problem}. Run `{setup_hint(home)}` (needs Node 20+ and npm; set "
            f"{ENV_HOME} to install them elsewhere)")
    return home


def setup_js(target: Path | None = None, *, prefer_offline: bool = False,
             npm: str | None = None) -> Path:
    """Install the npm packages from the shipped lockfile into `target` (the JS home by default):
    copy the JS package there, run `npm ci --omit=dev`, then write the stamp. Returns `target`.
    In a source checkout whose JS home is js/ itself, this is `npm ci --prefix js`.

    >>> setup_js(Path("/opt/estuary-js"))  # then: export ESTUARY_JS_HOME=/opt/estuary-js
    """
    target = Path(target).expanduser().resolve() if target else js_home()
    source = js_package_dir().resolve()
    npm = npm or shutil.which("npm")
    if not npm:
        raise JsSetupError("`npm` is not on PATH: install Node 20+ with npm (Debian: "
                           "apt-get install nodejs npm), then run `estuary setup-js` again")
    command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    if target != source:  # a checkout's own js/ keeps its dev packages (TypeScript, for tests)
        _copy_package(source, target)
        command.insert(2, "--omit=dev")
    if prefer_offline:
        command.append("--prefer-offline")
    # onnxruntime-node's install script would download CUDA libraries (no network here, no GPU)
    env = {**os.environ, "ONNXRUNTIME_NODE_INSTALL_CUDA": "skip"}
    done = subprocess.run(command, cwd=target, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise JsSetupError(f"`{' '.join(command[1:])}` failed in {target} "
                           f"(exit {done.returncode}): {tail}")
    if target != source:
        from . import __version__

        (target / STAMP).write_text(json.dumps(
            {"digest": package_digest(source), "estuary": __version__, "source": str(source)}))
    problem = js_problem(target)
    if problem:
        raise JsSetupError(f"`npm ci` ran in {target} but {problem}")
    return target


def _copy_package(source: Path, target: Path) -> None:
    """Replace `target`'s copy of the JS package by `source`'s (node_modules stays: npm ci
    replaces it anyway, and removing 400 MB first buys nothing). Only the files a previous
    setup copied (listed in COPIED) are removed: anything else in the folder is the user's."""
    if target.is_dir() and any(target.iterdir()) and not _holds_package(target, source):
        raise JsSetupError(f"{target} is not empty and was not set up by `{SETUP_COMMAND}`: "
                           "give `--dir` an empty or new folder")
    target.mkdir(parents=True, exist_ok=True)
    (target / STAMP).unlink(missing_ok=True)  # not ready until npm ci succeeds
    for rel in _copied(target):
        (target / rel).unlink(missing_ok=True)
    files = [path.relative_to(source) for path in _package_files(source)]
    for rel in files:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target / rel)
    (target / COPIED).write_text(json.dumps(sorted(str(rel) for rel in files)))


def _copied(target: Path) -> list[str]:
    """The files a previous setup copied into `target` (relative, inside it), else none."""
    try:
        listed = json.loads((target / COPIED).read_text())
    except (OSError, ValueError):
        return []
    inside = target.resolve()
    return [rel for rel in listed if isinstance(rel, str)
            and inside in (target / rel).resolve().parents]


def _holds_package(target: Path, source: Path) -> bool:
    """Whether `target` was filled by a previous setup (it lists what it copied): safe to
    refresh."""
    return (target / COPIED).is_file()


__all__ = ["ENV_HOME", "JsSetupError", "SETUP_COMMAND", "bundle_dir", "default_js_home",
           "js_home", "js_package_dir", "js_problem", "js_src_dir", "node_modules_dir",
           "require_js_home", "setup_js", "web_demo_dir"]
