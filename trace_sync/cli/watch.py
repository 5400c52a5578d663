"""``trace session watch ID``: live status and transcript in the terminal.

It syncs ``session/<sid>`` (status) and ``session/<sid>/io`` (transcript)
over ``/sync`` like any Yjs client, prints what is new after every change
(a failed status with its reason), and exits when the session stops (or on
Ctrl-C). With ``--until idle,stopped`` it exits 0 once the session is in one
of those statuses, and 1 with the reason if it ends otherwise (failed, say).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from contextlib import aclosing
from typing import Any

from pycrdt import Array

from trace_sync.cli.client import CliError, connect
from trace_sync.cli.follow import ENDED, documents, status_of
from trace_sync.client.blocking import BlockingApiClient
from trace_sync.docs.entries import TranscriptEntry

#: What ends ``--until``: no wanted status can follow these without someone acting.
STUCK = ENDED | {"interrupted"}


def run(args: argparse.Namespace) -> None:
    client = connect(args)
    session = client.get(f"/api/sessions/{args.id}")
    asyncio.run(follow(client, session, Printer(args.json), until=args.until))


async def follow(
    api: BlockingApiClient,
    session: dict[str, Any],
    printer: Printer,
    until: frozenset[str] | None = None,
) -> None:
    """Print the session's status and transcript as they change, until it ends
    (or, with ``until``, until it is in one of those statuses)."""
    async with aclosing(documents(api, session)) as changes:
        async for meta, io in changes:
            status, reason = status_of(meta)
            printer.status(status, reason)
            printer.transcript(list(io.get("transcript", type=Array)))
            if until is not None and status in until:
                return
            if until is not None and status in STUCK:
                raise CliError(_stuck(session["id"], status, reason))
            if status in ENDED:
                return


class Printer:
    """Prints each status once and each transcript entry once it is complete."""

    def __init__(self, as_json: bool) -> None:
        self._json = as_json
        self._status: object = None
        self._printed: set[str] = set()

    def status(self, status: object, reason: object = None) -> None:
        if (status, reason) != self._status:
            self._status = (status, reason)
            record = {"status": status} | ({"reason": reason} if reason else {})
            self._emit(record, f"-- {status}{_why(reason)}")

    def transcript(self, entries: list[Any]) -> None:
        for raw in entries:
            if not isinstance(raw, dict) or raw.get("streaming") or raw.get("id") in self._printed:
                continue
            self._printed.add(str(raw.get("id")))
            self._emit({"entry": raw}, line(raw))

    def _emit(self, record: dict[str, Any], text: str) -> None:
        print(json.dumps(record) if self._json else text, flush=True)


def _why(reason: object) -> str:
    return f": {reason}" if reason else ""


def _stuck(sid: str, status: object, reason: object) -> str:
    """Why ``--until`` gave up, and the step that moves the session on."""
    said = f"session {sid} is {status}{_why(reason)}"
    if status == "interrupted":
        return f"{said}\n`trace session rerun {sid}` runs it again; `resume` goes on from there"
    if status == "failed":
        return f"{said}\n`trace session resume {sid}` starts it again"
    return said


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
