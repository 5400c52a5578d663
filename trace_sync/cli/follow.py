"""Following a session live over ``/sync``, and ending quietly.

:func:`documents` yields the session's ``session/<sid>`` and
``session/<sid>/io`` documents as they change. ``trace session watch`` prints
status and transcript from them; ``trace session transcript --follow`` and
``output --follow`` print what is there over HTTP, then what the runtime
adds, until the session ends (or Ctrl-C). A reader that goes away (``| head``)
ends the command with status 0 and no traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

from pycrdt import Doc, Map

from trace_sync.cli.client import CliError
from trace_sync.client.blocking import BlockingApiClient
from trace_sync.client.reconnect import LinkState
from trace_sync.client.sync_client import SyncClient

#: Statuses after which nothing more happens until someone acts.
ENDED = frozenset({"stopped", "archived", "failed"})

#: Called with the ``io`` document after each change; True when there is nothing more to wait for.
OnChange = Callable[[Doc[Any]], bool]


async def documents(
    api: BlockingApiClient, session: dict[str, Any]
) -> AsyncGenerator[tuple[Doc[Any], Doc[Any]], None]:
    """The session's meta and io documents once synced, then after every change.

    Raises :class:`CliError` once the server refuses either of them. Iterate it
    inside ``contextlib.aclosing`` so that leaving the loop closes both links."""
    names = session["documents"]
    changed = asyncio.Event()
    wake = lambda *_: changed.set()  # noqa: E731
    async with (
        SyncClient(api.server, names["session"], api.token, on_state=wake) as meta,
        SyncClient(api.server, names["io"], api.token, on_state=wake) as io,
    ):
        await meta.wait_synced()  # raises the server's refusal, if any
        await io.wait_synced()
        for client in (meta, io):
            client.doc.observe(wake)
        while True:
            yield meta.doc, io.doc
            for client in (meta, io):
                if client.state is LinkState.REFUSED:
                    raise CliError(f"the server closed {client.name} (code {client.close_code})")
            changed.clear()
            await changed.wait()


def status_of(meta: Doc[Any]) -> tuple[Any, Any]:
    """The session's status and the reason for it, as its meta document holds them."""
    facts = meta.get("meta", type=Map)
    return facts.get("status"), facts.get("reason")


def follow_io(api: BlockingApiClient, session: dict[str, Any], on_change: OnChange) -> None:
    asyncio.run(_follow(api, session, on_change))


async def _follow(api: BlockingApiClient, session: dict[str, Any], on_change: OnChange) -> None:
    async with aclosing(documents(api, session)) as changes:
        async for meta, io in changes:
            done = on_change(io)
            sys.stdout.flush()
            if done or status_of(meta)[0] in ENDED:
                return
