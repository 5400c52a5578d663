"""The web app in processes of its own (``trace serve --role web``): two sync and
two web processes on PostgreSQL and a private Redis, behind HAProxy with the
config deploy/cluster ships, which sends the API's paths to the sync processes
and everything else to the web processes. A tab's app session lives in the web
process holding its websocket; killed, the tab comes back through HAProxy on
the other, on the same view, signed in."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.app.test_browser import (
    ARGS,
    CHROMIUM,
    STEP_MS,
    _require_browser,
    accessible,
    choose_pane,
    sees,
    shot,
    shown,
    tagged,
)
from tests.app.test_browser_terminal import shows
from tests.cluster.conftest import server_on
from tests.conftest import StoreTarget, eventually
from tests.support.bridge_process import BridgeProcess
from tests.support.git import make_repo
from tests.support.haproxy import HaProxy, find_haproxy, haproxy
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess, free_port
from tests.support.waiting_tools import reaches, trace

#: Four servers, HAProxy and Chromium start before each test: on a loaded machine
#: (another test run beside this one) that alone took over a minute.
pytestmark = pytest.mark.timeout(360)

try:
    from playwright.async_api import Browser, Page, async_playwright
except ImportError:  # pragma: no cover - reported by _require_browser
    async_playwright = None  # type: ignore[assignment]

TITLE = "Tiered tabs: rename the settings page"
RENAMED = "Tiered tabs: the settings page renamed"


@dataclass
class Tiers:
    sync: list[ServerProcess]
    web: list[ServerProcess]
    proxy: HaProxy
    browser: Browser

    def api(self, method: str, path: str, **body: object) -> Any:
        reply = httpx.request(
            method,
            f"{self.proxy.url}{path}",
            json=body or None,
            headers={"Authorization": f"Bearer {self.sync[0].token}"},
            timeout=30,
        )
        assert reply.status_code < 300, reply.text
        return reply.json()

    def start_session(self, checkout: Path) -> str:
        """A session with a title, started through HAProxy (it waits for a runtime)."""
        me = self.api("GET", "/api/me")
        wid = me["workspaces"][0]["id"]
        repo = self.api("POST", f"/api/workspaces/{wid}/repos", source=str(checkout))
        spec = {"repo_id": repo["id"], "tool": "shell", "title": TITLE}
        return str(self.api("POST", f"/api/workspaces/{wid}/sessions", **spec)["id"])

    def holding_the_tab(self) -> list[ServerProcess]:
        """The web processes whose app sessions talk to the API tier: a tab's session
        keeps its sync links open through HAProxy (idle pooled connections from
        HAProxy to a web process would not tell which one holds the tab)."""
        return [w for w in self.web if w.process and _links_to(w, self.proxy.port)]


def _links_to(server: ServerProcess, port: int) -> bool:
    assert server.process is not None
    found = psutil.Process(server.process.pid).net_connections(kind="tcp")
    return any(
        c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == port for c in found
    )


@pytest.fixture
async def tiers(
    postgres: StoreTarget, redis_server: RedisServer, tmp_path: Path, servers: list[ServerProcess]
) -> AsyncIterator[Tiers]:
    find_haproxy()  # or skip before starting anything
    _require_browser()
    front = free_port()
    public = {"TRACE_PUBLIC_URL": f"http://127.0.0.1:{front}", "TRACE_BRIDGE_LEASE_S": "600"}
    sync = [server_on(postgres, tmp_path / f"s{n}", redis_server.url) for n in (1, 2)]
    web = [ServerProcess(tmp_path / f"w{n}") for n in (1, 2)]
    for member in sync:
        member.extra_env |= public | {"TRACE_ROLE": "sync"}
    for member in web:  # no database, no Redis: only where the API is
        member.extra_env |= public | {
            "TRACE_ROLE": "web",
            "TRACE_API_URL": public["TRACE_PUBLIC_URL"],
        }
    servers += sync + web
    await asyncio.to_thread(sync[0].start)  # the first start makes the owner
    await asyncio.gather(*(asyncio.to_thread(m.start) for m in [sync[1], *web]))
    ports = [m.port for m in sync]
    with haproxy(ports, tmp_path / "haproxy.log", web=[m.port for m in web], port=front) as proxy:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield Tiers(sync, web, proxy, browser)
            await browser.close()


async def open_tab(tiers: Tiers) -> Page:
    context = await tiers.browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    link = tiers.api("POST", "/api/signin-links")["url"]
    await page.goto(link)  # HAProxy: /signin to a sync process, the page to a web one
    await accessible(page)
    return page


async def test_a_tab_whose_web_process_is_killed_comes_back_on_its_view_signed_in(
    tiers: Tiers, tmp_path: Path
) -> None:
    sid = tiers.start_session(make_repo(tmp_path / "shop", branch="main"))
    page = await open_tab(tiers)
    await tagged(page, f"session-{sid}").first.click()  # type: ignore[attr-defined]
    await page.wait_for_url(f"**/session/{sid}")
    await sees(page, TITLE)
    await shot(page, "web-role-before", tmp_path)
    url = page.url
    await eventually(lambda: len(tiers.holding_the_tab()) == 1, within=30)
    [holder] = tiers.holding_the_tab()
    [survivor] = [w for w in tiers.web if w is not holder]

    async with page.expect_websocket(lambda ws: ws.url.endswith("/ws"), timeout=60_000) as link:
        await asyncio.to_thread(holder.stop, signal.SIGKILL)
    await (await link.value).wait_for_event("framereceived")  # the other process's session
    await eventually(lambda: tiers.holding_the_tab() == [survivor], within=60)  # signed in there
    # Live again, on the same view: a rename made meanwhile shows (the killed process's
    # last frame could not).
    tiers.api("PATCH", f"/api/sessions/{sid}", title=RENAMED)
    await sees(page, RENAMED)
    assert page.url == url
    await shot(page, "web-role-after", tmp_path)
    text = await shown(page)
    assert "Shared prompt draft" in text  # the session's own view, not the list
    assert await page.get_by_role("alert").count() == 0  # no "server unreachable" banner
    assert "Sign in to Trace" not in text and "Error running app" not in text, text[:2000]


async def test_a_tabs_terminal_follows_a_shell_through_haproxy(
    tiers: Tiers, tmp_path: Path
) -> None:
    """The page's terminal (on a web process) reads the io document over /sync, which
    HAProxy sends to a sync process; the bridge is linked through HAProxy too."""
    owner = tiers.sync[0]
    checkout = make_repo(tmp_path / "shop", branch="main")
    with BridgeProcess(tiers.proxy.url, owner.token, tmp_path / "bridge"):
        await trace(owner, "repo", "add", str(checkout))
        shell = ("session", "start", "--repo", str(checkout), "--tool", "shell")
        sid = str((await trace(owner, *shell, "-m", "echo tiered-$((6*7))"))["id"])
        await reaches(owner, sid, "idle")
        page = await open_tab(tiers)
        await tagged(page, f"session-{sid}").first.click()  # type: ignore[attr-defined]
        await choose_pane(page, "terminal", "terminal screen")
        await shows(page, "tiered-42")  # what the shell printed before the tab opened
        await trace(owner, "session", "send", sid, "echo live-$((6*8))")
        await shows(page, "live-48")  # and what it prints while the tab watches
        await shot(page, "web-role-terminal", tmp_path)
