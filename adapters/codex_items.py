"""Codex app-server notifications and requests as transcript entries and approvals.

Items (``agentMessage``, ``reasoning``, ``commandExecution``, ``fileChange``,
``mcpToolCall``, ...) arrive as ``item/started`` → deltas → ``item/completed``;
a turn ends with ``turn/completed``. Token counts come from
``thread/tokenUsage/updated`` (``last`` is one model response; a turn's usage is
their sum, reported as it grows); cost is estimated from the price table.
"""

from __future__ import annotations

import json
from typing import Any

from trace_sync.bridge.tools.interface import ToolContext, TurnEnded, UsageSoFar
from trace_sync.bridge.tools.jsonrpc import JsonRpcRun
from trace_sync.bridge.tools.pricing import PriceTable
from trace_sync.bridge.tools.run import entry_id, now, shown_path
from trace_sync.docs.entries import (
    ApprovalDetail,
    ApprovalRequest,
    AssistantText,
    Decision,
    FileChangeNote,
    Plan,
    Question,
    Thinking,
    ToolCall,
    ToolResult,
)

#: Notifications with nothing for the transcript.
QUIET = {
    "thread/started",
    "thread/status/changed",
    "thread/settings/updated",
    "thread/name/updated",
    "account/rateLimits/updated",
    "remoteControl/status/changed",
    "turn/diff/updated",
    "turn/plan/updated",
    "item/plan/delta",
    "item/commandExecution/outputDelta",
    "item/fileChange/outputDelta",
    "item/fileChange/patchUpdated",
    "item/reasoning/summaryPartAdded",
    "mcpServer/startupStatus/updated",
    "skills/changed",
    "hook/started",
    "hook/completed",
}
STATUS = {"completed": "done", "failed": "failed", "declined": "denied", "inProgress": "running"}
DECISIONS = {"allow": "accept", "allow_always": "acceptForSession"}


class CodexItems(JsonRpcRun):
    def __init__(
        self, context: ToolContext, argv: list[str], env: dict[str, str], prices: PriceTable
    ) -> None:
        super().__init__(context, argv, env)
        self._prices = prices
        self._model: str | None = context.provider.model
        self._calls: dict[str, ToolCall] = {}
        self._changes: dict[str, list[dict[str, Any]]] = {}
        self._turn_tokens = [0, 0]

    async def on_notification(self, method: str, params: Any) -> None:
        handler = {
            "item/started": self._item_started,
            "item/completed": self._item_completed,
            "item/agentMessage/delta": self._message_delta,
            "item/reasoning/textDelta": self._reasoning_delta,
            "item/reasoning/summaryTextDelta": self._reasoning_delta,
            "thread/tokenUsage/updated": self._tokens,
            "turn/started": self._turn_started,
            "turn/completed": self._turn_completed,
            "error": self._error,
            "serverRequest/resolved": self._resolved,
        }.get(method)
        if handler is not None and isinstance(params, dict):
            await handler(params)
        elif method not in QUIET:
            await super().on_notification(method, params)

    # -- items -------------------------------------------------------------------------

    async def _item_started(self, params: dict[str, Any]) -> None:
        item = params.get("item") or {}
        kind = item.get("type")
        if kind in ("userMessage", "agentMessage", "reasoning", "plan", "contextCompaction"):
            return
        name, tool_input = _call_of(item)
        if kind == "fileChange":
            self._changes[str(item.get("id"))] = list(item.get("changes") or [])
        call = ToolCall(
            id=entry_id(), at=now(), call_id=str(item.get("id")), name=name, input=tool_input
        )
        self._calls[call.call_id] = call
        await self.emit(call)

    async def _message_delta(self, params: dict[str, Any]) -> None:
        await self.stream(str(params.get("itemId")), str(params.get("delta", "")), AssistantText)

    async def _reasoning_delta(self, params: dict[str, Any]) -> None:
        await self.stream(str(params.get("itemId")), str(params.get("delta", "")), Thinking)

    async def _item_completed(self, params: dict[str, Any]) -> None:
        item = params.get("item") or {}
        kind, item_id = item.get("type"), str(item.get("id"))
        if kind == "agentMessage":
            await self.finish(item_id, str(item.get("text", "")), AssistantText)
        elif kind == "reasoning":
            text = "\n".join(item.get("content") or item.get("summary") or [])
            if text or self.streaming(item_id):
                await self.finish(item_id, text or None, Thinking)
        elif kind == "plan":
            await self.emit(Plan(id=entry_id(), at=now(), text=str(item.get("text", ""))))
        elif item_id in self._calls:
            await self._call_completed(item)

    async def _call_completed(self, item: dict[str, Any]) -> None:
        call = self._calls.pop(str(item.get("id")))
        status = STATUS.get(str(item.get("status")), "done")
        await self.emit(call.model_copy(update={"status": status, "at": now()}))
        exit_code = item.get("exitCode")
        output = item.get("aggregatedOutput")
        if item.get("type") == "fileChange":
            output = "\n".join(str(c.get("diff", "")) for c in item.get("changes") or [])
        elif output is None:
            output = json.dumps(item.get("result") or item.get("error") or item.get("contentItems"))
        failed = status != "done" or (exit_code not in (None, 0))
        await self.emit(
            ToolResult(
                id=entry_id(),
                at=now(),
                call_id=call.call_id,
                output=str(output or ""),
                is_error=failed,
                exit_code=exit_code,
            )
        )
        if item.get("type") == "fileChange" and status == "done":
            paths = [self._shown(str(c.get("path"))) for c in item.get("changes") or []]
            await self.emit(FileChangeNote(id=entry_id(), at=now(), paths=paths))

    def _shown(self, path: str) -> str:
        return shown_path(self.context.cwd, path)

    # -- turns ---------------------------------------------------------------------------

    async def _tokens(self, params: dict[str, Any]) -> None:
        last = (params.get("tokenUsage") or {}).get("last") or {}
        self._turn_tokens[0] += int(last.get("inputTokens") or 0)
        self._turn_tokens[1] += int(last.get("outputTokens") or 0)
        await self.emit(UsageSoFar(self._prices.estimate(self._model, *self._turn_tokens)))

    async def _turn_started(self, params: dict[str, Any]) -> None:
        self._turn_tokens = [0, 0]

    async def _turn_completed(self, params: dict[str, Any]) -> None:
        turn = params.get("turn") or {}
        status = str(turn.get("status"))
        if status == "failed":
            await self.error(str((turn.get("error") or {}).get("message") or "the turn failed"))
        ended = TurnEnded(
            usage=self._prices.estimate(self._model, *self._turn_tokens),
            stop_reason="end_turn" if status == "completed" else status,
            tool_session_id=self.tool_session_id,
            tool_point=str(turn.get("id")),
        )
        await self.turn_ended(ended)

    async def _resolved(self, params: dict[str, Any]) -> None:
        # Codex settled one of its requests itself (an interrupt): stop waiting for a person.
        self.withdraw(params.get("requestId"))

    async def _error(self, params: dict[str, Any]) -> None:
        if not params.get("willRetry"):
            await self.error(str((params.get("error") or {}).get("message") or params))

    # -- requests ------------------------------------------------------------------------

    async def command_approval(self, params: dict[str, Any]) -> dict[str, Any]:
        command = str(params.get("command") or "")
        request = ApprovalRequest(
            id=entry_id(),
            tool="exec",
            title=f"Run {command}",
            at=now(),
            input={"command": command, "cwd": params.get("cwd")},
            detail=ApprovalDetail(
                command=command, path=params.get("cwd"), description=params.get("reason")
            ),
        )
        answer = await self.ask(request, f"exec:{command}")
        return {"decision": await self._decision(answer, str(params.get("itemId")))}

    async def file_approval(self, params: dict[str, Any]) -> dict[str, Any]:
        changes = self._changes.get(str(params.get("itemId")), [])
        paths = [self._shown(str(c.get("path"))) for c in changes]
        request = ApprovalRequest(
            id=entry_id(),
            tool="patch",
            title=f"Edit {', '.join(paths) or 'files'}",
            at=now(),
            input={"changes": changes},
            detail=ApprovalDetail(
                path=paths[0] if paths else None,
                description=params.get("reason"),
                diff="\n".join(str(c.get("diff", "")) for c in changes),
            ),
        )
        answer = await self.ask(request, "patch")
        return {"decision": await self._decision(answer, str(params.get("itemId")))}

    async def _decision(self, answer: Decision, item_id: str) -> str:
        choice = DECISIONS.get(answer.behavior, "decline")
        if choice == "decline" and item_id in self._calls:
            call = self._calls[item_id].model_copy(update={"status": "denied", "at": now()})
            self._calls[item_id] = call
            await self.emit(call)
        return choice

    async def user_input(self, params: dict[str, Any]) -> dict[str, Any]:
        questions = params.get("questions") or []
        first = questions[0] if questions else {}
        request = ApprovalRequest(
            id=entry_id(),
            kind="question",
            tool="request_user_input",
            at=now(),
            title=" / ".join(str(q.get("question", "")) for q in questions) or "A question",
            input={"questions": questions},
            options=[str(o.get("label")) for o in first.get("options") or []],
        )
        await self.emit(
            Question(
                id=request.id,
                at=request.at,
                request_id=request.id,
                text=request.title,
                options=request.options,
            )
        )
        answer = await self.ask(request)
        if answer.behavior == "deny":
            return {"answers": {}}
        chosen = answer.answer or (request.options[0] if request.options else "")
        return {"answers": {str(q.get("id")): {"answers": [chosen]} for q in questions}}


def _call_of(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = item.get("type")
    if kind == "commandExecution":
        return "exec", {"command": item.get("command"), "cwd": item.get("cwd")}
    if kind == "fileChange":
        changes = [
            {"path": c.get("path"), "kind": (c.get("kind") or {}).get("type")}
            for c in item.get("changes") or []
        ]
        return "patch", {"changes": changes}
    if kind == "mcpToolCall":
        return f"{item.get('server')}/{item.get('tool')}", {"arguments": item.get("arguments")}
    rest = {k: v for k, v in item.items() if k not in ("id", "type")}
    return str(kind), rest
