"""The API client for code that runs no event loop (the CLI).

Each call runs :class:`~trace_sync.client.api.ApiClient`'s coroutine to its
end on the calling thread, over httpx's blocking client: every request
completes without suspending, so no event loop is started. That spares a
CLI call asyncio and anyio's backend (about a third of its start-up), and
leaves the thread free to ``asyncio.run`` something else between calls
(``trace session watch`` does). Connections are reused from one call to the
next; proxies and CA bundles from the environment apply as in httpx.

>>> api = BlockingApiClient.local()
>>> session = api.post(f"/api/sessions/{sid}/pause")
"""

from __future__ import annotations

import weakref
from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx

from trace_sync.client.api import ApiClient

T = TypeVar("T")


class BlockingApiClient:
    """:class:`ApiClient`'s calls, each returning when its answer is there."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        # The CLI never closes its client: closing at exit releases its connections.
        self._close = weakref.finalize(self, _close, api)

    @classmethod
    def local(cls, server: str | None = None, token: str | None = None) -> BlockingApiClient:
        """See :meth:`ApiClient.local`."""
        return cls(ApiClient.local(server, token, transport=BlockingTransport(), trust_env=False))

    @property
    def server(self) -> str:
        return self.api.server_url

    @property
    def token(self) -> str:
        return self.api.token

    def __enter__(self) -> BlockingApiClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._close()

    def get(self, path: str, **params: Any) -> Any:
        return _finish(self.api.get(path, **params))

    def items(self, path: str, limit: int | None = None, **params: Any) -> Iterator[Any]:
        """Every item of a paged list (at most ``limit``), all pages fetched at once."""
        return iter(_finish(self.api.all(path, limit, **params)))

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return _finish(self.api.post(path, body))

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return _finish(self.api.patch(path, body))

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return _finish(self.api.put(path, body))

    def delete(self, path: str) -> Any:
        return _finish(self.api.delete(path))


class BlockingTransport(httpx.AsyncBaseTransport):
    """httpx's blocking client behind the async transport interface: a request
    is done when ``handle_async_request`` first returns, without ever waiting."""

    def __init__(self) -> None:
        self._http = httpx.Client()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self._http.send(request, stream=True)
        try:
            raw = b"".join(response.iter_raw())  # still encoded: the async side decodes
        finally:
            response.close()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        self._http.close()


def _finish(call: Coroutine[Any, Any, T]) -> T:
    """``call``'s result; it must not wait on an event loop (nothing here runs one)."""
    try:
        call.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    call.close()
    raise RuntimeError("the API client waited for an event loop; the blocking client has none")


def _close(api: ApiClient) -> None:
    _finish(api.aclose())
