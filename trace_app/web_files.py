"""The web client's files, served light: versioned, cached for a year, precompressed,
and with nothing fetched from another host.

ASGI middleware in front of Flet's static files:

- ``/_v/<version>/<path>`` is ``/<path>`` served with ``Cache-Control: public,
  max-age=31536000, immutable``. The page points Flutter's entrypoint, asset and
  CanvasKit bases there, and ``<version>`` names the flet-web release and the app's
  own assets, so a new client is a new URL. Everything else (the page, its small
  scripts, the manifest, the icons) is ``no-cache``: revalidated, a 304 when unchanged.
- A file whose type compresses, asked for by a request that accepts ``br`` (else
  ``gzip``), is compressed once into ``cache_dir`` and served from there with
  ``Content-Encoding`` and ``Vary: Accept-Encoding``.
- The page runs ``script`` (the app's own, e.g. its link watch) before Flet starts.
- The page carries a Content-Security-Policy that lets it load from and connect to
  this server only: Flet's Rive extension asks a CDN for its runtime on every start
  (Trace draws no Rive animation), and a transcript's Markdown could name any image.

    files = WebFiles(flet_asgi, cache_dir=data_dir / "cache" / "web", version=...)
    routes.append(Mount("/", app=files))
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
from pathlib import Path

import anyio
import anyio.to_thread
import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import FileResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/_v/"
IMMUTABLE = "public, max-age=31536000, immutable"
#: Only this server, for everything. Inline scripts are Flet's page configuration;
#: ``wasm-unsafe-eval`` and ``blob:`` workers are how Flutter's renderer starts;
#: ``unsafe-eval`` lets browser automation (Playwright's ``wait_for_function``) run.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob:",
        "worker-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
COMPRESSIBLE = {
    "application/wasm",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "font/ttf",
    "font/otf",
    "image/svg+xml",
    "text/css",
    "text/plain",
}
MIN_SIZE = 1024  # below this the headers outweigh the saving


class WebFiles:
    """ASGI middleware: versioned, cached, precompressed static files (see module doc)."""

    def __init__(self, app: ASGIApp, cache_dir: Path, version: str, script: str = "") -> None:
        self.app = app
        self.version = version
        self.script = script
        self.compressed = Compressed(cache_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inner, versioned = self._unversioned(scope)
        # Ask the static files to name the file (pathsend) instead of streaming it,
        # so that this layer can serve a compressed copy; it streams itself below.
        inner["extensions"] = {**scope.get("extensions", {}), "http.response.pathsend": {}}
        reply = _Reply(self, scope, receive, send, versioned)
        await self.app(inner, receive, reply.send)

    def _unversioned(self, scope: Scope) -> tuple[Scope, bool]:
        root: str = scope.get("root_path", "")
        path: str = scope["path"].removeprefix(root)
        if not path.startswith(PREFIX):
            return dict(scope), False
        version, _, rest = path[len(PREFIX) :].partition("/")
        inner = f"{root}/{rest}"
        # An old page asking for its old version gets today's file, never cached for long.
        return {**scope, "path": inner, "raw_path": inner.encode()}, version == self.version


class _Reply:
    """One response on its way out: holds the start until it knows what follows."""

    def __init__(
        self, files: WebFiles, scope: Scope, receive: Receive, send: Send, versioned: bool
    ) -> None:
        self.files, self.scope, self.receive, self._send = files, scope, receive, send
        self.versioned = versioned
        self.start: Message | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if self.start is not None:
            start, self.start = self.start, None
            if message["type"] == "http.response.pathsend":
                await self._file(start, Path(message["path"]))
                return
            self._cache_headers(start)
            await self._send(start)
        await self._send(message)

    def _cache_headers(self, start: Message) -> MutableHeaders:
        headers = MutableHeaders(raw=start["headers"])
        ok = start["status"] in (200, 304)
        headers["cache-control"] = IMMUTABLE if self.versioned and ok else "no-cache"
        headers["vary"] = "Accept-Encoding"
        if headers.get("content-type", "").startswith("text/html"):
            headers["content-security-policy"] = CSP
        return headers

    async def _file(self, start: Message, path: Path) -> None:
        headers = self._cache_headers(start)
        kind = headers.get("content-type", "").split(";")[0]
        if kind == "text/html":
            await self._page(start, headers, path)
            return
        encoding = _encoding(Headers(scope=self.scope))
        if encoding and kind in COMPRESSIBLE and int(headers.get("content-length", 0)) >= MIN_SIZE:
            path = await self.files.compressed.copy(path, encoding)
            del headers["content-length"]  # the copy's own, set by FileResponse
            headers["content-encoding"] = encoding
            # Weak: the same content in another encoding (revalidation still matches).
            headers["etag"] = "W/" + headers.get("etag", "").removeprefix("W/")
        response = FileResponse(path, status_code=start["status"], headers=dict(headers))
        await response(self.scope, self.receive, self._send)

    async def _page(self, start: Message, headers: MutableHeaders, path: Path) -> None:
        base = f"{self.scope.get('root_path', '')}{PREFIX}{self.files.version}/"
        body = _page(await anyio.Path(path).read_bytes(), base, self.files.script)
        headers["content-length"] = str(len(body))
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body})


class Compressed:
    """Compressed copies of files, each made once, kept in a cache folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._making: dict[Path, asyncio.Lock] = {}

    async def copy(self, source: Path, encoding: str) -> Path:
        """The path of ``source`` compressed with ``encoding`` (``br`` or ``gzip``)."""
        stat = await anyio.Path(source).stat()
        key = f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
        target = self.folder / encoding / hashlib.sha256(key).hexdigest()
        lock = self._making.setdefault(target, asyncio.Lock())
        async with lock:  # two first requests make it once
            if not await anyio.Path(target).exists():
                await anyio.to_thread.run_sync(_compress, source, target, encoding)
        self._making.pop(target, None)
        return target


def _compress(source: Path, target: Path, encoding: str) -> None:
    data = source.read_bytes()
    # Quality 9, 16 MB window: 4.5 s on the client's 8.5 MB wasm (once) for 2.44 MB;
    # quality 6 is 2.47 MB, which puts a first load just over 5 MB; 11 takes a minute.
    packed = (
        brotli.compress(data, quality=9, lgwin=24)
        if encoding == "br"
        else gzip.compress(data, compresslevel=6, mtime=0)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    partial.write_bytes(packed)
    partial.replace(target)  # atomic: a reader sees all of it or nothing


def _encoding(headers: Headers) -> str | None:
    accepted = set()
    for item in headers.get("accept-encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        if params.strip().replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            accepted.add(name.strip().lower())
    return next((e for e in ("br", "gzip") if e in accepted), None)


def _page(html: bytes, base: str, script: str) -> bytes:
    """Flet's page, with Flutter's bases moved under the versioned prefix, and ``script``."""
    config = _CONFIG.replace("{base}", base).replace("{script}", script)
    return html.replace(b"</head>", config.encode() + b"</head>", 1)


_CONFIG = """<script>
flet.entrypointBaseUrl = flet.assetBase = "{base}";
flet.canvasKitBaseUrl = "{base}canvaskit/";
// Flet's Rive extension adds a script from a CDN on every start, and Trace draws no
// Rive animation: scripts from other hosts are dropped before the browser asks for
// them (the Content-Security-Policy would refuse them too, but only after trying).
const append = Element.prototype.append;
Element.prototype.append = function (...nodes) {
  const foreign = (n) => n instanceof HTMLScriptElement
    && new URL(n.src, document.baseURI).origin !== location.origin;
  return append.apply(this, nodes.filter((n) => !foreign(n)));
};
{script}
</script>
"""
