"""Codex through ``codex app-server``: JSON-RPC over stdio, one thread per run.

``initialize`` → ``thread/start`` (or ``thread/resume`` / ``thread/fork``) →
``turn/start`` per prompt; ``item/*`` notifications become transcript entries;
the server's ``item/commandExecution/requestApproval``,
``item/fileChange/requestApproval`` and ``item/tool/requestUserInput`` requests
wait for a person. Shapes checked with ``codex app-server generate-ts`` of
@openai/codex 0.169.0. Codex reports tokens only: cost is estimated.

Each run gets a temporary directory of its own (``TMPDIR``): Codex keeps the
registry of the mount targets its bubblewrap sandbox makes there, which in the
shared ``/tmp`` every Codex process of the user reads, locks and clears of
what it takes for stale. Runs sharing it under load saw an approved command
fail with ``bwrap: execvp codex-linux-sandbox``; a run's own is touched by no
other process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from adapters.codex_items import CodexItems
from trace_sync.bridge.tools.interface import Capabilities, ToolContext, find_binary
from trace_sync.bridge.tools.pricing import PriceTable
from trace_sync.bridge.tools.run import entry_id, now
from trace_sync.contract.errors import Conflict, NotFound
from trace_sync.docs.entries import UserPrompt

#: permission mode -> (approval policy, sandbox)
MODES = {
    "ask": ("untrusted", "workspace-write"),
    "accept_edits": ("on-request", "workspace-write"),
    "bypass": ("never", "danger-full-access"),
}
KEY_VARIABLE = "CODEX_PROVIDER_API_KEY"


class CodexAdapter:
    name = "codex"
    capabilities = Capabilities(
        resume=True, fork=True, approvals=True, interrupt=True, cost=False, models=True
    )

    def __init__(self, binary: str | None = None, prices: PriceTable | None = None) -> None:
        self._configured = binary
        self._prices = prices or PriceTable.from_env()

    def binary(self) -> Path | None:
        return find_binary(self._configured, "codex")

    def available(self) -> bool:
        return self.binary() is not None

    def run(self, context: ToolContext) -> CodexRun:
        binary = self.binary()
        if binary is None:
            raise NotFound("codex not found: install @openai/codex or set its path")
        argv = [str(binary), "app-server", *provider_overrides(context)]
        scratch = Path(tempfile.mkdtemp(prefix="trace-codex-"))
        env = environment(context) | bundled_sandbox_first(binary) | {"TMPDIR": str(scratch)}
        return CodexRun(context, argv, env, self._prices, scratch)


def provider_overrides(context: ToolContext) -> list[str]:
    """``-c`` options pointing Codex at the configured provider (no file is written)."""
    provider = context.provider
    if not provider.base_url:
        return []
    key_variable = provider.api_key_env or KEY_VARIABLE
    settings = {
        "model_provider": "trace",
        "model_providers.trace.name": "trace",
        "model_providers.trace.base_url": provider.base_url,
        "model_providers.trace.env_key": key_variable,
        "model_providers.trace.wire_api": "responses",
    }
    argv = []
    for key, value in settings.items():
        argv += ["-c", f"{key}={_toml_string(value)}"]
    return argv


def environment(context: ToolContext) -> dict[str, str]:
    provider = context.provider
    if provider.api_key is not None and not provider.api_key_env:
        return {KEY_VARIABLE: provider.api_key.get_secret_value()}
    return {}


def bundled_sandbox_first(binary: Path) -> dict[str, str]:
    """Put the bubblewrap Codex ships ahead of the system's on its PATH.

    Codex prefers a ``bwrap`` found on PATH, and a distribution's can be too
    old for it (Debian 12's 0.8.0 lacks ``--argv0``): every sandboxed command
    then fails and turns into an approval request asking to run unsandboxed."""
    parents = binary.resolve().parents  # node_modules/@openai/codex/bin/codex.js
    if len(parents) < 3:
        return {}
    bundled = sorted(parents[2].glob("codex-linux-*/vendor/*/codex-resources/bwrap"))
    if not bundled:
        return {}
    return {"PATH": f"{bundled[0].parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class CodexRun(CodexItems):
    tool = "codex"

    def __init__(
        self,
        context: ToolContext,
        argv: list[str],
        env: dict[str, str],
        prices: PriceTable,
        scratch: Path,
    ) -> None:
        super().__init__(context, argv, env, prices)
        self._turn: str | None = None
        self._scratch = scratch

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)  # the run's own: nothing else uses it

    async def _start(self) -> None:
        client = {"name": "trace", "title": "Trace", "version": "0.1"}
        await self.request("initialize", {"clientInfo": client, "capabilities": None})
        await self.notify("initialized", {})
        result = await self.request(*self._thread_call())
        thread = result.get("thread") or {}
        self._model = result.get("model") or self._model
        await self.session_started(str(thread.get("id")))

    def _thread_call(self) -> tuple[str, dict[str, Any]]:
        policy, sandbox = MODES[self.context.permission_mode]
        params: dict[str, Any] = {
            "cwd": str(self.context.cwd),
            "approvalPolicy": policy,
            "sandbox": sandbox,
        }
        if self.context.provider.model:
            params["model"] = self.context.provider.model
        if not self.context.resume_id:
            return "thread/start", params
        method = "thread/fork" if self.context.fork else "thread/resume"
        return method, {"threadId": self.context.resume_id, "excludeTurns": True, **params}

    async def send(self, text: str, *, prompt_id: str | None = None) -> None:
        """Start a turn, or steer the running one: the text joins it at its next step."""
        await self.emit(UserPrompt(id=entry_id(), at=now(), text=text, prompt_id=prompt_id))
        user_input = [{"type": "text", "text": text, "text_elements": []}]
        params = {"threadId": self.tool_session_id, "input": user_input}
        if self.turns_open and self._turn:
            await self.request("turn/steer", {**params, "expectedTurnId": self._turn})
            return
        self.turns_open += 1
        try:
            result = await self.request("turn/start", params)
        except Conflict:
            self.turns_open -= 1
            raise
        self._turn = str((result.get("turn") or {}).get("id")) or self._turn

    async def interrupt(self) -> None:
        if self.turns_open and self._turn:
            await self.request(
                "turn/interrupt", {"threadId": self.tool_session_id, "turnId": self._turn}
            )

    async def on_request(self, method: str, params: Any) -> Any:
        if method == "item/commandExecution/requestApproval":
            return await self.command_approval(params)
        if method == "item/fileChange/requestApproval":
            return await self.file_approval(params)
        if method == "item/tool/requestUserInput":
            return await self.user_input(params)
        return await super().on_request(method, params)
