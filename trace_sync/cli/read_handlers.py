"""The handlers of :mod:`trace_sync.cli.reads` (they load pycrdt and the sync client)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlencode

from pycrdt import Array, Doc, Map, Text

from trace_sync.cli.client import CliError, connect
from trace_sync.cli.follow import follow_io
from trace_sync.cli.output import show, show_one
from trace_sync.cli.watch import line
from trace_sync.client.blocking import BlockingApiClient


def run_transcript(args: argparse.Namespace) -> None:
    client = connect(args)
    items = list(client.items(f"/api/sessions/{args.id}/transcript", limit=None))
    if not args.follow:
        if args.json:
            show(items, [], as_json=True)
        else:
            for item in items:
                print(line(item["entry"]))
        return
    printed = {str(i["entry"].get("id")) for i in items if not i["entry"].get("streaming")}
    for item in items:
        if str(item["entry"].get("id")) in printed:
            _entry(item["n"], item["entry"], args.json)
    follow_io(client, client.get(f"/api/sessions/{args.id}"), _new_entries(printed, args.json))


def _new_entries(printed: set[str], as_json: bool) -> Any:
    def on_change(doc: Doc[Any]) -> bool:
        base = _sealed_transcript(doc)
        for i, raw in enumerate(list(doc.get("transcript", type=Array))):
            if not isinstance(raw, dict) or raw.get("streaming") or raw.get("id") in printed:
                continue
            printed.add(str(raw.get("id")))
            _entry(base + i, raw, as_json)
        return False

    return on_change


def _sealed_transcript(doc: Doc[Any]) -> int:
    refs = [r for r in doc.get("segments", type=Array) if isinstance(r, dict)]
    return max((r["first"] + r["count"] for r in refs if r.get("kind") == "transcript"), default=0)


def _entry(n: int, entry: dict[str, Any], as_json: bool) -> None:
    print(json.dumps({"n": n, "entry": entry}) if as_json else line(entry))


def run_output(args: argparse.Namespace) -> None:
    client = connect(args)
    tid = args.terminal or _tool_terminal(client, args.id)
    path = f"/api/sessions/{args.id}/terminals/{tid}/output"
    chunks = list(client.items(path, limit=None))
    if args.json and not args.follow:
        show(chunks, [], as_json=True)
        return
    at = 0
    for chunk in chunks:
        _chunk(chunk["offset"], chunk["text"], args.json)
        at = chunk["offset"] + len(chunk["text"])
    if args.follow:
        session = client.get(f"/api/sessions/{args.id}")
        follow_io(client, session, _new_output(tid, at, args.json))


def _new_output(tid: str, at: int, as_json: bool) -> Any:
    printed = [at]

    def on_change(doc: Doc[Any]) -> bool:
        info = doc.get("terminals", type=Map).get(tid)
        window = doc.get("output", type=Map).get(tid)
        if not isinstance(info, dict) or not isinstance(window, Text):
            return False
        start, text = int(info.get("sealed_chars", 0)), str(window)
        skip = max(0, printed[0] - start)
        if len(text) > skip:
            _chunk(start + skip, text[skip:], as_json)
            printed[0] = start + len(text)
        return info.get("state") == "exited"

    return on_change


def _chunk(offset: int, text: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"offset": offset, "text": text}))
    else:
        sys.stdout.write(text)


def _tool_terminal(client: BlockingApiClient, sid: str) -> str:
    terminals = list(client.items(f"/api/sessions/{sid}/terminals"))
    tools = [t for t in terminals if t["kind"] == "tool"] or terminals
    if not tools:
        raise CliError(f"session {sid} has no terminal yet")
    return str(tools[0]["id"])


def run_files(args: argparse.Namespace) -> None:
    files = list(connect(args).items(f"/api/sessions/{args.id}/changes"))
    show(files, ["path", "status", "added", "removed", "old_path"], args.json)


def run_diff(args: argparse.Namespace) -> None:
    client = connect(args)
    if args.checkpoint is None:
        if not args.path:
            raise CliError("name a file (`trace session files ID` lists them), or --checkpoint N")
        changes = [client.get(f"/api/sessions/{args.id}/diff?{urlencode({'path': args.path})}")]
    else:
        query = f"?{urlencode({'path': args.path})}" if args.path else ""
        url = f"/api/sessions/{args.id}/checkpoints/{args.checkpoint}/diff{query}"
        changes = list(client.items(url))
    if args.json:
        show(changes, [], as_json=True)
        return
    for change in changes:
        body = change.get("diff") or change.get("summary") or "(binary or no diff)"
        print(body.rstrip("\n"))


def run_checkpoints(args: argparse.Namespace) -> None:
    made = list(connect(args).items(f"/api/sessions/{args.id}/checkpoints"))
    rows = [c | {"commit": c["commit"][:12]} for c in made] if not args.json else made
    show(rows, ["n", "label", "commit", "at"], args.json)


def run_timeline(args: argparse.Namespace) -> None:
    events = list(connect(args).items(f"/api/sessions/{args.id}/timeline"))
    rows = events if args.json else [e | {"detail": _detail(e["payload"])} for e in events]
    show(rows, ["at", "kind", "actor_id", "detail"], args.json)


def _detail(payload: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in payload.items())[:80]


def run_terminal(args: argparse.Namespace) -> None:
    client = connect(args)
    base = f"/api/sessions/{args.id}/terminals"
    verb = args.verb or "list"
    if verb == "list":
        show(list(client.items(base)), ["id", "title", "kind", "state", "opened_by"], args.json)
    elif verb == "open":
        opened = client.post(base, {})
        show_one(opened, ["terminal_id", "session_id", "runtime_id"], args.json)
        if not args.json:
            print(f"type into it: trace session terminal {args.id} send {opened['terminal_id']}")
    else:
        if not args.terminal:
            raise CliError(f"which terminal? trace session terminal {args.id} {verb} TID")
        if verb == "send":
            text = (args.text if args.text is not None else sys.stdin.read()).replace("\\n", "\n")
            client.post(f"{base}/{args.terminal}/input", {"data": text})
        else:
            client.delete(f"{base}/{args.terminal}")
        print(json.dumps({"terminal_id": args.terminal, verb: True}) if args.json else "done")
