"""A scripted model server: the real coding CLIs talk to it instead of a cloud API.

It speaks Anthropic Messages SSE (``POST /v1/messages``, ``/v1/messages/count_tokens``)
for Claude Code and OpenAI Responses SSE (``POST /v1/responses``) for Codex. A test
queues replies (:func:`text`, :func:`tool`, :func:`hang`, ...); each request that
offers tools (the agent loop) takes the next one, other requests (titles, quota
checks) get a short fixed text. Every request is recorded for assertions::

    async with model_server() as models:
        models.script(reply(tool("Bash", {"command": "touch x"})), reply(text("done")))
        ...  # run the tool with ANTHROPIC_BASE_URL=models.url
        assert "tool_result" in json.dumps(models.agent_requests[-1].body)
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Json = dict[str, Any]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolUse:
    name: str
    input: Json
    id: str


@dataclass(frozen=True)
class Hang:
    """Stream a first word, then hold the response open until the client goes away."""

    text: str = "Working"


Part = Text | ToolUse | Hang


@dataclass(frozen=True)
class Reply:
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Recorded:
    path: str
    body: Json

    @property
    def text(self) -> str:
        return json.dumps(self.body)


_ids = iter(range(1, 1_000_000))


def text(value: str) -> Text:
    return Text(value)


def tool(name: str, arguments: Json) -> ToolUse:
    """A tool call: a ``tool_use`` block (Anthropic) or a ``function_call`` item (OpenAI)."""
    return ToolUse(name, arguments, f"call_{next(_ids):04d}")


def hang(first: str = "Working") -> Hang:
    return Hang(first)


def reply(*parts: Part) -> Reply:
    return Reply(parts)


@dataclass
class ModelServer:
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    _queue: list[Reply] = field(default_factory=list)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next agent-loop requests, in order."""
        self._queue.extend(replies)

    @property
    def agent_requests(self) -> list[Recorded]:
        return [r for r in self.requests if _offers_tools(r.body)]

    async def wait_requests(self, count: int, timeout: float = 60.0) -> list[Recorded]:
        """Await until ``count`` agent-loop requests have arrived."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.agent_requests) >= count), timeout
            )
        return self.agent_requests

    async def _next(self, request: Request) -> tuple[Json, Reply]:
        body: Json = await request.json()
        async with self._arrived:
            self.requests.append(Recorded(request.url.path, body))
            self._arrived.notify_all()
        if _offers_tools(body) and self._queue:
            return body, self._queue.pop(0)
        return body, Reply((Text("ok"),))

    async def messages(self, request: Request) -> Response:
        body, script = await self._next(request)
        model = str(body.get("model", "model"))
        usage = _usage(body, script)
        if not body.get("stream"):
            return JSONResponse(_anthropic_message(script, model, usage))
        events = _anthropic_events(script, model, usage, self._closing)
        return StreamingResponse(events, media_type="text/event-stream")

    async def count_tokens(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(Recorded(request.url.path, body))
        return JSONResponse({"input_tokens": _tokens(json.dumps(body))})

    async def responses(self, request: Request) -> Response:
        body, script = await self._next(request)
        model = str(body.get("model", "model"))
        events = _openai_events(script, model, _usage(body, script), self._closing)
        return StreamingResponse(events, media_type="text/event-stream")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self.messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self.count_tokens, methods=["POST"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
            ]
        )


def _offers_tools(body: Json) -> bool:
    return bool(body.get("tools"))


def _tokens(value: str) -> int:
    return max(1, len(value) // 4)


def _usage(body: Json, script: Reply) -> tuple[int, int]:
    out = sum(_tokens(json.dumps(p.__dict__)) for p in script.parts)
    return _tokens(json.dumps(body)), out


def _sse(event: str, data: Json) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


# -- Anthropic Messages ----------------------------------------------------------


def _anthropic_message(script: Reply, model: str, usage: tuple[int, int]) -> Json:
    content: list[Json] = []
    for part in script.parts:
        if isinstance(part, ToolUse):
            content.append(
                {"type": "tool_use", "id": part.id, "name": part.name, "input": part.input}
            )
        else:
            content.append({"type": "text", "text": part.text})
    stop = "tool_use" if any(isinstance(p, ToolUse) for p in script.parts) else "end_turn"
    return {
        "id": f"msg_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


async def _anthropic_events(
    script: Reply, model: str, usage: tuple[int, int], closing: asyncio.Event
) -> AsyncIterator[bytes]:
    message = _anthropic_message(script, model, usage)
    start = dict(message, content=[], stop_reason=None)
    start["usage"] = {"input_tokens": usage[0], "output_tokens": 1}
    yield _sse("message_start", {"type": "message_start", "message": start})
    for index, part in enumerate(script.parts):
        async for chunk in _anthropic_block(index, part, closing):
            yield chunk
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield _sse(
        "message_delta",
        {"type": "message_delta", "delta": delta, "usage": {"output_tokens": usage[1]}},
    )
    yield _sse("message_stop", {"type": "message_stop"})


async def _anthropic_block(index: int, part: Part, closing: asyncio.Event) -> AsyncIterator[bytes]:
    def event(kind: str, **data: Any) -> bytes:
        return _sse(kind, {"type": kind, "index": index, **data})

    if isinstance(part, ToolUse):
        block = {"type": "tool_use", "id": part.id, "name": part.name, "input": {}}
        yield event("content_block_start", content_block=block)
        raw = json.dumps(part.input)
        delta = {"type": "input_json_delta", "partial_json": raw}
        yield event("content_block_delta", delta=delta)
    else:
        yield event("content_block_start", content_block={"type": "text", "text": ""})
        for piece in _pieces(part.text):
            yield event("content_block_delta", delta={"type": "text_delta", "text": piece})
        if isinstance(part, Hang):
            await closing.wait()
    yield event("content_block_stop")


def _pieces(value: str) -> list[str]:
    """Split text in two so the client sees a stream, not one chunk."""
    half = len(value) // 2
    return [p for p in (value[:half], value[half:]) if p]


# -- OpenAI Responses ------------------------------------------------------------


def _openai_item(part: Part, n: int) -> Json:
    if isinstance(part, ToolUse):
        return {
            "type": "function_call",
            "id": f"fc_{n}",
            "call_id": part.id,
            "name": part.name,
            "arguments": json.dumps(part.input),
            "status": "completed",
        }
    content = [{"type": "output_text", "text": part.text, "annotations": []}]
    return {
        "type": "message",
        "id": f"msg_{n}",
        "role": "assistant",
        "status": "completed",
        "content": content,
    }


async def _openai_events(
    script: Reply, model: str, usage: tuple[int, int], closing: asyncio.Event
) -> AsyncIterator[bytes]:
    rid = f"resp_{next(_ids)}"
    base = {"id": rid, "object": "response", "model": model, "output": []}
    yield _sse(
        "response.created",
        {"type": "response.created", "response": dict(base, status="in_progress")},
    )
    items = []
    for index, part in enumerate(script.parts):
        item = _openai_item(part, next(_ids))
        items.append(item)
        async for chunk in _openai_item_events(index, item, part, closing):
            yield chunk
    done = dict(base, status="completed", output=items, usage=_openai_usage(*usage))
    yield _sse("response.completed", {"type": "response.completed", "response": done})


async def _openai_item_events(
    index: int, item: Json, part: Part, closing: asyncio.Event
) -> AsyncIterator[bytes]:
    added = item if isinstance(part, ToolUse) else dict(item, status="in_progress", content=[])
    yield _sse(
        "response.output_item.added",
        {"type": "response.output_item.added", "output_index": index, "item": added},
    )
    if not isinstance(part, ToolUse):
        for piece in _pieces(part.text):
            delta = {"item_id": item["id"], "output_index": index, "content_index": 0}
            yield _sse(
                "response.output_text.delta",
                {"type": "response.output_text.delta", **delta, "delta": piece},
            )
        if isinstance(part, Hang):
            await closing.wait()
    yield _sse(
        "response.output_item.done",
        {"type": "response.output_item.done", "output_index": index, "item": item},
    )


def _openai_usage(prompt: int, completion: int) -> Json:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


@asynccontextmanager
async def model_server() -> AsyncIterator[ModelServer]:
    """Serve a fresh scripted model server on a free port of 127.0.0.1 for the block."""
    models = ModelServer()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    models.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(models.app(), log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield models
    finally:
        models._closing.set()
        server.should_exit = True
        await task
        sock.close()
