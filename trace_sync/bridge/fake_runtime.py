"""A fake runtime: the bridge's side of one hosted session, with no bridge behind it.

It serves the tests of the layers above the bridge (services, API, app): they
need a session whose ``io`` document a runtime writes, not a runtime process.
It holds a real runtime token and writes ``session/<sid>/io`` (and log
segments) over ``/sync`` into the running server, through
:mod:`trace_sync.docs.typed`, exactly as a bridge would::

    async with FakeRuntime(server_url, sid, runtime_id, token) as runtime:
        with runtime.io.doc.transaction(origin=runtime.origin):
            runtime.report("running")
            runtime.append("transcript", AssistantText(id="1", at=now, text="hi"))
        await runtime.flush()

The bridge's own tests, and every end-to-end journey, use the real bridge.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from trace_sync.client.sync_client import SyncClient
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_IO

ORIGIN = "fake-runtime"


class FakeRuntime:
    """``async with FakeRuntime(url, sid, runtime_id, token)``: ``io`` is synced on entry."""

    def __init__(
        self, server_url: str, session_id: str, runtime_id: str, token: str, *, origin: str = ORIGIN
    ) -> None:
        self.server_url = server_url
        self.session_id = session_id
        self.runtime_id = runtime_id
        self.origin = origin
        self._token = token
        self.io = SyncClient(server_url, f"session/{session_id}/io", token)
        self._segments: list[SyncClient] = []

    async def __aenter__(self) -> FakeRuntime:
        await self.io.__aenter__()
        await self.io.wait_synced()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for segment in reversed(self._segments):
            await segment.__aexit__(*exc)
        await self.io.__aexit__(*exc)

    async def segment(self, name: str) -> SyncClient:
        """The synced log segment ``session/<sid>/log/<name>``, open until the block ends."""
        client = SyncClient(self.server_url, f"session/{self.session_id}/log/{name}", self._token)
        await client.__aenter__()
        self._segments.append(client)
        await client.wait_synced()
        return client

    def report(self, status: str, **fields: Any) -> None:
        """The runtime's own report in io ``runtime``: its status, a heartbeat, ``fields``."""
        now = {"heartbeat_at": datetime.now(UTC).isoformat()}
        mine = {"runtime_id": self.runtime_id, "status": status} | now | fields
        with self.io.doc.transaction(origin=self.origin):
            typed.root_of(self.io.doc, SESSION_IO, "runtime").update(mine)

    def append(self, root: str, entry: BaseModel) -> None:
        """Append ``entry`` to the io Array root ``root`` (validated against its model)."""
        typed.append(self.io.doc, SESSION_IO, root, entry, origin=self.origin)

    def put(self, root: str, key: str, entry: BaseModel) -> None:
        """Set ``key`` of the io Map root ``root`` to ``entry`` (validated against its model)."""
        typed.put(self.io.doc, SESSION_IO, root, key, entry, origin=self.origin)

    def update(self, root: str, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the io Map root ``root`` (usage, runtime fields)."""
        with self.io.doc.transaction(origin=self.origin):
            typed.root_of(self.io.doc, SESSION_IO, root).update(values)

    async def flush(self) -> None:
        """Wait until everything written so far is handed to the server."""
        await self.io.flush()
        for segment in self._segments:
            await segment.flush()
