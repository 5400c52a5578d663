"""The cluster with its web tier, as deploy/cluster/docker-compose.web.yml lays it over
docker-compose.yml: three sync servers and two web processes in containers behind
HAProxy. A person signs in through HAProxy in Chromium and the app (from a web
container) shows their workspace, talking to the API (in the sync containers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app.test_browser import ARGS, CHROMIUM, STEP_MS, _require_browser, accessible, sees
from tests.conftest import eventually
from tests.hosts.test_cluster_compose import COMPOSE, Cluster, compose_up, healthy, owner_token

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - reported by _require_browser
    async_playwright = None  # type: ignore[assignment]

WEB_COMPOSE = COMPOSE.with_name("docker-compose.web.yml")
WEB_PORTS = ("WEB_1_PORT", "WEB_2_PORT")

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def tiers(bridge_image: str, services_image: str, tmp_path: Path) -> Iterator[Cluster]:
    _require_browser()
    files = [COMPOSE, WEB_COMPOSE]
    with compose_up(files, bridge_image, services_image, tmp_path, WEB_PORTS) as cluster:
        yield cluster


async def test_the_web_tier_serves_the_app_and_the_servers_the_api(tiers: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        # The balancer answers once any server does: the one asked directly is waited for too.
        for port in ("FRONT_PORT", "SERVER_1_PORT", *WEB_PORTS):
            await eventually(lambda p=port: _answers(tiers.url(p)), within=180)  # type: ignore[misc]
        server = await http.get(f"{tiers.url('SERVER_1_PORT')}/")
        assert server.status_code == 404 and server.json()["error"]["code"] == "not_found"
        assert (await http.get(f"{tiers.url('WEB_1_PORT')}/api/me")).status_code == 404
        token = await owner_token(tiers)
        auth = {"Authorization": f"Bearer {token}"}
        front = tiers.url("FRONT_PORT")
        link = (await http.post(f"{front}/api/signin-links", headers=auth)).json()["url"]
    assert link.startswith(f"{front}/signin")  # TRACE_PUBLIC_URL: the balancer
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(STEP_MS)
        await page.goto(link)  # /signin to a sync server, the page from a web container
        await accessible(page)
        await sees(page, "Members")  # signed in: the app's navigation, not the sign-in form
        await sees(page, "online")  # its web process reached the API through HAProxy
        await browser.close()


async def _answers(url: str) -> bool:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        return await healthy(http)
