"""The web client's files over HTTP (no browser): versioned and cached for a year,
compressed once, the page and its entry points revalidated, the manifest and icons.

Against the real WebApp served by uvicorn on a free port, with its own cache folder.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import brotli
import flet_web
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from trace_app.ui.widgets import ASSETS
from trace_app.web import WebApp

WEB = Path(flet_web.get_package_web_dir())
YEAR = "public, max-age=31536000, immutable"


@asynccontextmanager
async def serving(cache: Path) -> AsyncIterator[httpx.AsyncClient]:
    web = WebApp(cache_dir=cache)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with web:
            yield

    app = Starlette(routes=[Mount("/", app=web.asgi)], lifespan=lifespan)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)  # polling uvicorn's start flag under the test timeout
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        # A cold cache compresses the 8.5 MB wasm on the first request: seconds.
        plain = {"accept-encoding": "identity"}
        async with httpx.AsyncClient(base_url=url, headers=plain, timeout=60) as http:
            yield http
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(tmp_path / "cache") as client:
        yield client


async def versioned_base(http: httpx.AsyncClient) -> str:
    page = (await http.get("/")).text
    found = re.search(r'flet\.assetBase = "(/_v/[^"]+/)"', page)
    assert found, page
    return found.group(1)


async def test_the_wasm_is_served_brotli_or_gzip_and_cached_for_a_year(
    http: httpx.AsyncClient,
) -> None:
    base = await versioned_base(http)
    original = (WEB / "main.dart.wasm").read_bytes()
    br = await http.get(f"{base}main.dart.wasm", headers={"accept-encoding": "gzip, br"})
    assert br.status_code == 200
    assert br.headers["content-encoding"] == "br"
    assert br.headers["vary"] == "Accept-Encoding"
    assert br.headers["cache-control"] == YEAR
    assert br.num_bytes_downloaded < len(original) / 3
    assert br.content == original  # decoded by httpx as the header says
    gz = await http.get(f"{base}main.dart.wasm", headers={"accept-encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip"
    assert gz.num_bytes_downloaded < len(original) / 2
    assert gz.content == original
    plain = await http.get(f"{base}main.dart.wasm")  # identity
    assert "content-encoding" not in plain.headers
    assert plain.content == original


async def test_a_file_is_compressed_once_then_served_from_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    async with serving(cache) as http:
        base = await versioned_base(http)
        url, accept = f"{base}canvaskit/skwasm.js", {"accept-encoding": "br"}
        first, second = await asyncio.gather(
            http.get(url, headers=accept), http.get(url, headers=accept)
        )
        copies = list((cache / "br").iterdir())
        made = copies[0].stat().st_mtime_ns
        third = await http.get(url, headers=accept)
    assert len(copies) == 1  # two first requests made one copy
    assert copies[0].stat().st_mtime_ns == made  # the third was served from it
    assert first.content == second.content == third.content
    assert brotli.decompress(copies[0].read_bytes()) == third.content


async def test_the_page_and_its_entry_points_are_revalidated_not_cached(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/sessions/any")  # a route: the page
    assert page.headers["cache-control"] == "no-cache"
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    for path in ("/flutter_bootstrap.js", "/python.js", "/manifest.json"):
        reply = await http.get(path)
        assert reply.headers["cache-control"] == "no-cache", path
        again = await http.get(path, headers={"if-none-match": reply.headers["etag"]})
        assert again.status_code == 304, path


async def test_a_compressed_entry_point_revalidates_to_304(http: httpx.AsyncClient) -> None:
    br = {"accept-encoding": "br"}
    reply = await http.get("/flutter_bootstrap.js", headers=br)
    assert reply.headers["content-encoding"] == "br"
    again = await http.get(
        "/flutter_bootstrap.js", headers={**br, "if-none-match": reply.headers["etag"]}
    )
    assert again.status_code == 304


async def test_another_version_is_served_but_not_cached_for_long(http: httpx.AsyncClient) -> None:
    reply = await http.get("/_v/0.0.1-old/main.dart.mjs")
    assert reply.status_code == 200
    assert reply.content == (WEB / "main.dart.mjs").read_bytes()
    assert reply.headers["cache-control"] == "no-cache"


async def test_the_manifest_names_trace_and_its_icons_are_served(http: httpx.AsyncClient) -> None:
    page = (await http.get("/")).text
    assert '<link rel="manifest" href="manifest.json">' in page
    manifest = json.loads((await http.get("/manifest.json")).content)
    assert manifest["name"] == manifest["short_name"] == "Trace"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"].startswith("#")
    sizes = set()
    for icon in manifest["icons"]:
        png = await http.get(f"/{icon['src']}")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content == (ASSETS / icon["src"]).read_bytes()  # Trace's, not Flet's
        width = int.from_bytes(png.content[16:20], "big")  # the PNG header's width
        assert icon["sizes"] == f"{width}x{width}"
        sizes.add(width)
    assert {192, 512} <= sizes
