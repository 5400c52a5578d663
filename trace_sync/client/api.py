"""The HTTP client for ``/api`` (async, httpx), shared by the app and the CLI.

Errors come back as the contract's: the server's ``{"error": {code, message}}``
becomes the matching :class:`~trace_sync.contract.errors.TraceError` with the
server's message; a server that cannot be reached is :class:`Unreachable`
(the app's outbox keeps such commands for later, and never keeps a refusal).

Commands carry an ``Idempotency-Key``; a command whose connection broke is
retried with the same key, so it runs at most once however often it is sent.
The CLI, which runs no event loop, uses it through
:class:`~trace_sync.client.blocking.BlockingApiClient`.

>>> async with ApiClient.local() as api:
...     me = await api.me()
...     session = await api.post(f"/api/sessions/{sid}/pause")
"""

from __future__ import annotations

import functools
import os
import ssl
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import httpx

from trace_sync.contract import local_files
from trace_sync.contract.errors import ERROR_BY_CODE, ERROR_BY_STATUS, TraceError, Unauthorized

#: Methods that change something: they carry an idempotency key.
COMMANDS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
#: Attempts for a command whose connection failed mid-way (same idempotency key).
COMMAND_ATTEMPTS = 3


class Unreachable(TraceError):
    """The server did not answer (down, network lost, timed out): try again later."""

    code = "unreachable"


def new_key() -> str:
    """A fresh idempotency key."""
    return uuid.uuid4().hex


class ApiClient:
    """``async with ApiClient(server_url, token) as api``; helpers for what the app asks often."""

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        trust_env: bool = True,
    ) -> None:
        """``trust_env=False`` leaves proxies and CA bundles from the environment
        to ``transport`` (the blocking client's does its own)."""
        self.server_url = server_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=self.server_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
            trust_env=trust_env,
            verify=_tls(trust_env),
        )

    @classmethod
    def local(
        cls, server: str | None = None, token: str | None = None, **options: Any
    ) -> ApiClient:
        """A client for ``server``/``token``, else ``$TRACE_URL``/``$TRACE_TOKEN``,
        else the local server (the one that announced itself, whatever its port)
        and its token file; ``options`` as for the constructor."""
        url, folder = local_files.locate()
        server = server or url
        token = token or os.environ.get("TRACE_TOKEN") or local_files.read_token_file(folder)
        if not token:
            raise Unauthorized(
                f"no token: pass --token, set TRACE_TOKEN, or start the server once "
                f"so {folder / local_files.TOKEN_FILE} exists"
            )
        return cls(server, token, **options)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, Any] | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One request; the decoded JSON reply (``None`` when empty).

        A command is sent with ``key`` (a fresh one if none) as its idempotency key."""
        command = method.upper() in COMMANDS
        headers = dict(headers or {}) | ({"Idempotency-Key": key or new_key()} if command else {})
        query = {k: v for k, v in (params or {}).items() if v is not None} or None
        attempts = COMMAND_ATTEMPTS if command else 1
        for attempt in range(attempts):
            try:
                response = await self._http.request(
                    method, path, json=body, params=query, headers=headers
                )
                break
            except httpx.TransportError as exc:
                # Not connected at all: the command was never sent, and the server is down.
                if attempt == attempts - 1 or isinstance(exc, httpx.ConnectError):
                    message = f"cannot reach the server at {self.server_url}: {exc}"
                    raise Unreachable(message) from exc
        if response.is_error:
            raise _error(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TraceError(f"{method} {path} did not answer with JSON") from exc

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.call("POST", path, body)

    async def patch(self, path: str, body: dict[str, Any]) -> Any:
        return await self.call("PATCH", path, body)

    async def put(self, path: str, body: dict[str, Any]) -> Any:
        return await self.call("PUT", path, body)

    async def delete(self, path: str) -> Any:
        """What the server says it removed (RFC 7240 ``Prefer``), or None."""
        return await self.call("DELETE", path, headers={"Prefer": "return=representation"})

    async def items(self, path: str, limit: int | None = None, **params: Any) -> AsyncIterator[Any]:
        """Every item of a paged list (at most ``limit``), following ``next_cursor``."""
        cursor: str | None = None
        count = 0
        while True:
            page = await self.get(path, **params, cursor=cursor)
            if isinstance(page, list):  # endpoints that predate paging
                page = {"items": page, "next_cursor": None}
            for item in page["items"]:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def all(self, path: str, limit: int | None = None, **params: Any) -> list[Any]:
        """:meth:`items` as a list."""
        return [item async for item in self.items(path, limit, **params)]

    # -- queries the app makes -----------------------------------------------------

    async def me(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.get("/api/me")
        return result

    async def sessions(self, workspace_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """Every session of a workspace you may see (all pages), most recent first."""
        return await self.all(f"/api/workspaces/{workspace_id}/sessions", status=status)

    async def search(self, workspace_id: str, q: str) -> list[dict[str, Any]]:
        page = await self.get(f"/api/workspaces/{workspace_id}/search", q=q)
        return list(page["items"])

    async def repos(self, workspace_id: str) -> list[dict[str, Any]]:
        return await self.all(f"/api/workspaces/{workspace_id}/repos")

    async def members(self, workspace_id: str) -> list[dict[str, Any]]:
        return await self.all(f"/api/workspaces/{workspace_id}/members")


def _error(response: httpx.Response) -> TraceError:
    """The contract's error for an error reply, with the server's message."""
    try:
        error = response.json()["error"]
        message, code = str(error["message"]), str(error["code"])
    except (ValueError, KeyError, TypeError):
        message, code = f"HTTP {response.status_code}: {response.text[:200]}", ""
    kind = ERROR_BY_CODE.get(code) or ERROR_BY_STATUS.get(response.status_code, TraceError)
    return kind(message)


@functools.cache
def _tls(trust_env: bool) -> ssl.SSLContext:
    """The process's TLS context for API clients: making one reads the CA bundle
    (about 25 ms here), and every web tab's app makes its own clients."""
    return httpx.create_ssl_context(trust_env=trust_env)
