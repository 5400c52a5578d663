"""JSON-RPC 2.0 over a tool's stdio lines, as Codex app-server and ACP agents speak it.

:class:`JsonRpcRun` is a tool run whose stdout is JSON-RPC: responses resolve
the futures of :meth:`~JsonRpcRun.request`; the tool's requests and
notifications go to ``on_request``/``on_notification`` of the adapter; anything
else becomes a raw transcript entry.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from trace_sync.bridge.tools.run import ToolRunBase, parse_json
from trace_sync.contract.errors import Conflict

METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class RpcError(Conflict):
    """The tool answered a request with an error."""

    def __init__(self, method: str, error: Any) -> None:
        detail = error.get("message") if isinstance(error, dict) else error
        super().__init__(f"{method} failed: {detail}")
        self.error = error


class RpcFault(Exception):
    """Raised by a request handler to answer the tool with an error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class JsonRpcRun(ToolRunBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_id = 0
        self._waiting: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._serving: dict[Any, asyncio.Task[None]] = {}

    async def request(self, method: str, params: Any, timeout: float | None = 120.0) -> Any:
        """Call ``method`` on the tool and return its result."""
        self._next_id += 1
        call_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = (method, future)
        try:
            await self.write_json(
                {"jsonrpc": "2.0", "id": call_id, "method": method, "params": params}
            )
            return await asyncio.wait_for(future, timeout)
        except TimeoutError as exc:
            raise Conflict(f"{self.tool} did not answer {method} in time") from exc
        finally:
            self._waiting.pop(call_id, None)

    async def notify(self, method: str, params: Any) -> None:
        await self.write_json({"jsonrpc": "2.0", "method": method, "params": params})

    def withdraw(self, request_id: Any) -> None:
        """The tool no longer wants an answer to its request ``request_id``."""
        task = self._serving.pop(request_id, None)
        if task is not None:
            task.cancel()

    async def on_request(self, method: str, params: Any) -> Any:
        """Answer a request of the tool; raise :class:`RpcFault` to refuse it."""
        raise RpcFault(METHOD_NOT_FOUND, f"{method} is not supported by Trace")

    async def on_notification(self, method: str, params: Any) -> None:
        await self.raw({"method": method, "params": params})

    async def _on_line(self, line: bytes) -> None:
        message = parse_json(line)
        if not isinstance(message, dict) or message.get("jsonrpc", "2.0") != "2.0":
            await self.raw(line)
        elif "method" in message and "id" in message:
            task = self.spawn(self._answer(message))
            self._serving[message["id"]] = task
            task.add_done_callback(lambda _: self._serving.pop(message["id"], None))
        elif "method" in message:
            await self.on_notification(str(message["method"]), message.get("params"))
        elif message.get("id") in self._waiting:
            self._resolve(message)
        else:
            await self.raw(message)

    def _resolve(self, message: dict[str, Any]) -> None:
        method, future = self._waiting[message["id"]]
        if future.done():
            return
        if "error" in message:
            future.set_exception(RpcError(method, message["error"]))
        else:
            future.set_result(message.get("result"))

    async def _answer(self, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        try:
            reply["result"] = await self.on_request(str(message["method"]), message.get("params"))
        except RpcFault as fault:
            reply["error"] = {"code": fault.code, "message": str(fault)}
            if fault.code == METHOD_NOT_FOUND:
                await self.raw(message)
        with contextlib.suppress(Conflict):  # the tool is gone: the reader reports its exit
            await self.write_json(reply)

    async def _finish(self) -> None:
        for method, future in self._waiting.values():
            if not future.done():
                future.set_exception(Conflict(f"{self.tool} exited before answering {method}"))
        await super()._finish()
