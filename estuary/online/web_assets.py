"""The web demo's files, as `estuary serve` hands them out (the prediction API is server.py).

GET / (web_demo/index.html with its import map, config and preloads inlined), /web_demo/<file>
(the page's own modules and style), /js/estuary.js and /js/manifest.js (the JS client), and
/vendor/<package>@<version>/<file>: onnxruntime-web's wasm build and our cpu-only bundle of
@tensorflow/tfjs, from js/node_modules and js/dist (no CDN). Vendored files are gzip-compressed
once, in memory, carry a strong ETag of their content, and are cached for good by browsers (the
version is in the URL; for a bundle we build, its content hash too); the page's own files
likewise, under content-hashed URLs. On an ONNX-only page the head starts fetching and compiling
ORT's wasm itself (`_COMPILE_WASM`), and on every page the first model's files (`_FETCH_MODEL`).

Where the files are is decided in one place (`_web_demo_dir`, `_js_dir` below).

>>> routes = web_routes(state)  # state: anything with head() and version(n), e.g. ServerState
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..assets import js_home, js_src_dir, setup_hint, web_demo_dir
from ..errors import ArtifactError
from .manifest import Manifest
from .store import Version

# ---------------------------------------------------------------------------- where the files are


def _web_demo_dir() -> Path:
    """The page (index.html, app.js, runtimes.js, style.css)."""
    return web_demo_dir()  # in the wheel or the checkout: estuary/assets.py


def _js_dir() -> Path:
    """The JS home: dist/ (bundles built by `npm ci`), node_modules/. The client's own modules
    (CLIENT) come from the installed package, `js_src_dir()`, so an upgrade never serves an old
    client next to the new page."""
    return js_home()  # the JS home `estuary setup-js` fills: estuary/assets.py


def _install_hint() -> str:
    """The command that installs the npm packages the page needs."""
    return setup_hint()  # `estuary setup-js` (in a checkout: or `npm ci --prefix js`)


# ---------------------------------------------------------------------------- what is served

NO_CACHE = {"Cache-Control": "no-cache"}
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
# The page is cross-origin isolated (everything it loads is same-origin): performance.now() then
# has 5 µs resolution instead of 100 µs, which the one-row latencies it shows need.
ISOLATED = {"Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Embedder-Policy": "require-corp"}
SAME_ORIGIN = {"Cross-Origin-Resource-Policy": "same-origin"}
MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".wasm": "application/wasm", ".svg": "image/svg+xml", ".json": "application/json"}
# URL name → file under js/: only what the page needs, nothing else.
_ORT = "node_modules/onnxruntime-web/dist/"
VENDOR = {
    "onnxruntime-web": {
        "ort.wasm.bundle.min.mjs": _ORT + "ort.wasm.bundle.min.mjs",  # API + wasm glue in one
        "ort-wasm-simd-threaded.wasm": _ORT + "ort-wasm-simd-threaded.wasm",
        "ort-wasm-simd-threaded.mjs": _ORT + "ort-wasm-simd-threaded.mjs",
    },
    # tfjs-core + converter + cpu backend in one ES module, built by `npm ci` (js/src/tfjs-cpu.js)
    "@tensorflow/tfjs": {"tfjs-cpu.mjs": "dist/tfjs-cpu.mjs"},
    # the page's charts (web_demo/charts.js): uPlot, MIT, ~50 KB, no dependencies
    "uplot": {"uPlot.esm.js": "node_modules/uplot/dist/uPlot.esm.js",
              "uPlot.min.css": "node_modules/uplot/dist/uPlot.min.css"},
}
CLIENT = ("estuary.js", "manifest.js", "verify.js")  # the JS client's modules (js/src/)
VENDOR_ENTRY = {"onnxruntime-web": "ort.wasm.bundle.min.mjs", "@tensorflow/tfjs": "tfjs-cpu.mjs",
                "uplot": "uPlot.esm.js"}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _Gzipped:
    """Vendored files gzip-compressed once, in memory (ORT's 14 MB wasm → 3.7 MB): a first visit
    downloads a quarter of the bytes, and the browser's HTTP cache keeps the small copy."""

    def __init__(self) -> None:
        self._done: dict[Path, tuple[float, bytes, str]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> tuple[bytes, str] | None:
        """The compressed bytes of `path` (compressed now if needed) and a strong ETag of its
        content (the same for the plain file), or None if unreadable."""
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        with self._lock:
            hit = self._done.get(path)
            if hit is None or hit[0] != mtime:
                raw = path.read_bytes()
                hit = (mtime, gzip.compress(raw, 6, mtime=0),
                       f'"{hashlib.sha256(raw).hexdigest()[:32]}"')
                self._done[path] = hit
            return hit[1], hit[2]

    def ready(self, path: Path) -> tuple[bytes, str] | None:
        """As `get`, once `path` is compressed and unchanged (a stat, no hashing, no thread:
        the page's files are served from here); else None."""
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        hit = self._done.get(path)
        return (hit[1], hit[2]) if hit is not None and hit[0] == mtime else None

    def warm(self, paths: list[Path]) -> None:
        """Compress `paths` in a background thread (before the first visitor asks)."""
        def run() -> None:
            for path in paths:
                self.get(path)
        threading.Thread(target=run, name="estuary-gzip", daemon=True).start()


_GZIPPED = _Gzipped()  # one per process: every app created here shares it


def _script_json(value: Any) -> str:
    """JSON to inline in a <script> element: no '</script>' (or '<!--') in any string."""
    return json.dumps(value, default=str).replace("<", "\\u003c")


def _file_hash(path: Path) -> str:
    """First 12 hex digits of the file's SHA-256 ('' if it cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except (OSError, ValueError):  # ValueError: a NUL in a name from a URL
        return ""


def _file(path: Path, headers: dict[str, str]) -> Response:
    if not path.is_file():
        hint = f": run `{_install_hint()}`" if _js_dir() in path.parents else ""
        return _error(404, f"{path.name} is not installed{hint}")
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"),
                        headers={**headers, **SAME_ORIGIN})


def _packed(request: Request, path: Path, packed: tuple[bytes, str],
            headers: dict[str, str]) -> Response:
    """`path` from memory: gzip when accepted (else the file), 304 on its ETag."""
    body, etag = packed
    media = MEDIA.get(path.suffix, "application/octet-stream")  # .wasm: application/wasm
    headers = {**headers, **SAME_ORIGIN, "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" not in request.headers.get("accept-encoding", "") or \
            request.query_params.get("encoding") == "identity":
        return FileResponse(path, media_type=media, headers=headers)
    return Response(body, media_type=media, headers={**headers, "Content-Encoding": "gzip"})


async def _compressed(path: Path) -> tuple[bytes, str] | None:
    """`_GZIPPED.get(path)`: from memory when compressed and unchanged (no thread hop),
    else compressed in a thread; None when `path` is not a file."""
    packed = _GZIPPED.ready(path)
    if packed is None and path.is_file():
        packed = await asyncio.to_thread(_GZIPPED.get, path)
    return packed


async def _own(request: Request, path: Path) -> Response:
    """A page file: cached for good under its content-hashed URL, else revalidated. Served from
    memory once compressed (the page asks for ~8 of them at once at its start: no file reads or
    thread hops per request; an edited file is compressed again once)."""
    packed = await _compressed(path)
    if packed is None:
        fresh = request.query_params.get("v") == _file_hash(path)
        return _file(path, IMMUTABLE if fresh else NO_CACHE)
    fresh = request.query_params.get("v") == packed[1].strip('"')[:12]  # = _file_hash(path)
    return _packed(request, path, packed, IMMUTABLE if fresh else NO_CACHE)


def _own_files() -> dict[str, Path]:
    """URL → file of the page's own modules and style (not vendored: they change)."""
    files = {f"/web_demo/{p.name}": p for p in sorted(_web_demo_dir().glob("*"))
             if p.suffix in (".js", ".css")}
    return {**files, **{f"/js/{name}": js_src_dir() / name for name in CLIENT}}


def _package_version(package: str) -> str | None:
    try:
        return json.loads((_js_dir() / "node_modules" / package / "package.json")
                          .read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


@dataclass(frozen=True)
class Vendored:
    """The npm files the page loads, as installed when the app was created."""

    files: dict[str, Path]  # "<package>@<version>/<name>" → file
    entry: dict[str, str]  # package → URL of the module the page imports
    built: dict[Path, str]  # a bundle we build ourselves → its content hash at start-up
    missing: list[str]  # packages not installed

    @classmethod
    def find(cls) -> Vendored:
        # a bundle we build (not under node_modules/): its hash is part of its URL, and checked
        # again when it is served ('' if it is missing)
        built = {_js_dir() / rel: _file_hash(_js_dir() / rel) for files in VENDOR.values()
                 for rel in files.values() if not rel.startswith("node_modules/")}
        versions: dict[str, str | None] = {}
        for package, files in VENDOR.items():
            version = _package_version(package)  # in the URL: cached forever
            digests = [built[_js_dir() / rel] for rel in files.values() if _js_dir() / rel in built]
            if version and digests:  # our own bundle of it: its content is part of its name
                version = f"{version}+{''.join(digests)}" if all(digests) else None
            versions[package] = version
        return cls(files={f"{package}@{versions[package]}/{name}": _js_dir() / rel
                          for package, files in VENDOR.items() for name, rel in files.items()},
                   entry={package: f"/vendor/{package}@{versions[package]}/{VENDOR_ENTRY[package]}"
                          for package in VENDOR},
                   built=built,
                   missing=sorted(p for p, v in versions.items() if v is None))

    def preloads(self, runtimes: list[str], compile_wasm: bool = True,
                 wasm_query: str = "") -> str:
        """Fetched at once, while the page is parsed: the runtime the page answers with first.
        A progressive page (TF.js first, then ONNX) preloads TF.js only: fetching, unpacking
        and parsing ORT's 14 MB wasm at the same time delays TF.js's first answer by 100+ ms
        on a cold visit; onnxruntime-web is fetched once TF.js has answered."""
        links = []
        if "tfjs" in runtimes and "@tensorflow/tfjs" not in self.missing:
            links.append(f'<link rel="modulepreload" href="{self.entry["@tensorflow/tfjs"]}">')
        if runtimes == ["onnx"] and "onnxruntime-web" not in self.missing:
            ort = self.entry["onnxruntime-web"]
            wasm = ort.rsplit("/", 1)[0] + "/ort-wasm-simd-threaded.wasm" + wasm_query
            # the wasm too: its download (warm: its read from the HTTP cache) starts now, not when
            # onnxruntime-web asks for it (as=fetch + crossorigin: what its fetch() matches)
            links += [f'<link rel="preload" href="{wasm}" as="fetch" crossorigin>',
                      f'<link rel="modulepreload" href="{ort}">',
                      f'<link rel="modulepreload" href="{wasm.removesuffix(".wasm")}.mjs">']
            if compile_wasm:  # and compiled as it arrives, from here (web_demo/runtimes.js)
                links.append(_COMPILE_WASM.replace("URL", json.dumps(wasm)))
        return "\n".join(links)

    async def serve(self, request: Request, name: str) -> Response:
        path = self.files.get(name)
        if path is None:
            return _error(404, f"not a vendored file: {name!r}; this server has "
                               f"{sorted(self.files)}")
        packed = await _compressed(path)
        # a bundle rebuilt since start-up no longer matches the hash in its URL: not for good
        # (the ETag is the SHA-256 of the file's content, as of its mtime)
        fresh = path not in self.built or (packed is not None
                                           and packed[1].strip('"')[:12] == self.built[path])
        cache = IMMUTABLE if fresh else NO_CACHE
        if packed is None:
            return _file(path, cache)
        return _packed(request, path, packed, cache)


# Started while the page's head is parsed (~100-250 ms before a module could), taking the
# preload's response over; web_demo/runtimes.js hands the module to onnxruntime-web.
_COMPILE_WASM = """<script>performance.mark('estuary:wasm-fetch-start');
window.estuaryOrtWasm = WebAssembly.compileStreaming && WebAssembly.compileStreaming(
  fetch(URL, {credentials: 'same-origin'})).then((m) => {
  performance.mark('estuary:wasm-compiled'); return m; });
window.estuaryOrtWasm && window.estuaryOrtWasm.catch(() => {});</script>"""


# The first model's files, fetched from the head (~150 ms before runtimes.js, a module, runs:
# it takes the responses over; the same request as app.js's reader, revalidated by ETag).
_FETCH_MODEL = """<script>window.estuaryEarly = new Map(URLS.map((u) => {
  const p = fetch(u, {cache: 'no-cache', credentials: 'same-origin'}); p.catch(() => {});
  return [u, p]; }));</script>"""


def _first_model_urls(manifest: Manifest | None, runtime: str, model: str | None) -> list[str]:
    """The URLs of the files of `runtime`'s artifact in `manifest` (runtimes.js fetches the same
    ones, `prefetchFirstModel`); [] when it has none."""
    entry = manifest.formats.get(runtime) if manifest else None
    if manifest is None or entry is None or not entry.file:
        return []
    # as runtimes.js's api() (encodeURIComponent; a model's name is [A-Za-z0-9._-]: catalog.py)
    name = "" if model is None else "?model=" + quote(model, safe="")
    return [f"/models/{manifest.version}/{f}{name}" for f in manifest.files
            if f == entry.file or f.startswith(f"{entry.file}/")]


class PageState(Protocol):
    """What the page needs from the server: its head and a verified version's manifest."""

    def head(self) -> dict[str, Any]: ...

    def version(self, number: int) -> Version: ...


def _first_runtimes(query: Any, manifest: Manifest | None) -> list[str]:
    """As web_demo/runtimes.js plans it: ?runtime=tfjs → TF.js; else ONNX, and TF.js first (a
    progressive first answer) when the latest version has a TF.js artifact that passed."""
    if query.get("runtime") == "tfjs":
        return ["tfjs"]
    tfjs = manifest.formats.get("tfjs") if manifest else None
    if tfjs and tfjs.passed and query.get("progressive") != "0":
        return ["tfjs", "onnx"]
    return ["onnx"]


def _latest_manifest(state: PageState, head: dict) -> Manifest | None:
    """The latest version's manifest, inlined in the page: one round trip less before the
    first model is fetched (the page checks its version number before using it)."""
    if head["latest"] is None:
        return None
    try:
        return state.version(head["latest"]).manifest
    except ArtifactError:  # StoreError, ManifestError: the page asks /models/head again
        return None


def _trusted_pem(state: PageState) -> str | None:
    """The PEM of the server's trusted key (`serve --trusted-key`): the page verifies each
    artifact it fetches against it (js/src/verify.js)."""
    key = getattr(state, "trusted_key", None)
    if key is None:
        return None
    from ..signing import public_pem

    return public_pem(key).decode("ascii")


def render_page(html: str, state: PageState, vendored: Vendored, query: Any, *,
                model: str | None = None, models: list[str] | None = None) -> str:
    """index.html with its import map, preloads and config filled in; `model` is the named
    model the page shows (of `models`, the page's model switch), None on a one-model store."""
    # the page's own files under content-hashed URLs (cached for good, like the vendored ones):
    # a second visit loads them without a round trip; an edit changes the URL
    versioned = {url: f"{url}?v={_file_hash(path)}" for url, path in _own_files().items()}
    # ...also where a module imports another ('./runtimes.js' → the same versioned URL)
    modules = {url: v for url, v in versioned.items() if url.endswith(".js")}
    import_map = {"imports": {"estuary": versioned["/js/estuary.js"], **modules,
                              **vendored.entry}}
    for url, v in versioned.items():
        html = html.replace(f'"{url}"', f'"{v}"')
    head = state.head()
    manifest = _latest_manifest(state, head)
    config = {"missing": vendored.missing, "install": _install_hint(), "head": head,
              "manifest": manifest.to_dict() if manifest else None,
              "model": model, "models": models or [], "trusted_key": _trusted_pem(state)}
    runtimes = _first_runtimes(query, manifest)
    urls = [] if query.get("early") == "0" else _first_model_urls(manifest, runtimes[0], model)
    # ?wasm=identity: ORT's wasm not gzipped (benchmarks/browser.py --ab compares)
    html = html.replace("<!--IMPORTMAP-->", '<script type="importmap">'
                        f"{json.dumps(import_map)}</script>\n"
                        + vendored.preloads(runtimes,
                                            compile_wasm=query.get("precompile") != "0",
                                            wasm_query="?encoding=identity"
                                            if query.get("wasm") == "identity" else "")
                        + ("\n" + _FETCH_MODEL.replace("URLS", _script_json(urls)) if urls else ""))
    return html.replace("<!--CONFIG-->", '<script type="application/json" id="estuary-config">'
                        f"{_script_json(config)}</script>")


def web_routes(state: PageState,
               pick: Callable[[str | None], tuple[PageState, str | None]] | None = None,
               names: Callable[[], list[str]] | None = None) -> list[Route]:
    """GET /, /web_demo/<file>, /js/<file> and /vendor/<package>@<version>/<file>. With many
    models, `pick(?model=)` gives the state and name of the model the page shows, `names()`
    the models its switch lists."""
    vendored = Vendored.find()
    own = [p for p in _own_files().values() if p.is_file()]  # first: small, asked for first
    _GZIPPED.warm(own + [p for p in vendored.files.values() if p.is_file()])

    async def page(request: Request) -> Response:
        index = _web_demo_dir() / "index.html"
        try:
            html = index.read_text(encoding="utf-8")
        except OSError:
            return _error(404, f"the web demo is not installed here ({index.parent} is missing)")
        shown, model = pick(request.query_params.get("model")) if pick else (state, None)
        return Response(render_page(html, shown, vendored, request.query_params, model=model,
                                    models=names() if names else None),
                        media_type=MEDIA[".html"], headers={**NO_CACHE, **ISOLATED})

    async def demo_file(request: Request) -> Response:
        name = request.path_params["file"]
        path = _web_demo_dir() / name
        if "/" in name or "\x00" in name or name.startswith(".") or path.suffix not in MEDIA:
            return _error(404, f"no web demo file {name!r}")
        return await _own(request, path)

    async def client_library(request: Request) -> Response:
        name = request.path_params["file"]
        if name not in CLIENT:
            return _error(404, f"no JS client file {name!r}; there are {list(CLIENT)}")
        return await _own(request, js_src_dir() / name)  # the installed package's, never a stale copy

    async def vendor(request: Request) -> Response:
        return await vendored.serve(request, request.path_params["file"])

    return [
        Route("/", page, methods=["GET"]),
        Route("/web_demo/{file:path}", demo_file, methods=["GET"]),
        Route("/js/{file}", client_library, methods=["GET"]),
        Route("/vendor/{file:path}", vendor, methods=["GET"]),
    ]


__all__ = ["VENDOR", "Vendored", "render_page", "web_routes"]
