"""Claude Code, headless: stream-json both ways with the SDK control protocol.

``claude -p --input-format stream-json --output-format stream-json --verbose
--include-partial-messages --permission-prompt-tool stdio``: prompts go in as
``user`` lines; the CLI asks permission with ``can_use_tool`` control requests,
which become approval requests (AskUserQuestion a question, ExitPlanMode a plan).
Checked against @anthropic-ai/claude-code 2.1.328.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.claude_requests import (
    EDIT_TOOLS,
    approval_request,
    permission_response,
    question_entry,
    rule_for,
)
from trace_sync.bridge.tools.interface import (
    Capabilities,
    ToolContext,
    TurnEnded,
    UsageSoFar,
    find_binary,
)
from trace_sync.bridge.tools.pricing import PriceTable, usage_note
from trace_sync.bridge.tools.run import ToolRunBase, entry_id, now, parse_json, shown_path
from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.docs.entries import (
    AssistantText,
    FileChangeNote,
    Plan,
    Thinking,
    ToolCall,
    ToolResult,
    UsageNote,
    UserPrompt,
)

MODES = {"ask": "default", "accept_edits": "acceptEdits", "bypass": "bypassPermissions"}
#: Known lines that carry nothing for the transcript.
QUIET = {"rate_limit_event", "keep_alive"}
QUIET_SYSTEM = {"status", "hook_started", "hook_response", "api_retry"}


class ClaudeCodeAdapter:
    name = "claude_code"
    capabilities = Capabilities(
        resume=True, fork=True, approvals=True, interrupt=True, cost=True, models=True, rewind=True
    )

    def __init__(self, binary: str | None = None, prices: PriceTable | None = None) -> None:
        self._configured = binary
        self._prices = prices or PriceTable.from_env()

    def binary(self) -> Path | None:
        return find_binary(self._configured, "claude")

    def available(self) -> bool:
        return self.binary() is not None

    def run(self, context: ToolContext) -> ClaudeCodeRun:
        binary = self.binary()
        if binary is None:
            raise NotFound("claude not found: install @anthropic-ai/claude-code or set its path")
        return ClaudeCodeRun(context, command(binary, context), environment(context), self._prices)


def command(binary: Path, context: ToolContext) -> list[str]:
    argv = [str(binary), "-p", "--output-format", "stream-json", "--verbose"]
    argv += ["--input-format", "stream-json", "--include-partial-messages"]
    argv += ["--permission-prompt-tool", "stdio"]
    argv += ["--permission-mode", MODES[context.permission_mode]]
    if context.provider.model:
        argv += ["--model", context.provider.model]
    if context.resume_id:
        argv += ["--resume", context.resume_id]
        if context.resume_at:
            # Only the messages up to that chain entry (a hidden flag of 2.1.328).
            argv += ["--resume-session-at", context.resume_at]
        if context.fork or context.resume_at:
            # A rewind forks too: the original conversation file stays as it was.
            argv.append("--fork-session")
    return argv


def environment(context: ToolContext) -> dict[str, str]:
    env = {}
    if context.provider.base_url:
        env["ANTHROPIC_BASE_URL"] = context.provider.base_url
    key = context.provider.key()
    if key:
        env["ANTHROPIC_API_KEY"] = key
    return env


def saved_conversation(session_id: str, env: Mapping[str, str]) -> bool:
    """Whether Claude saved conversation ``session_id`` (a tool killed before it
    wrote its first entries has none): ``<config>/projects/<dir>/<id>.jsonl``."""
    config = env.get("CLAUDE_CONFIG_DIR") or str(
        Path(env.get("HOME", "~")).expanduser() / ".claude"
    )
    return any(Path(config, "projects").glob(f"*/{session_id}.jsonl"))


class ClaudeCodeRun(ToolRunBase):
    tool = "claude_code"

    def __init__(
        self, context: ToolContext, argv: list[str], env: dict[str, str], prices: PriceTable
    ) -> None:
        super().__init__(context, argv, env)
        self._prices = prices
        self._controls: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._control_ids = 0
        self._calls: dict[str, ToolCall] = {}
        self._requests: dict[str, str] = {}  # claude request id -> approval id
        self._open_block: dict[str, int] = {}  # message id -> block index streaming now
        self._message = ""  # the message being streamed
        self._model: str | None = context.provider.model
        self._cost_seen: float | None = None
        #: This turn's tokens so far by API message (every content block repeats them).
        self._turn_tokens: dict[str, tuple[int, int]] = {}
        self._point: str | None = None
        self._interrupted = False

    # -- ToolRun -------------------------------------------------------------------

    async def _start(self) -> None:
        resume_id = self.context.resume_id
        if resume_id and not saved_conversation(resume_id, {**os.environ, **self.context.env}):
            # Claude would start, then exit on "No conversation found": say so at once.
            raise NotFound(f"claude has no saved conversation {resume_id} to resume")
        await self._control({"subtype": "initialize"}, timeout=90)

    async def send(self, text: str, *, prompt_id: str | None = None) -> None:
        await self.emit(UserPrompt(id=entry_id(), at=now(), text=text, prompt_id=prompt_id))
        # Sent during a turn, Claude takes the text into that turn: still one turn open.
        self.turns_open = 1
        message = {"role": "user", "content": text}
        await self.write_json({"type": "user", "message": message, "parent_tool_use_id": None})

    async def interrupt(self) -> None:
        if self.turns_open:
            self._interrupted = True
            await self._control({"subtype": "interrupt"})

    async def _control(self, request: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        self._control_ids += 1
        request_id = f"trace-{self._control_ids}"
        future = self._controls[request_id] = asyncio.get_running_loop().create_future()
        try:
            line = {"type": "control_request", "request_id": request_id, "request": request}
            await self.write_json(line)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise Conflict(f"claude did not answer {request['subtype']} in time") from exc
        finally:
            self._controls.pop(request_id, None)

    # -- output ----------------------------------------------------------------------

    async def _on_line(self, line: bytes) -> None:
        message = parse_json(line)
        kind = message.get("type") if isinstance(message, dict) else None
        handler = {
            "control_response": self._on_control_response,
            "control_request": self._on_control_request,
            "control_cancel_request": self._on_cancel,
            "system": self._on_system,
            "stream_event": self._on_stream_event,
            "assistant": self._on_assistant,
            "user": self._on_user,
            "result": self._on_result,
        }.get(str(kind))
        if kind in ("assistant", "stream_event", "user"):
            self.turns_open = 1  # a queued prompt may start a turn of its own
        if handler is not None:
            await handler(message)
        elif kind not in QUIET:
            await self.raw(message if kind else line)

    async def _on_control_response(self, message: dict[str, Any]) -> None:
        response = message.get("response") or {}
        future = self._controls.get(str(response.get("request_id")))
        if future is None or future.done():
            return
        if response.get("subtype") == "error":
            future.set_exception(Conflict(f"claude refused: {response.get('error')}"))
        else:
            future.set_result(response.get("response") or {})

    async def _on_control_request(self, message: dict[str, Any]) -> None:
        request = message.get("request") or {}
        if request.get("subtype") == "can_use_tool":
            self.spawn(self._permission(str(message.get("request_id")), request))
            return
        await self.raw(message)
        error = {
            "subtype": "error",
            "request_id": message.get("request_id"),
            "error": "unsupported",
        }
        await self.write_json({"type": "control_response", "response": error})

    async def _on_cancel(self, message: dict[str, Any]) -> None:
        approval = self._requests.get(str(message.get("request_id")))
        if approval is not None:
            self.cancel_request(approval)

    async def _on_system(self, message: dict[str, Any]) -> None:
        subtype = message.get("subtype")
        if subtype == "init":
            self._model = message.get("model") or self._model
            await self.session_started(str(message.get("session_id")))
        elif subtype not in QUIET_SYSTEM:
            await self.raw(message)

    async def _on_stream_event(self, message: dict[str, Any]) -> None:
        event = message.get("event") or {}
        if event.get("type") == "message_start":
            self._message = str((event.get("message") or {}).get("id"))
        msg_id = str(message.get("api_message_id") or self._message)
        if event.get("type") == "content_block_start":
            self._open_block[msg_id] = int(event.get("index", 0))
        elif event.get("type") == "content_block_delta":
            delta = event.get("delta") or {}
            key = f"{msg_id}:{event.get('index', 0)}"
            if delta.get("type") == "text_delta":
                await self.stream(key, str(delta.get("text", "")), AssistantText)
            elif delta.get("type") == "thinking_delta":
                await self.stream(key, str(delta.get("thinking", "")), Thinking)

    async def _on_assistant(self, message: dict[str, Any]) -> None:
        body = message.get("message") or {}
        self._model = body.get("model") or self._model
        self._point = message.get("uuid") or self._point
        msg_id = str(body.get("id"))
        await self._tokens_so_far(msg_id, body.get("usage"))
        for block in body.get("content") or []:
            key = f"{msg_id}:{self._open_block.get(msg_id, -1)}"
            if block.get("type") == "text":
                await self.finish(key, str(block.get("text", "")), AssistantText)
            elif block.get("type") == "thinking":
                await self.finish(key, str(block.get("thinking", "")), Thinking)
            elif block.get("type") == "tool_use":
                await self._tool_use(block)
            else:
                await self.raw(block)

    async def _tokens_so_far(self, msg_id: str, usage: Any) -> None:
        """Each model response's usage as it comes: the session's cost moves during
        the turn (estimated; the turn's result then gives Claude's own figure)."""
        if not isinstance(usage, dict):
            return
        tokens = (_inputs(usage), int(usage.get("output_tokens") or 0))
        if self._turn_tokens.get(msg_id) == tokens:
            return
        self._turn_tokens[msg_id] = tokens
        inputs, outputs = (sum(t[n] for t in self._turn_tokens.values()) for n in (0, 1))
        await self.emit(UsageSoFar(self._prices.estimate(self._model, inputs, outputs)))

    async def _tool_use(self, block: dict[str, Any]) -> None:
        call = ToolCall(
            id=entry_id(),
            at=now(),
            call_id=str(block.get("id")),
            name=str(block.get("name")),
            input=block.get("input") or {},
        )
        self._calls[call.call_id] = call
        await self.emit(call)

    async def _on_user(self, message: dict[str, Any]) -> None:
        self._point = message.get("uuid") or self._point
        content = (message.get("message") or {}).get("content")
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_result":
                await self._tool_result(block)

    async def _tool_result(self, block: dict[str, Any]) -> None:
        call_id = str(block.get("tool_use_id"))
        is_error = bool(block.get("is_error"))
        result = ToolResult(
            id=entry_id(),
            at=now(),
            call_id=call_id,
            output=_text(block.get("content")),
            is_error=is_error,
        )
        call = self._calls.pop(call_id, None)
        if call is not None:
            status = call.status if call.status == "denied" else ("failed" if is_error else "done")
            await self.emit(call.model_copy(update={"status": status, "at": now()}))
        await self.emit(result)
        if call is not None and call.name in EDIT_TOOLS and not is_error:
            await self._file_changed(call)

    async def _file_changed(self, call: ToolCall) -> None:
        raw = call.input.get("file_path") or call.input.get("notebook_path")
        if isinstance(raw, str):
            shown = shown_path(self.context.cwd, raw)
            await self.emit(FileChangeNote(id=entry_id(), at=now(), paths=[shown]))

    async def _on_result(self, message: dict[str, Any]) -> None:
        interrupted, self._interrupted = self._interrupted, False
        stop = "interrupted" if interrupted else str(message.get("stop_reason") or "end_turn")
        if message.get("is_error") and not interrupted:
            stop = str(message.get("subtype") or "error")
            errors = message.get("errors") or [message.get("result") or stop]
            await self.error("; ".join(str(e) for e in errors))
        total = message.get("total_cost_usd")
        self._turn_tokens = {}
        ended = TurnEnded(
            usage=self._usage(message.get("usage") or {}, total),
            stop_reason=stop,
            tool_session_id=self.tool_session_id,
            tool_point=self._point,
            session_cost_usd=float(total) if total is not None else None,
        )
        await self.turn_ended(ended)

    def _usage(self, usage: dict[str, Any], total: Any) -> UsageNote:
        inputs = _inputs(usage)
        outputs = int(usage.get("output_tokens") or 0)
        seen, self._cost_seen = self._cost_seen, (float(total) if total is not None else None)
        if total is None or (seen is None and self.context.resume_id):
            # Claude's total covers the whole (resumed) session: this turn's share is unknown.
            return self._prices.estimate(self._model, inputs, outputs)
        return usage_note(inputs, outputs, round(float(total) - (seen or 0.0), 6), estimated=False)

    # -- approvals ---------------------------------------------------------------------

    async def _permission(self, claude_id: str, request: dict[str, Any]) -> None:
        name = str(request.get("tool_name"))
        call = self._calls.get(str(request.get("tool_use_id")))
        if not request.get("input") and call is not None:
            # ExitPlanMode arrives with its input stripped; the tool use still has the plan.
            request = {**request, "input": call.input}
        tool_input = request.get("input") or {}
        approval = approval_request(entry_id(), request, self.context.cwd)
        self._requests[claude_id] = approval.id
        if approval.kind == "question":
            await self.emit(question_entry(approval))
        elif approval.kind == "plan":
            text = str(tool_input.get("plan", ""))
            await self.emit(Plan(id=entry_id(), at=now(), text=text, request_id=approval.id))
        call_id = str(request.get("tool_use_id"))
        await self._mark(call_id, "pending")
        try:
            answer = await self.ask(approval, rule_for(name, tool_input))
        finally:
            self._requests.pop(claude_id, None)
        response = permission_response(approval, request, answer)
        await self._mark(call_id, "denied" if response["behavior"] == "deny" else "running")
        reply = {"subtype": "success", "request_id": claude_id, "response": response}
        with contextlib.suppress(Conflict):  # claude is gone: the reader reports its exit
            await self.write_json({"type": "control_response", "response": reply})

    async def _mark(self, call_id: str, status: str) -> None:
        call = self._calls.get(call_id)
        if call is not None and call.status != status:
            self._calls[call_id] = call.model_copy(update={"status": status, "at": now()})
            await self.emit(self._calls[call_id])


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


def _inputs(usage: dict[str, Any]) -> int:
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(int(usage.get(k) or 0) for k in keys)
