"""A small HTTP client for ``/api``: finds the local server and token by itself.

Commands carry an ``Idempotency-Key``; a command whose connection broke is
retried with the same key, so it runs at most once however often it is sent.

    api = ApiClient.local()
    session = api.post(f"/api/sessions/{sid}/pause")
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from trace_sync.errors import TraceError
from trace_sync.services.local_mode import read_token_file
from trace_sync.settings import Settings

#: Attempts for a command whose connection failed mid-way (same idempotency key).
COMMAND_ATTEMPTS = 3


class ApiError(TraceError):
    """The server refused a request, or could not be reached (``status`` None)."""

    code = "api_error"

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = code


class ApiClient:
    def __init__(self, server: str, token: str) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self._http = httpx.Client(
            base_url=self.server, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    @classmethod
    def local(cls, server: str | None = None, token: str | None = None) -> ApiClient:
        """A client for ``server``/``token``, else ``$TRACE_URL``/``$TRACE_TOKEN``,
        else the local server and its token file."""
        settings = Settings.from_env()
        server = server or os.environ.get("TRACE_URL") or settings.base_url
        token = token or os.environ.get("TRACE_TOKEN") or read_token_file(settings.data_dir)
        if not token:
            raise ApiError(
                f"no token: pass --token, set TRACE_TOKEN, or start the server once "
                f"so {settings.data_dir / 'local-token'} exists"
            )
        return cls(server, token)

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=_query(params))

    def items(self, path: str, limit: int | None = None, **params: Any) -> Iterator[Any]:
        """Every item of a paged list, following ``next_cursor``."""
        cursor: str | None = None
        count = 0
        while True:
            page = self.get(path, **params, cursor=cursor)
            for item in page["items"]:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield item
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call("POST", path, body=body, key=str(uuid.uuid4()))

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PATCH", path, body=body, key=str(uuid.uuid4()))

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PUT", path, body=body, key=str(uuid.uuid4()))

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path, key=str(uuid.uuid4()))

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        attempts = COMMAND_ATTEMPTS if key else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(
                    method, path, json=body, params=params, headers=headers
                )
                break
            except httpx.TransportError as exc:
                if attempt == attempts - 1 or isinstance(exc, httpx.ConnectError):
                    raise ApiError(f"cannot reach the server at {self.server}: {exc}") from exc
        if response.is_error:
            raise _error(response)
        return response.json() if response.content else None


def _query(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        message = f"{error['message']} ({response.status_code} {error['code']})"
        return ApiError(message, response.status_code, error["code"])
    except (ValueError, KeyError, TypeError):
        return ApiError(f"HTTP {response.status_code}: {response.text[:200]}", response.status_code)
