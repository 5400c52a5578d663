"""Real JS Yjs clients (yjs 13.6.33 + y-websocket 3.1.0 in Node) against the server."""

from __future__ import annotations

import asyncio
from typing import Any

from pycrdt import Text

from tests.support.js_client import JsClient
from tests.support.live import LiveServer
from tests.support.py_client import PyClient
from tests.support.state import state_vector
from tests.sync.conftest import new_session


async def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_two_js_clients_and_a_pycrdt_client_converge(server: LiveServer) -> None:
    room = f"session/{await new_session(server)}/notes"
    async with (
        JsClient(server.ws_url, room, server.token) as js1,
        JsClient(server.ws_url, room, server.token) as js2,
        PyClient(f"{server.ws_url}/sync/{room}", server.token) as py,
    ):
        for js in (js1, js2):
            await js.wait_for_event(lambda e: e["event"] == "synced")
        await py.synced.wait()
        await js1.insert(0, "one ")
        await js2.insert(0, "two ")
        py.edit(0, "three ")

        async def converged() -> bool:
            a, b = await js1.report(), await js2.report()
            same_text = len(a["text"]) == 14 and a["text"] == b["text"] == str(py.text)
            vectors = [
                state_vector(v) for v in (a["stateVector"], b["stateVector"], py.doc.get_state())
            ]
            return same_text and vectors[0] == vectors[1] == vectors[2]

        await eventually(converged)


async def test_an_offline_js_edit_merges_after_reconnect(server: LiveServer) -> None:
    room = f"session/{await new_session(server)}/notes"
    async with (
        JsClient(server.ws_url, room, server.token) as js,
        PyClient(f"{server.ws_url}/sync/{room}", server.token) as py,
    ):
        await js.wait_for_event(lambda e: e["event"] == "synced")
        await js.send({"op": "disconnect"})
        await js.wait_for_event(lambda e: e["event"] == "status" and e["status"] == "disconnected")
        await js.insert(0, "written offline ")
        py.edit(0, "meanwhile ")
        await js.send({"op": "reconnect"})

        async def merged() -> bool:
            report = await js.report()
            return "written offline" in str(py.text) and report["text"] == str(py.text)

        await eventually(merged)


async def test_a_late_js_joiner_gets_state_and_presence(server: LiveServer) -> None:
    # How fast a join is, is measured beside a reference in bench/reconnect_storm.py;
    # a wall-clock bound here failed on a loaded machine (1.14 s).
    room = f"session/{await new_session(server)}/notes"
    async with JsClient(server.ws_url, room, server.token) as first:
        await first.wait_for_event(lambda e: e["event"] == "synced")
        await first.insert(0, "already here")
        await first.send({"op": "presence", "state": {"name": "ada"}})
        first_id = (await first.report())["clientId"]
        owner = await server.ctx.store.accounts.get_user(server.ctx.owner.user_id)
        held = server.ctx.sync.rooms.get(room)
        assert held is not None

        async def server_has_it() -> bool:
            return str(held.doc.get("t", type=Text)) == "already here" and len(held.awareness) == 1

        await eventually(server_has_it)
        async with JsClient(server.ws_url, room, server.token) as late:

            async def caught_up() -> bool:
                report = await late.report()
                seen = report["awareness"].get(str(first_id))
                return report["text"] == "already here" and seen == {
                    "name": owner.name,
                    "user_id": owner.id,
                }

            await eventually(caught_up)


async def test_a_bad_token_stops_the_js_client_with_4401(server: LiveServer) -> None:
    room = f"session/{await new_session(server)}/notes"
    async with JsClient(server.ws_url, room, "trace_t_bad_" + "x" * 43) as js:
        await js.wait_for_event(lambda e: e["event"] == "close" and e["code"] == 4401)
        assert (await js.report())["shouldConnect"] is False  # y-websocket gave up for good
