"""Where sealed output goes: ``session/<sid>/log/<name>`` documents.

A recorder writes a segment through :class:`LogSegments`: ``open(name)``
yields an open :class:`LogSegment`; the recorder appends to its ``entries``
in a transaction and calls :meth:`LogSegment.flush` before it drops the
same output from the ``io`` document, so a person scrolling back never
finds a gap. A segment stays open while it fills (one connection, not one
per seal) and is closed when full or idle.

:class:`SyncLogSegments` is the bridge's implementation (one
:class:`~trace_sync.client.SyncClient` per open segment);
:class:`MemoryLogSegments` keeps them in this process (tests, and a
recorder with no server).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pycrdt import Array, Doc

from trace_sync.client.reconnect import Backoff, LinkState
from trace_sync.client.sync_client import SyncClient
from trace_sync.docs.layouts import SESSION_LOG
from trace_sync.docs.migrations import migrate
from trace_sync.docs.names import DocKind, DocName
from trace_sync.docs.typed import root_of

log = logging.getLogger(__name__)

#: The transaction origin of what a runtime records.
ORIGIN = "trace-runtime"

#: How long one wait for the server lasts before it is tried again (sealing
#: waits for a server that is down: output stays in the ``io`` window meanwhile).
SYNC_WAIT_S = 10.0


class LogSegment(Protocol):
    """An open segment document."""

    @property
    def doc(self) -> Doc[Any]: ...

    async def flush(self) -> None:
        """Return once everything written to :attr:`doc` has left for the server."""


class LogSegments(Protocol):
    """The log documents of one session."""

    def open(self, name: str) -> AbstractAsyncContextManager[LogSegment]:
        """Open segment ``name`` (new ones start empty), holding what the server has."""


def entries(doc: Doc[Any]) -> Array[Any]:
    """The ``entries`` root of a log document."""
    root: Array[Any] = root_of(doc, SESSION_LOG, "entries")
    return root


@dataclass(frozen=True)
class _SyncedSegment:
    client: SyncClient

    @property
    def doc(self) -> Doc[Any]:
        return self.client.doc

    async def flush(self) -> None:
        # A link lost during the flush carries the changes in its next
        # handshake, so wait until synced again and flush once more.
        while True:
            with contextlib.suppress(TimeoutError):
                await self.client.wait_synced(SYNC_WAIT_S)
                await self.client.flush(SYNC_WAIT_S)
                if self.client.state is LinkState.SYNCED:
                    return
            log.info(
                "waiting for the server to take a log segment", extra={"doc": self.client.name}
            )


class SyncLogSegments:
    """Segments of session ``session_id`` kept on the server with ``token``
    (a runtime token: only the runtime hosting a session may write them)."""

    def __init__(
        self, server_url: str, session_id: str, token: str, *, backoff: Backoff | None = None
    ) -> None:
        self._url = server_url
        self._session_id = session_id
        self._token = token
        self._backoff = backoff or Backoff()

    def doc_name(self, name: str) -> str:
        return str(DocName(DocKind.SESSION_LOG, session_id=self._session_id, segment=name))

    @asynccontextmanager
    async def open(self, name: str) -> AsyncIterator[LogSegment]:
        client = SyncClient(self._url, self.doc_name(name), self._token, backoff=self._backoff)
        async with client:
            segment = _SyncedSegment(client)
            await segment.flush()
            migrate(client.doc, DocKind.SESSION_LOG, origin=ORIGIN)
            yield segment
            await segment.flush()


@dataclass(frozen=True)
class _LocalSegment:
    doc: Doc[Any]

    async def flush(self) -> None:
        return None


class MemoryLogSegments:
    """Segments kept in this process: ``docs`` maps name -> document."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc[Any]] = {}

    @asynccontextmanager
    async def open(self, name: str) -> AsyncIterator[LogSegment]:
        doc = self.docs.setdefault(name, Doc())
        migrate(doc, DocKind.SESSION_LOG, origin=ORIGIN)
        yield _LocalSegment(doc)
