"""Drive ``tests/js/client.mjs`` (yjs + y-websocket in Node) from asyncio."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.npm import js_clients_dir, require_node


class JsClient:
    def __init__(self, server_ws_url: str, room: str, token: str) -> None:
        self._connect = {
            "op": "connect",
            "url": f"{server_ws_url}/sync",
            "room": room,
            "token": token,
        }
        self.events: list[dict[str, Any]] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> JsClient:
        directory: Path = js_clients_dir()
        self._process = await asyncio.create_subprocess_exec(
            require_node(),
            str(directory / "client.mjs"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        await self.send(self._connect)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._process is not None and self._reader is not None
        await self.send({"op": "exit"})
        await asyncio.wait_for(self._process.wait(), 10)
        await self._reader

    async def send(self, command: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps(command).encode() + b"\n")
        await self._process.stdin.drain()

    async def insert(self, index: int, text: str) -> None:
        await self.send({"op": "insert", "index": index, "text": text})

    async def report(self) -> dict[str, Any]:
        count = len(self.events)
        await self.send({"op": "report"})
        await self.wait_for_event(lambda e: e["event"] == "report", start=count)
        report = next(e for e in self.events[count:] if e["event"] == "report")
        report["stateVector"] = base64.b64decode(report["stateVector"])
        return report

    async def wait_for_event(self, match: Any, start: int = 0, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(match(e) for e in self.events[start:]):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no matching event; saw {self.events[start:]}")
            await asyncio.sleep(0.01)

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for line in self._process.stdout:
            self.events.append(json.loads(line))
