"""The app's HTTP client for ``/api`` (async, httpx).

Errors come back as the project's own: the server's ``{"error": {code,
message}}`` becomes the matching :class:`~trace_sync.errors.TraceError` with
the server's message; a server that cannot be reached is :class:`Unreachable`
(the outbox keeps such commands for later, and never keeps a refusal).

>>> async with ApiClient("http://127.0.0.1:4000", token) as api:
...     me = await api.me()
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

import httpx

from trace_sync.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    StoreError,
    TooLarge,
    TraceError,
    Unauthorized,
)

#: Statuses whose error is the server's answer to the command itself.
_ERRORS: dict[int, type[TraceError]] = {
    400: InvalidInput,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: InvalidInput,
    429: RateLimited,
    503: StoreError,
}


class Unreachable(TraceError):
    """The server did not answer (down, network lost, timed out): try again later."""

    code = "unreachable"


def new_key() -> str:
    """A fresh idempotency key."""
    return uuid.uuid4().hex


class ApiClient:
    """``async with ApiClient(server_url, token) as api``; one method per endpoint the app uses."""

    def __init__(self, server_url: str, token: str, *, timeout: float = 15.0) -> None:
        self.server_url = server_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=self.server_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, key: str | None = None
    ) -> Any:
        """One request; the decoded JSON reply (``None`` for 204)."""
        headers = {"Idempotency-Key": key} if key else {}
        try:
            response = await self._http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach {self.server_url}: {exc}") from exc
        if response.is_error:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TraceError(f"{method} {path} did not answer with JSON") from exc

    async def get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return await self.call("GET", f"{path}?{httpx.QueryParams(query)}" if query else path)

    # -- queries -------------------------------------------------------------------

    async def me(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.get("/api/me")
        return result

    async def sessions(self, workspace_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """Every session of a workspace you may see (all pages), most recent first."""
        return await self._all(f"/api/workspaces/{workspace_id}/sessions", status=status)

    async def search(self, workspace_id: str, q: str) -> list[dict[str, Any]]:
        page = await self.get(f"/api/workspaces/{workspace_id}/search", q=q)
        return list(page["items"])

    async def repos(self, workspace_id: str) -> list[dict[str, Any]]:
        return await self._all(f"/api/workspaces/{workspace_id}/repos")

    async def members(self, workspace_id: str) -> list[dict[str, Any]]:
        return await self._all(f"/api/workspaces/{workspace_id}/members")

    async def _all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await self.get(path, cursor=cursor, **params)
            if isinstance(page, list):  # endpoints that predate paging
                return items + page
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


def _error(response: httpx.Response) -> TraceError:
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    return _ERRORS.get(response.status_code, TraceError)(message)
