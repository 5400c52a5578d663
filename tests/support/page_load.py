"""What one load of the web app costs, as Chromium counts it (CDP network events).

Shared by the browser tests and ``bench/web_load.py``:

    load = await measure(context, server.url)
    load.transferred, load.hosts, load.first_frame_s
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext

FIRST_FRAME = """addEventListener("flutter-first-frame",
    () => { window.__firstFrame = performance.now(); }, {once: true});"""
QUIET_S = 1.0  # no request in flight for this long: the load is over


@dataclass
class Request:
    url: str
    transferred: int = 0  # bytes on the wire (headers included); 0 from the cache
    encoding: str | None = None
    status: int | None = None
    failed: str | None = None


@dataclass
class Load:
    first_frame_s: float
    requests: dict[str, Request] = field(default_factory=dict)

    @property
    def transferred(self) -> int:
        return sum(r.transferred for r in self.requests.values())

    @property
    def hosts(self) -> set[str]:
        """Every host the page asked, blocked requests included (blob: and data: are local)."""
        return {urlsplit(r.url).hostname or "" for r in self._network()}

    def _network(self) -> list[Request]:
        return [r for r in self.requests.values() if r.url.startswith(("http:", "https:"))]

    def by_path(self, suffix: str) -> Request:
        return next(r for r in self._network() if urlsplit(r.url).path.endswith(suffix))


async def measure(context: BrowserContext, url: str, timeout_s: float = 90.0) -> Load:
    """Open ``url`` in a new tab of ``context``; return once the app drew its first
    frame and the network has been quiet for a second. The tab stays open."""
    page = await context.new_page()
    await page.add_init_script(FIRST_FRAME)
    cdp = await context.new_cdp_session(page)
    requests: dict[str, Request] = {}
    pending: set[str] = set()

    def sent(e: dict[str, Any]) -> None:
        requests[e["requestId"]] = Request(e["request"]["url"])
        if e["request"]["url"].startswith("http"):
            pending.add(e["requestId"])

    def answered(e: dict[str, Any]) -> None:
        if (request := requests.get(e["requestId"])) is not None:
            headers = {k.lower(): v for k, v in e["response"]["headers"].items()}
            request.status = e["response"]["status"]
            request.encoding = headers.get("content-encoding")

    def finished(e: dict[str, Any]) -> None:
        if (request := requests.get(e["requestId"])) is not None:
            request.transferred = int(e["encodedDataLength"])
        pending.discard(e["requestId"])

    def failed(e: dict[str, Any]) -> None:
        if (request := requests.get(e["requestId"])) is not None:
            request.failed = e.get("blockedReason") or e.get("errorText") or "failed"
        pending.discard(e["requestId"])

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.responseReceived", answered)
    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.loadingFailed", failed)
    await cdp.send("Network.enable")
    await page.goto(url)
    await page.wait_for_function("window.__firstFrame !== undefined", timeout=timeout_s * 1000)
    first_frame_ms = await page.evaluate("window.__firstFrame")
    deadline, quiet_since = time.monotonic() + timeout_s, time.monotonic()
    while time.monotonic() - quiet_since < QUIET_S:
        if pending:
            quiet_since = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"still loading: {[requests[r].url for r in pending]}")
        await page.wait_for_timeout(100)
    return Load(first_frame_ms / 1000, requests)
