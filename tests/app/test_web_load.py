"""Browser tier: what loading the web app costs, in headless Chromium against a real
server subprocess: nothing asked of another host, the client compressed, a repeat
visit from the cache, and a manifest Chromium can install from.

``bench/web_load.py`` prints the same figures with their targets.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.app.test_browser import ARGS, CHROMIUM, SEMANTICS_ON, _require_browser
from tests.support.page_load import measure
from tests.support.server_process import ServerProcess

try:
    from playwright.async_api import Playwright, async_playwright
except ImportError:  # pragma: no cover - reported by _require_browser
    async_playwright = None  # type: ignore[assignment]

MB = 1_000_000


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, Playwright]]:
    _require_browser()
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        async with async_playwright() as pw:
            yield server, pw
    finally:
        if server.process is not None:
            server.stop(signal.SIGKILL)


async def test_a_load_asks_only_the_server_and_a_repeat_visit_comes_from_the_cache(
    served: tuple[ServerProcess, Playwright],
) -> None:
    server, pw = served
    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    context = await browser.new_context()
    first = await measure(context, server.url)
    assert first.hosts == {"127.0.0.1"}  # no CDN, not even a blocked attempt
    wasm = first.by_path("/main.dart.wasm")
    assert wasm.encoding == "br"
    assert wasm.transferred < 3 * MB  # 8.5 MB uncompressed
    assert first.transferred <= 5 * MB
    repeat = await measure(context, server.url)
    assert repeat.hosts == {"127.0.0.1"}
    assert repeat.by_path("/main.dart.wasm").transferred == 0  # from the browser's cache
    assert repeat.transferred <= 0.5 * MB
    await browser.close()


async def test_chromium_would_install_the_app(
    served: tuple[ServerProcess, Playwright], tmp_path: Path
) -> None:
    server, pw = served
    # A profile on disk: Chromium never offers to install from an incognito context.
    context = await pw.chromium.launch_persistent_context(
        tmp_path / "profile", executable_path=CHROMIUM, args=ARGS
    )
    page = await context.new_page()
    await page.goto(server.url)
    await page.wait_for_function(SEMANTICS_ON, timeout=60_000, polling=100)  # Flutter started
    cdp = await context.new_cdp_session(page)
    manifest = await cdp.send("Page.getAppManifest")
    installable = await cdp.send("Page.getInstallabilityErrors")
    # And each icon the manifest names decodes at the size it claims.
    icons = await page.evaluate(
        """async (url) => {
            const manifest = await (await fetch(url)).json();
            const drawn = [];
            for (const icon of manifest.icons) {
                const reply = await fetch(new URL(icon.src, url));
                const image = await createImageBitmap(await reply.blob());
                drawn.push([icon.sizes, `${image.width}x${image.height}`]);
            }
            return drawn;
        }""",
        manifest["url"],
    )
    await context.close()
    assert manifest["errors"] == []
    assert manifest["manifest"]["name"] == "Trace"
    assert manifest["manifest"]["display"] == "kStandalone"
    assert installable["installabilityErrors"] == []
    assert {claimed for claimed, _ in icons} >= {"192x192", "512x512"}
    assert all(claimed == drawn for claimed, drawn in icons)
