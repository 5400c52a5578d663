"""Any Agent Client Protocol agent over stdio (Gemini CLI, claude-code-acp, codex-acp, ...).

``initialize`` → ``session/new`` (or ``session/load`` to resume) →
``session/prompt`` per turn, ``session/cancel`` to interrupt. The agent's
``session/update`` notifications become transcript entries,
``session/request_permission`` an approval, and its ``fs/*`` calls are served
inside the worktree only (see :mod:`adapters.acp_client`).
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.acp_client import AcpClient
from trace_sync.bridge.tools.interface import Capabilities, ToolContext, TurnEnded, find_binary
from trace_sync.bridge.tools.jsonrpc import RpcError
from trace_sync.bridge.tools.pricing import PriceTable
from trace_sync.bridge.tools.run import entry_id, now
from trace_sync.contract.errors import Conflict, InvalidInput, NotFound
from trace_sync.docs.entries import UserPrompt

PROTOCOL_VERSION = 1
CLIENT_CAPABILITIES = {"fs": {"readTextFile": True, "writeTextFile": True}, "terminal": False}


class AcpAdapter:
    """``command`` starts the agent; the provider's base URL and key are handed to it
    in the environment variables it reads (e.g. ``ANTHROPIC_BASE_URL``)."""

    name = "acp"
    capabilities = Capabilities(resume=True, fork=False, approvals=True, interrupt=True)

    def __init__(
        self,
        command: Sequence[str] | str = ("gemini", "--experimental-acp"),
        base_url_variable: str | None = None,
        api_key_variable: str | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.command:
            raise InvalidInput("an ACP agent needs a command")
        self._variables = (base_url_variable, api_key_variable)
        self._prices = prices or PriceTable.from_env()

    def binary(self) -> Path | None:
        return find_binary(self.command[0])

    def available(self) -> bool:
        return self.binary() is not None

    def run(self, context: ToolContext) -> AcpRun:
        binary = self.binary()
        if binary is None:
            raise NotFound(f"{self.command[0]} not found: install the ACP agent or set its command")
        if context.fork:
            raise InvalidInput("ACP agents cannot fork a session")
        argv = [str(binary), *self.command[1:]]
        return AcpRun(context, argv, self._environment(context), self._prices)

    def _environment(self, context: ToolContext) -> dict[str, str]:
        base_url_variable, api_key_variable = self._variables
        env = {}
        if base_url_variable and context.provider.base_url:
            env[base_url_variable] = context.provider.base_url
        key = context.provider.key()
        if api_key_variable and key:
            env[api_key_variable] = key
        return env


class AcpRun(AcpClient):
    tool = "acp"
    exit_grace = 0.5  # agents commonly ignore the end of stdin; SIGTERM is their normal stop

    def __init__(
        self, context: ToolContext, argv: list[str], env: dict[str, str], prices: PriceTable
    ) -> None:
        super().__init__(context, argv, env)
        self._prices = prices
        self._one_turn = asyncio.Lock()

    async def _start(self) -> None:
        init = await self.request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "clientCapabilities": CLIENT_CAPABILITIES},
        )
        can_load = bool(((init or {}).get("agentCapabilities") or {}).get("loadSession"))
        params = {"cwd": str(self.context.cwd), "mcpServers": []}
        if self.context.resume_id is None:
            result = await self.request("session/new", params)
            await self.session_started(str(result.get("sessionId")))
            return
        if not can_load:
            raise Conflict("this ACP agent cannot load an earlier session")
        self.replaying = True  # session/load replays the history as updates: shown already
        try:
            await self.request("session/load", {"sessionId": self.context.resume_id, **params})
        finally:
            self.replaying = False
        await self.session_started(self.context.resume_id)

    async def send(self, text: str, *, prompt_id: str | None = None) -> None:
        await self.emit(UserPrompt(id=entry_id(), at=now(), text=text, prompt_id=prompt_id))
        self.turns_open += 1
        self.spawn(self._prompt(text))

    async def _prompt(self, text: str) -> None:
        params = {"sessionId": self.tool_session_id, "prompt": [{"type": "text", "text": text}]}
        try:
            async with self._one_turn:  # ACP has one prompt in flight: later ones queue here
                result = await self.request("session/prompt", params, timeout=None)
        except RpcError as exc:
            await self.error(str(exc))
            result = {"stopReason": "error"}
        except Conflict:
            return  # the agent exited: its end is reported by the reader
        await self.end_streams()
        await self.turn_ended(self._ended(result or {}))

    def _ended(self, result: dict[str, Any]) -> TurnEnded:
        usage = result.get("usage") or {}
        tokens = int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
        return TurnEnded(
            usage=self._prices.estimate(None, *tokens),
            stop_reason=str(result.get("stopReason") or "end_turn"),
            tool_session_id=self.tool_session_id,
        )

    async def interrupt(self) -> None:
        if self.turns_open:
            self.cancel_all()  # the protocol wants pending permission requests answered "cancelled"
            await self.notify("session/cancel", {"sessionId": self.tool_session_id})
