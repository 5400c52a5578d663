"""``trace session watch ID``: live status and transcript in the terminal.

It syncs ``session/<sid>`` (status) and ``session/<sid>/io`` (transcript)
over ``/sync`` like any Yjs client, prints what is new after every change,
and exits when the session stops (or on Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from pycrdt import Array, Map

from trace_sync.cli.client import CliError, connect
from trace_sync.client.api import ApiClient
from trace_sync.client.sync_client import LinkState, SyncClient
from trace_sync.docs.entries import TranscriptEntry

#: Statuses after which nothing more happens until someone acts.
ENDED = frozenset({"stopped", "archived", "failed"})


def run(args: argparse.Namespace) -> None:
    client = connect(args)
    session = client.get(f"/api/sessions/{args.id}")
    asyncio.run(follow(client, session, Printer(args.json)))


async def follow(api: ApiClient, session: dict[str, Any], printer: Printer) -> None:
    """Print the session's status and transcript as they change, until it ends."""
    documents = session["documents"]
    changed = asyncio.Event()
    wake = lambda *_: changed.set()  # noqa: E731
    async with (
        SyncClient(api.server, documents["session"], api.token, on_state=wake) as meta,
        SyncClient(api.server, documents["io"], api.token, on_state=wake) as io,
    ):
        await meta.wait_synced()  # raises the server's refusal, if any
        await io.wait_synced()
        for client in (meta, io):
            client.doc.observe(wake)
        while True:
            status = meta.doc.get("meta", type=Map).get("status")
            printer.status(status)
            printer.transcript(list(io.doc.get("transcript", type=Array)))
            if status in ENDED:
                return
            for client in (meta, io):
                if client.state is LinkState.REFUSED:
                    raise CliError(f"the server closed {client.name} (code {client.close_code})")
            changed.clear()
            await changed.wait()


class Printer:
    """Prints each status once and each transcript entry once it is complete."""

    def __init__(self, as_json: bool) -> None:
        self._json = as_json
        self._status: object = None
        self._printed: set[str] = set()

    def status(self, status: object) -> None:
        if status != self._status:
            self._status = status
            self._emit({"status": status}, f"-- {status}")

    def transcript(self, entries: list[Any]) -> None:
        for raw in entries:
            if not isinstance(raw, dict) or raw.get("streaming") or raw.get("id") in self._printed:
                continue
            self._printed.add(str(raw.get("id")))
            self._emit({"entry": raw}, line(raw))

    def _emit(self, record: dict[str, Any], text: str) -> None:
        print(json.dumps(record) if self._json else text, flush=True)


def line(raw: dict[str, Any]) -> str:
    """One transcript entry as a line of text (unknown or bad entries as raw)."""
    try:
        entry = TranscriptEntry.model_validate(raw)
    except ValueError:
        return f"[{raw.get('kind', '?')}] {json.dumps(raw)[:200]}"
    fields = entry.model_dump()
    kind = entry.kind
    if kind == "user_prompt":
        return f"> {fields['text']}"
    if kind in ("assistant_text", "thinking", "plan"):
        return fields["text"] if kind == "assistant_text" else f"({kind}) {fields['text']}"
    if kind == "tool_call":
        return f"* {fields['name']} {json.dumps(fields['input'])[:160]}"
    if kind == "tool_result":
        first = (fields["output"].splitlines() or [""])[0]
        return f"  -> {'error: ' if fields['is_error'] else ''}{first[:160]}"
    if kind == "question":
        return f"? {fields['text']}"
    if kind == "error":
        return f"error: {fields['message']}"
    if kind == "usage":
        return f"(usage) {fields['input_tokens']} in, {fields['output_tokens']} out"
    return f"[{kind}]"
