"""Session terminals, checkpoints, merge and files: each forwarded to the hosting bridge.

Worktree operations return the bridge's answer as it gave it (409 when no
bridge hosts the session or it does not answer in time).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trace_sync.api.bodies import read_body, reply
from trace_sync.api.credentials import person_of
from trace_sync.api.endpoints import Endpoint
from trace_sync.api.runtime_models import (
    CheckpointIn,
    FileIn,
    MergeIn,
    TerminalIn,
    TerminalInputIn,
    TerminalOut,
    TerminalResizeIn,
    UpdateIn,
)
from trace_sync.services.bridges.wiring import BridgeServices


def _bridges(request: Request) -> BridgeServices:
    bridges: BridgeServices = request.app.state.ctx.bridges
    return bridges


def _answer(result: Any) -> Response:
    return JSONResponse(result if isinstance(result, dict) else {"result": result})


async def open_terminal(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, TerminalIn)
    sid = request.path_params["sid"]
    opened = await _bridges(request).terminals.open(actor, sid, body.cols, body.rows)
    out = TerminalOut(terminal_id=opened.terminal_id, session_id=sid, runtime_id=opened.runtime_id)
    return reply(out, 201)


async def terminal_input(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, TerminalInputIn)
    sid, tid = request.path_params["sid"], request.path_params["tid"]
    await _bridges(request).terminals.input(actor, sid, tid, body.data)
    return Response(status_code=204)


async def resize_terminal(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, TerminalResizeIn)
    sid, tid = request.path_params["sid"], request.path_params["tid"]
    await _bridges(request).terminals.resize(actor, sid, tid, body.cols, body.rows)
    return Response(status_code=204)


async def close_terminal(request: Request) -> Response:
    actor = await person_of(request)
    sid, tid = request.path_params["sid"], request.path_params["tid"]
    await _bridges(request).terminals.close(actor, sid, tid)
    return Response(status_code=204)


async def checkpoint(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, CheckpointIn)
    sid = request.path_params["sid"]
    return _answer(await _bridges(request).worktrees.checkpoint(actor, sid, body.label))


async def restore(request: Request) -> Response:
    actor = await person_of(request)
    sid, n = request.path_params["sid"], request.path_params["n"]
    return _answer(await _bridges(request).worktrees.restore(actor, sid, n))


async def merge(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, MergeIn)
    sid = request.path_params["sid"]
    return _answer(await _bridges(request).worktrees.merge(actor, sid, body.strategy))


async def push(request: Request) -> Response:
    actor = await person_of(request)
    return _answer(await _bridges(request).worktrees.push(actor, request.path_params["sid"]))


async def fetch(request: Request) -> Response:
    actor = await person_of(request)
    return _answer(await _bridges(request).worktrees.fetch(actor, request.path_params["sid"]))


async def update(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, UpdateIn)
    sid = request.path_params["sid"]
    return _answer(await _bridges(request).worktrees.update(actor, sid, body.mode, body.hand_off))


async def read_file(request: Request) -> Response:
    actor = await person_of(request)
    sid, path = request.path_params["sid"], request.path_params["path"]
    return _answer(await _bridges(request).worktrees.read_file(actor, sid, path))


async def write_file(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, FileIn)
    sid, path = request.path_params["sid"], request.path_params["path"]
    return _answer(await _bridges(request).worktrees.write_file(actor, sid, path, body.content))


_SESSION = "/api/sessions/{sid}"
_TERMINAL = f"{_SESSION}/terminals/{{tid}}"
_JSON = "application/json"

endpoints = [
    Endpoint.of_request(
        "POST",
        f"{_SESSION}/terminals",
        open_terminal,
        "Open a terminal in the session's worktree (on its bridge)",
        body=TerminalIn,
        response=TerminalOut,
        status=201,
    ),
    Endpoint.of_request(
        "POST",
        f"{_TERMINAL}/input",
        terminal_input,
        "Type into a terminal",
        body=TerminalInputIn,
        status=204,
    ),
    Endpoint.of_request(
        "POST",
        f"{_TERMINAL}/resize",
        resize_terminal,
        "Resize a terminal",
        body=TerminalResizeIn,
        status=204,
    ),
    Endpoint.of_request("DELETE", _TERMINAL, close_terminal, "Close a terminal", status=204),
    Endpoint.of_request(
        "POST",
        f"{_SESSION}/checkpoints",
        checkpoint,
        "Take a checkpoint now (the bridge's answer)",
        body=CheckpointIn,
        media_type=_JSON,
    ),
    Endpoint.of_request(
        "POST",
        f"{_SESSION}/checkpoints/{{n:int}}/restore",
        restore,
        "Restore files and conversation to a checkpoint (the bridge's answer)",
        media_type=_JSON,
    ),
    Endpoint.of_request(
        "POST",
        f"{_SESSION}/merge",
        merge,
        "Merge, squash or rebase the session's branch into its base (the bridge's answer)",
        body=MergeIn,
        media_type=_JSON,
    ),
    Endpoint.of_request(
        "POST",
        f"{_SESSION}/push",
        push,
        "Push the session's branch to its repo's remote (the bridge's answer)",
        media_type=_JSON,
    ),
    Endpoint.of_request(
        "POST",
        f"{_SESSION}/fetch",
        fetch,
        "Fetch the session's branch and base from the remote; where the branch stands now",
        media_type=_JSON,
    ),
    Endpoint.of_request(
        "POST",
        f"{_SESSION}/update",
        update,
        "Bring the base branch into the session's branch; conflicts listed (the bridge's answer)",
        body=UpdateIn,
        media_type=_JSON,
    ),
    Endpoint.of_request(
        "GET",
        f"{_SESSION}/files/{{path:path}}",
        read_file,
        "Read a file of the worktree (confined to it)",
        media_type=_JSON,
    ),
    Endpoint.of_request(
        "PUT",
        f"{_SESSION}/files/{{path:path}}",
        write_file,
        "Write a file of the worktree (confined to it)",
        body=FileIn,
        media_type=_JSON,
    ),
]
