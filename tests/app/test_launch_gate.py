"""``trace app``'s own server against the other users and processes of the machine:
its loopback port answers only the window that used the one-time launch secret.

The real WindowServer (uvicorn on a free loopback port); its "window" is this
test, which attacks the port as an outsider, then takes the window's own path.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from trace_app.launch_gate import COOKIE, REFUSED, REUSED
from trace_app.ui.shell import Origin
from trace_app.window_server import WindowServer

TOKEN = "t_desktop_secret_token_0123456789"


async def serve_window(tmp_path: Path, window: object) -> list[str]:
    """Run a WindowServer whose window is ``window(launch_url)``; returns what stopped."""
    stopped: list[str] = []
    origin = Origin("http://127.0.0.1:9", TOKEN, data_dir=tmp_path / "app")
    server = WindowServer(lambda: origin, on_stop=lambda: stopped.append("bridge"))
    server.gate.on_launch = lambda: stopped.append("launched")
    await server.run(window)  # type: ignore[arg-type]
    return stopped


async def refused_socket(url: str, cookie: str | None = None) -> int:
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else None
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers=headers, open_timeout=10):
            pass
    return refused.value.response.status_code


async def test_an_outsider_is_refused_and_the_secret_works_once(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    async def window(launch: str) -> None:
        base = launch.split("?")[0].rstrip("/")
        ws = base.replace("http://", "ws://") + "/ws"
        async with httpx.AsyncClient(timeout=60) as outsider:
            page = await outsider.get(base + "/")
            assert (page.status_code, page.text) == (403, REFUSED)
            assert (await outsider.get(base + "/manifest.json")).status_code == 403
            assert (await outsider.get(base + "/?launch=guessed")).status_code == 403
            guessed = {"Cookie": f"{COOKIE}=guessed"}
            assert (await outsider.get(base + "/", headers=guessed)).status_code == 403
        assert await refused_socket(ws) == 403
        assert await refused_socket(ws, cookie="guessed") == 403

        async with httpx.AsyncClient(timeout=60) as own:  # the window's path
            first = await own.get(launch)
            assert first.status_code == 200 and 'location.replace("/")' in first.text
            cookie = first.headers["set-cookie"]
            assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
            page = await own.get(base + "/")
            assert page.status_code == 200 and "<html" in page.text.lower()
            seen["page"] = page.text
            value = own.cookies[COOKIE]
        async with websockets.connect(
            ws, additional_headers={"Cookie": f"{COOKIE}={value}"}, open_timeout=10
        ):
            pass  # accepted: Flet's client would register here

        async with httpx.AsyncClient(timeout=60) as late:  # someone who read the secret
            again = await late.get(launch)
            assert (again.status_code, again.text) == (403, REUSED)
            assert COOKIE not in again.cookies
        seen["launch"] = launch

    stopped = await serve_window(tmp_path, window)
    # The secret was spent once; the window closed: the app stopped, bridge and all.
    assert stopped == ["launched", "bridge"]
    launch = str(seen["launch"])
    assert urlsplit(launch).hostname == "127.0.0.1"
    assert TOKEN not in launch and TOKEN not in str(seen["page"])
