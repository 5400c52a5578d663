"""Live previews on the bridge: HTTP requests and websockets to a session's dev server.

The server asks with ``preview_*`` requests; the bridge connects only to a
loopback address (127.0.0.1 or ::1) on a port that a process marked with the
session (:mod:`.leftovers`) listens on, so a person who may read a session
cannot reach the bridge owner's other local services through its preview.
A websocket is a channel: frames from the server arrive as
``preview_ws_send`` requests, frames from the app leave as
``preview.ws_frame`` events, and ``preview.ws_closed`` says it ended (either
side closed, or the session stopped being hosted here).

Failures a browser should see as a gateway error are results, not errors:
``{"failure": "not_listening" | "unreachable" | "timeout" | "too_large", "message"}``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from trace_sync.bridge import leftovers
from trace_sync.contract.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

#: Largest response body sent back (base64 in one control frame of at most 8 MiB).
MAX_BODY = 4 * 1024 * 1024
#: Largest websocket message either way.
MAX_FRAME = 1024 * 1024
#: How long the app gets when the server does not say (it says: less than it waits).
TIMEOUT_S = 20.0

Notify = Callable[..., Awaitable[None]]


class Failure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    def result(self) -> dict[str, str]:
        return {"failure": self.kind, "message": str(self)}


def listening(session_id: str) -> dict[int, str]:
    """Port -> the loopback address to reach it, for every TCP port a process of
    the session listens on at a loopback or wildcard address. Blocking."""
    found: dict[int, str] = {}
    for process in leftovers.find(session_id):
        with contextlib.suppress(psutil.Error):
            for conn in process.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    host = _loopback_for(conn.laddr.ip)
                    if host is not None:
                        found.setdefault(conn.laddr.port, host)
    return found


def _loopback_for(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 4 and (ip.is_loopback or ip.is_unspecified):
        return "127.0.0.1"
    if ip.version == 6 and (ip.is_loopback or ip.is_unspecified):
        return "::1"
    return None  # listening only on another interface: not reached through a preview


@dataclass(eq=False)
class _Channel:
    session_id: str
    socket: ClientConnection
    task: asyncio.Task[None] | None = None
    closed_by_server: bool = False


@dataclass
class Previews:
    """The previews of every session this bridge hosts; ``notify(sid, kind, **payload)``
    sends an event to the server."""

    notify: Notify
    _channels: dict[str, _Channel] = field(default_factory=dict)

    async def request(self, session_id: str, op: str, args: dict[str, Any]) -> Any:
        if op == "preview_ports":
            return {"ports": sorted(await asyncio.to_thread(listening, session_id))}
        if op == "preview_http":
            return await self._answer(self.http(session_id, args))
        if op == "preview_ws_open":
            return await self._answer(self.open(session_id, args))
        if op == "preview_ws_send":
            return await self.send(session_id, args)
        if op == "preview_ws_close":
            return await self.close(session_id, str(args.get("channel", "")))
        raise InvalidInput(f"unknown preview operation {op}")

    async def _answer(self, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        try:
            return await work
        except Failure as failure:
            return failure.result()

    async def end(self, session_id: str) -> None:
        """The session is no longer hosted here: its websockets close."""
        for cid, channel in list(self._channels.items()):
            if channel.session_id == session_id:
                await self._drop(cid)

    # -- HTTP --------------------------------------------------------------------------

    async def http(self, session_id: str, args: dict[str, Any]) -> dict[str, Any]:
        url = await self._url("http", session_id, args)
        body = base64.b64decode(args.get("body") or "")
        headers = [(str(k), str(v)) for k, v in args.get("headers") or []]
        timeout = _timeout(args)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            try:
                method = str(args["method"])
                request = client.build_request(method, url, headers=headers, content=body or None)
                response = await client.send(request, stream=True)
                try:
                    data = await _read_bounded(response)
                finally:
                    await response.aclose()
            except httpx.TimeoutException as exc:
                raise Failure("timeout", f"the app did not answer within {timeout:g} s") from exc
            except httpx.HTTPError as exc:
                raise Failure("unreachable", f"the app could not be reached: {exc}") from exc
        return {
            "status": response.status_code,
            "headers": [[k, v] for k, v in response.headers.multi_items()],
            "body": base64.b64encode(data).decode(),
        }

    async def _url(self, scheme: str, session_id: str, args: dict[str, Any]) -> str:
        port = int(args["port"])
        target = str(args.get("target") or "/")
        if not target.startswith("/"):
            raise InvalidInput("a preview target is a path starting with /")
        ports = await asyncio.to_thread(listening, session_id)
        host = ports.get(port)
        if host is None:
            raise Failure("not_listening", f"no process of session {session_id} listens on {port}")
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{port}{target}"

    # -- websockets --------------------------------------------------------------------

    async def open(self, session_id: str, args: dict[str, Any]) -> dict[str, Any]:
        cid = str(args["channel"])
        url = await self._url("ws", session_id, args)
        protocols = [Subprotocol(str(p)) for p in args.get("subprotocols") or []] or None
        try:
            socket = await connect(
                url,
                subprotocols=protocols,
                additional_headers=[(str(k), str(v)) for k, v in args.get("headers") or []],
                max_size=MAX_FRAME,
                open_timeout=_timeout(args),
                compression=None,
                proxy=None,
            )
        except TimeoutError as exc:
            raise Failure("timeout", "the app did not accept the websocket in time") from exc
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise Failure("unreachable", f"the app refused the websocket ({status})") from exc
        except (OSError, InvalidHandshake) as exc:
            raise Failure("unreachable", f"the app could not be reached: {exc}") from exc
        channel = self._channels[cid] = _Channel(session_id, socket)
        channel.task = asyncio.create_task(self._pump(cid, channel), name=f"preview {cid}")
        return {"channel": cid, "subprotocol": socket.subprotocol}

    async def send(self, session_id: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channels.get(str(args.get("channel", "")))
        if channel is None or channel.session_id != session_id:
            raise NotFound("no such preview websocket")
        frame: str | bytes = (
            str(args["text"]) if "text" in args else base64.b64decode(args.get("data") or "")
        )
        with contextlib.suppress(ConnectionClosed):
            await channel.socket.send(frame)
        return {}

    async def close(self, session_id: str, cid: str) -> dict[str, Any]:
        channel = self._channels.get(cid)
        if channel is not None and channel.session_id == session_id:
            channel.closed_by_server = True
            await self._drop(cid)
        return {}

    async def _drop(self, cid: str) -> None:
        channel = self._channels.get(cid)
        if channel is None:
            return
        await channel.socket.close()
        if channel.task is not None:
            await asyncio.gather(channel.task, return_exceptions=True)

    async def _pump(self, cid: str, channel: _Channel) -> None:
        """The app's frames to the server, then one ``preview.ws_closed``."""
        sid = channel.session_id
        try:
            async for frame in channel.socket:
                if isinstance(frame, str):
                    await self.notify(sid, "preview.ws_frame", channel=cid, text=frame)
                else:
                    data = base64.b64encode(frame).decode()
                    await self.notify(sid, "preview.ws_frame", channel=cid, data=data)
        except (ConnectionClosed, OSError) as exc:
            log.info("a preview websocket ended", extra={"channel": cid, "why": str(exc)})
        except Exception as exc:  # the link is down: nothing more can be told
            log.warning("a preview websocket's frames were lost", exc_info=exc)
        finally:
            self._channels.pop(cid, None)
            await channel.socket.close()  # the server can no longer hear it (the link fell)
            if not channel.closed_by_server:
                code = channel.socket.close_code or 1000
                with contextlib.suppress(Exception):
                    await self.notify(sid, "preview.ws_closed", channel=cid, code=code)


def _timeout(args: dict[str, Any]) -> float:
    return min(float(args.get("timeout") or TIMEOUT_S), 120.0)


async def _read_bounded(response: httpx.Response) -> bytes:
    data = bytearray()
    async for chunk in response.aiter_raw():
        data += chunk
        if len(data) > MAX_BODY:
            raise Failure("too_large", f"the app's answer is over {MAX_BODY // 1024 // 1024} MiB")
    return bytes(data)
