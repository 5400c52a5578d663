"""Live previews for real: a shell session on a real bridge runs a small app (HTTP and
a websocket echo on one port) in its worktree; people open it through Trace.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.bridges.conftest import Person
from tests.conftest import eventually
from tests.hosting.conftest import Hosting
from tests.support.server_process import free_port
from trace_sync.auth.bearer import COOKIE
from trace_sync.services.accounts import AccountService

#: The session's app: answers GETs with what it was asked and what it was sent,
#: echoes websocket messages (text and bytes).
APP = """
import asyncio, sys
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def page(connection, request):
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return None
    if request.path == "/slow":
        await asyncio.sleep(60)
    if request.path == "/big":
        big = b"x" * (5 * 1024 * 1024)
        headers = Headers([("Content-Length", str(len(big)))])
        return Response(200, "OK", headers, big)
    said = request.headers
    body = (
        f"app page {request.path} cookie={said.get('Cookie')} auth={said.get('Authorization')}"
    ).encode()
    headers = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    if request.path == "/old":
        headers["Location"] = "/new"
        return Response(302, "Found", headers, body)
    return Response(200, "OK", headers, body)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), process_request=page):
        print("app-listening", flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


@contextmanager
def outside_service() -> Iterator[int]:
    """A service of the bridge owner's machine that no session runs."""

    class Secret(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"owner's private service"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Secret)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


#: An app that echoes what it is sent (method, body, content type) and sets a cookie.
ECHO_APP = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    def do_POST(self):
        sent = self.rfile.read(int(self.headers["Content-Length"]))
        body = self.command.encode() + b" " + self.headers["Content-Type"].encode() + b" " + sent
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "app_session=1; Path=/")
        self.send_header("Set-Cookie", "trace_token=stolen; Path=/")
        self.end_headers()
        self.wfile.write(body)

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
print("app-listening", flush=True)
server.serve_forever()
"""


async def start_app(hosting: Hosting, tmp_path: Path, app: str = APP) -> tuple[str, int]:
    script = tmp_path / "app.py"
    script.write_text(app)
    port = free_port()
    sid = await hosting.start(prompt=f"exec {sys.executable} {script} {port}")
    async with hosting.io(sid) as io:
        await io.shows("app-listening")
    return sid, port


async def link_of(hosting: Hosting, sid: str, who: Person) -> str:
    shown = await hosting.api("GET", f"/api/sessions/{sid}/preview", who)
    assert shown.status_code == 200, shown.text
    return on_live(hosting, shown.json()["url"])


def on_live(hosting: Hosting, url: str) -> str:
    """The link on the test's server (its base URL is the configured one, not the test's port)."""
    return hosting.bed.live.url + urlsplit(url).path


def ws_url(url: str) -> str:
    return "ws" + url.removeprefix("http")


async def test_a_reader_opens_the_sessions_app_and_its_websocket_through_trace(
    hosting: Hosting, tmp_path: Path
) -> None:
    bed = hosting.bed
    sid, port = await start_app(hosting, tmp_path)
    refused = await hosting.api("PUT", f"/api/sessions/{sid}/preview", bed.viewer, port=port)
    assert refused.status_code == 403  # declaring needs a writer
    declared = await hosting.api("PUT", f"/api/sessions/{sid}/preview", bed.member, port=port)
    assert declared.status_code == 200 and declared.json()["port"] == port
    found = await hosting.api("GET", f"/api/sessions/{sid}/preview/ports", bed.viewer)
    assert port in found.json()["ports"]

    url = await link_of(hosting, sid, bed.viewer)
    assert url.startswith(f"{bed.live.url}/preview/{sid}/")
    async with httpx.AsyncClient() as browser:
        # The reader's sign-in cookie and token go with the request; the app sees neither.
        browser.cookies.set(COOKIE, bed.viewer.token)
        page = await browser.get(url + "hello?x=1", headers={"Authorization": "Bearer nope"})
        assert page.status_code == 200
        assert page.text == "app page /hello?x=1 cookie=None auth=None"
        assert "sandbox" in page.headers["content-security-policy"]
        encoded = await browser.get(url + "a%3Fb%2Fc?x=%26")  # reaches the app as it was sent
        assert encoded.text.startswith("app page /a%3Fb%2Fc?x=%26 ")
        moved = await browser.get(url + "old")
        assert moved.status_code == 302
        assert moved.headers["location"] == url.removeprefix(bed.live.url) + "new"

    async with connect(ws_url(url) + "echo") as ws:
        await ws.send("ping over the bridge")
        assert await ws.recv() == "ping over the bridge"
        await ws.send(b"\x00\x01bytes")
        assert await ws.recv() == b"\x00\x01bytes"

        # The session stops: its app goes, and the websocket with it.
        stopped = await hosting.api("POST", f"/api/sessions/{sid}/stop")
        assert stopped.status_code == 200, stopped.text
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    async with httpx.AsyncClient() as browser:
        await eventually(lambda: _refused(browser, url), 15)
        archived = await hosting.api("POST", f"/api/sessions/{sid}/archive")
        assert archived.status_code == 200, archived.text
        ended = await browser.get(url)
        assert ended.status_code == 409 and "ended" in ended.text


async def _refused(browser: httpx.AsyncClient, url: str) -> bool:
    answer = await browser.get(url)
    return answer.status_code == 502 and "listens" in answer.text


async def test_outsiders_and_forged_links_are_refused(hosting: Hosting, tmp_path: Path) -> None:
    bed = hosting.bed
    sid, port = await start_app(hosting, tmp_path)
    await hosting.api("PUT", f"/api/sessions/{sid}/preview", port=port)
    store = bed.live.ctx.store
    stranger = await store.accounts.create_user("otto")
    token = (await AccountService(store).issue_token(stranger.id, label="test")).token
    outsider = Person(await bed.live.ctx.gate.authenticate(token), token)
    asked = await hosting.api("GET", f"/api/sessions/{sid}/preview", outsider)
    assert asked.status_code == 404

    url = await link_of(hosting, sid, bed.viewer)
    user = url.removeprefix(f"{bed.live.url}/preview/{sid}/").split(".", 1)[0]
    forged = url.replace(f"/{user}.", f"/{outsider.id}.")
    other_session = await hosting.start()
    elsewhere = url.replace(f"/preview/{sid}/", f"/preview/{other_session}/")
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(url)).status_code == 200
        for wrong in (forged, elsewhere, url[:-3] + "xx/"):
            answer = await browser.get(wrong)
            assert answer.status_code == 404 and "app page" not in answer.text
        with pytest.raises(InvalidStatus) as caught:
            async with connect(ws_url(forged) + "echo"):
                pass
        assert caught.value.response.status_code == 403
        # A reader who leaves the workspace loses the preview with it.
        await store.directory.remove_member(bed.workspace_id, bed.viewer.id)
        assert (await browser.get(url)).status_code == 404


async def test_a_preview_reaches_only_ports_the_sessions_processes_listen_on(
    hosting: Hosting, tmp_path: Path
) -> None:
    """A writer declaring the port of another local service gets no way into it."""
    bed = hosting.bed
    sid, port = await start_app(hosting, tmp_path)
    with outside_service() as private:
        listed = await hosting.api("GET", f"/api/sessions/{sid}/preview/ports")
        assert port in listed.json()["ports"] and private not in listed.json()["ports"]
        path = f"/api/sessions/{sid}/preview"
        declared = await hosting.api("PUT", path, bed.member, port=private)
        assert declared.status_code == 200
        url = on_live(hosting, declared.json()["url"])
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(url)
            assert answer.status_code == 502
            assert "private service" not in answer.text and f"listens on {private}" in answer.text
            with pytest.raises(InvalidStatus):
                async with connect(ws_url(url) + "echo"):
                    pass
            # Nothing of the session listens on a free port either: 502 again.
            await hosting.api("PUT", f"/api/sessions/{sid}/preview", port=free_port())
            assert (await browser.get(url)).status_code == 502


async def trace_cli(hosting: Hosting, *args: str) -> str:
    """The installed ``trace`` command, as the owner, against the test's server."""
    env = {**os.environ, "TRACE_URL": hosting.bed.live.url, "TRACE_TOKEN": hosting.bed.owner.token}
    command = str(Path(sys.executable).parent / "trace")
    done = await asyncio.create_subprocess_exec(
        command, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await done.communicate()
    assert done.returncode == 0, err.decode()
    return out.decode()


async def test_the_cli_shows_the_ports_declares_one_and_prints_the_link(
    hosting: Hosting, tmp_path: Path
) -> None:
    sid, port = await start_app(hosting, tmp_path)
    undeclared = await trace_cli(hosting, "session", "preview", sid)
    assert f"has no preview; its processes listen on: {port}" in undeclared
    printed = await trace_cli(hosting, "session", "preview", sid, str(port))
    url = printed.splitlines()[0]
    assert f"/preview/{sid}/" in url and f"port {port}" in printed
    async with httpx.AsyncClient() as browser:
        page = await browser.get(on_live(hosting, url) + "from-the-cli")
        assert page.text.startswith("app page /from-the-cli")


async def test_a_slow_app_is_a_504_and_a_huge_answer_a_502(
    hosting: Hosting, tmp_path: Path
) -> None:
    sid, port = await start_app(hosting, tmp_path)
    await hosting.api("PUT", f"/api/sessions/{sid}/preview", port=port)
    url = await link_of(hosting, sid, hosting.bed.viewer)
    async with httpx.AsyncClient(timeout=30) as browser:
        slow = await browser.get(url + "slow")  # the test server waits 5 s for its bridges
        assert slow.status_code == 504 and "did not answer" in slow.text
        big = await browser.get(url + "big")
        assert big.status_code == 502 and "over 4 MiB" in big.text
        assert (await browser.get(url + "still-up")).status_code == 200


async def test_a_preview_websocket_closes_when_the_bridge_goes_away(
    hosting: Hosting, tmp_path: Path
) -> None:
    sid, port = await start_app(hosting, tmp_path)
    await hosting.api("PUT", f"/api/sessions/{sid}/preview", port=port)
    url = await link_of(hosting, sid, hosting.bed.viewer)
    async with connect(ws_url(url) + "echo") as ws:
        await ws.send("before")
        assert await ws.recv() == "before"
        runtime_id = hosting.bridge.runtime_id
        assert runtime_id is not None
        await hosting.bed.live.ctx.bridges.broker.drop(runtime_id, 1012, "going away")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)


async def test_a_post_reaches_the_app_with_its_body_and_the_app_cannot_replace_the_sign_in(
    hosting: Hosting, tmp_path: Path
) -> None:
    sid, port = await start_app(hosting, tmp_path, ECHO_APP)
    await hosting.api("PUT", f"/api/sessions/{sid}/preview", port=port)
    url = await link_of(hosting, sid, hosting.bed.member)
    async with httpx.AsyncClient() as browser:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        sent = await browser.post(url + "form", content=b"name=mia&\x00bytes", headers=form)
        assert sent.status_code == 201
        assert sent.content == b"POST application/x-www-form-urlencoded name=mia&\x00bytes"
        cookies = sent.headers.get_list("set-cookie")
        assert cookies == ["app_session=1; Path=/"]  # not the app's trace_token
