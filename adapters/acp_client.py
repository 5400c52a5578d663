"""The client side of ACP: ``session/update`` as transcript entries, permission
requests as approvals (or answered by the permission mode), files inside the
worktree only."""

from __future__ import annotations

import difflib
from typing import Any

from trace_sync.bridge.git.files import read_file, write_file
from trace_sync.bridge.tools.interface import ApprovalResolved
from trace_sync.bridge.tools.jsonrpc import INVALID_PARAMS, JsonRpcRun, RpcFault
from trace_sync.bridge.tools.run import entry_id, in_worktree, now, shown_path
from trace_sync.contract.errors import TraceError
from trace_sync.docs.entries import (
    ApprovalDetail,
    ApprovalRequest,
    AssistantText,
    FileChangeNote,
    Plan,
    Thinking,
    ToolCall,
    ToolResult,
)

STATUS = {"pending": "pending", "in_progress": "running", "completed": "done", "failed": "failed"}
QUIET = {
    "user_message_chunk",
    "available_commands_update",
    "current_mode_update",
    "config_option_update",
    "session_info_update",
    "usage_update",
}
#: Which option kinds answer which decision, best first.
OPTIONS = {
    "allow": ("allow_once", "allow_always"),
    "allow_always": ("allow_always", "allow_once"),
    "deny": ("reject_once", "reject_always"),
}


class AcpClient(JsonRpcRun):
    replaying = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._calls: dict[str, ToolCall] = {}
        # What earlier updates said of a tool call (its kind, content with diffs): a
        # permission request may carry only the id and title.
        self._known: dict[str, dict[str, Any]] = {}
        self._text: tuple[str, type[AssistantText] | type[Thinking]] | None = None
        self._texts = 0

    # -- session/update ----------------------------------------------------------------

    async def on_notification(self, method: str, params: Any) -> None:
        if method != "session/update" or not isinstance(params, dict):
            await super().on_notification(method, params)
        elif not self.replaying:
            await self._update(params.get("update") or {})

    async def _update(self, update: dict[str, Any]) -> None:
        kind = update.get("sessionUpdate")
        if kind in ("agent_message_chunk", "agent_thought_chunk"):
            text = (update.get("content") or {}).get("text", "")
            await self._chunk(AssistantText if kind == "agent_message_chunk" else Thinking, text)
            return
        if kind in QUIET:
            return
        await self.end_streams()
        if kind in ("tool_call", "tool_call_update"):
            await self._tool_call(update)
        elif kind == "plan":
            steps = [f"[{e.get('status')}] {e.get('content')}" for e in update.get("entries") or []]
            await self.emit(Plan(id=entry_id(), at=now(), text="\n".join(steps)))
        else:
            await self.raw(update)

    async def _chunk(self, kind: type[AssistantText] | type[Thinking], text: str) -> None:
        if self._text is None or self._text[1] is not kind:
            await self.end_streams()
            self._texts += 1
            self._text = (f"text-{self._texts}", kind)
        await self.stream(self._text[0], str(text), kind)

    async def end_streams(self) -> None:
        if self._text is not None:
            key, kind = self._text
            self._text = None
            await self.finish(key, None, kind)

    async def _tool_call(self, update: dict[str, Any]) -> None:
        call_id = str(update.get("toolCallId"))
        facts = self._known.setdefault(call_id, {})
        facts.update({k: update[k] for k in ("kind", "content", "rawInput") if update.get(k)})
        known = self._calls.get(call_id)
        changes: dict[str, Any] = {"at": now()}
        if update.get("title") or known is None:
            changes["name"] = str(update.get("title") or update.get("kind") or "tool")
        if isinstance(update.get("rawInput"), dict):
            changes["input"] = update["rawInput"]
        if update.get("status") in STATUS:
            changes["status"] = STATUS[update["status"]]
        elif known is None:
            changes["status"] = "pending"
        call = known or ToolCall(id=entry_id(), at=now(), call_id=call_id, name="tool")
        call = call.model_copy(update=changes)
        self._calls[call_id] = call
        await self.emit(call)
        if call.status in ("done", "failed"):
            await self._tool_done(call, {**facts, **update})

    async def _tool_done(self, call: ToolCall, update: dict[str, Any]) -> None:
        self._calls.pop(call.call_id, None)
        self._known.pop(call.call_id, None)
        content = update.get("content") or []
        text = [_content_text(c) for c in content if c.get("type") != "diff"]
        output = "\n".join(text) or str(update.get("rawOutput") or "")
        await self.emit(
            ToolResult(
                id=entry_id(),
                at=now(),
                call_id=call.call_id,
                output=output,
                is_error=call.status == "failed",
            )
        )
        paths = [str(c.get("path")) for c in content if c.get("type") == "diff"]
        if paths and call.status == "done":
            await self.emit(
                FileChangeNote(id=entry_id(), at=now(), paths=[self._shown(p) for p in paths])
            )

    def _shown(self, path: str) -> str:
        return shown_path(self.context.cwd, path)

    # -- requests from the agent --------------------------------------------------------

    async def on_request(self, method: str, params: Any) -> Any:
        if not isinstance(params, dict):
            raise RpcFault(INVALID_PARAMS, "params must be an object")
        if method == "session/request_permission":
            return await self._permission(params)
        if method == "fs/read_text_file":
            return await self._fs_read(params)
        if method == "fs/write_text_file":
            return await self._fs_write(params)
        return await super().on_request(method, params)

    async def _permission(self, params: dict[str, Any]) -> dict[str, Any]:
        given = params.get("toolCall") or {}
        facts = self._known.get(str(given.get("toolCallId")), {})
        call = {**facts, **{k: v for k, v in given.items() if v}}
        options = params.get("options") or []
        request = _approval(call, options)
        automatic = self._by_mode(call)
        if automatic:
            await self.emit(ApprovalResolved(request.id, "allow", automatic=True))
            return _selected(options, "allow")
        tool_input = call.get("rawInput") or {}
        rule = f"{call.get('kind')}:{tool_input.get('command', '')}"
        answer = await self.ask(request, rule)
        if answer.by == "cancelled":
            return {"outcome": {"outcome": "cancelled"}}
        return _selected(options, answer.behavior)

    def _by_mode(self, call: dict[str, Any]) -> bool:
        mode = self.context.permission_mode
        return mode == "bypass" or (mode == "accept_edits" and call.get("kind") == "edit")

    def cancel_all(self) -> None:
        for request_id in list(self.pending):
            self.cancel_request(request_id)

    async def _fs_read(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            path = in_worktree(self.context.cwd, str(params.get("path", "")))
            text = (await read_file(self.context.cwd, path)).text
        except TraceError as exc:
            raise RpcFault(INVALID_PARAMS, str(exc)) from exc
        if text is None:
            raise RpcFault(INVALID_PARAMS, f"{params.get('path')} is not a text file")
        lines = text.splitlines(keepends=True)
        start = max(int(params.get("line") or 1) - 1, 0)
        limit = params.get("limit")
        chosen = lines[start : start + int(limit)] if limit else lines[start:]
        return {"content": "".join(chosen)}

    async def _fs_write(self, params: dict[str, Any]) -> None:
        try:
            path = in_worktree(self.context.cwd, str(params.get("path", "")))
            await write_file(self.context.cwd, path, str(params.get("content", "")))
        except TraceError as exc:
            raise RpcFault(INVALID_PARAMS, str(exc)) from exc


def _approval(call: dict[str, Any], options: list[dict[str, Any]]) -> ApprovalRequest:
    raw_input = call.get("rawInput")
    tool_input: dict[str, Any] = raw_input if isinstance(raw_input, dict) else {}
    locations = call.get("locations") or []
    diffs = [c for c in call.get("content") or [] if c.get("type") == "diff"]
    path = tool_input.get("file_path") or tool_input.get("path")
    path = path or (locations[0].get("path") if locations else None)
    command = tool_input.get("command")
    return ApprovalRequest(
        id=entry_id(),
        tool=str(call.get("kind") or "tool"),
        title=str(call.get("title") or "Allow this?"),
        input=tool_input,
        detail=ApprovalDetail(
            command=str(command) if command else None,
            path=str(path) if path else None,
            diff="".join(_diff(d) for d in diffs) or None,
        ),
        options=[str(o.get("name")) for o in options],
        at=now(),
    )


def _selected(options: list[dict[str, Any]], behavior: str) -> dict[str, Any]:
    by_kind = {str(o.get("kind")): str(o.get("optionId")) for o in options}
    for kind in OPTIONS.get(behavior, OPTIONS["deny"]):
        if kind in by_kind:
            return {"outcome": {"outcome": "selected", "optionId": by_kind[kind]}}
    return {"outcome": {"outcome": "cancelled"}}  # no option fits: the safe answer


def _diff(content: dict[str, Any]) -> str:
    old, new = str(content.get("oldText") or ""), str(content.get("newText") or "")
    name = str(content.get("path", "file")).rsplit("/", 1)[-1]
    lines = difflib.unified_diff(
        old.splitlines(True), new.splitlines(True), f"a/{name}", f"b/{name}"
    )
    return "".join(lines)


def _content_text(content: dict[str, Any]) -> str:
    if content.get("type") == "content":
        return str((content.get("content") or {}).get("text", ""))
    if content.get("type") == "diff":
        return _diff(content)
    return ""
