"""Routes declared once, with their models: the handler, the OpenAPI page and
idempotent commands all come from the same :class:`Endpoint`.

A handler takes a :class:`Call` (the caller, the parsed body and query, the
path parameters, the app's context) and returns a pydantic model (sent as
JSON with the endpoint's status), ``None`` (204) or a ready ``Response``::

    async def pause(call: Call) -> SessionOut:
        return session_out(await call.ctx.sessions.command(call.actor, call.path["sid"], PAUSE))

    Endpoint("POST", "/api/sessions/{sid}/pause", pause, "Pause a session", response=SessionOut)
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trace_sync.api.bodies import check_text, read_body
from trace_sync.api.credentials import person_of
from trace_sync.api.idempotency import idempotent
from trace_sync.auth.bearer import COOKIE, by_cookie, set_cookie
from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import InvalidInput

Result = BaseModel | Response | None
Handler = Callable[["Call"], Awaitable[Result]]
COMMANDS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class Call:
    request: Request
    #: The authenticated person (``None`` only for public endpoints).
    caller: Principal | None
    path: dict[str, str]
    body: Any
    query: Any

    @property
    def ctx(self) -> Any:
        """The app's :class:`trace_sync.app.Context` (typed Any to keep api -> app acyclic)."""
        return self.request.app.state.ctx

    @property
    def actor(self) -> Principal:
        if self.caller is None:
            raise InvalidInput("this endpoint has no caller")
        return self.caller


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    #: No token needed (health, the sign-in link's landing).
    public: bool = False
    #: Media type of a non-JSON response (the handler returns a ``Response``).
    media_type: str | None = None
    tag: str = "api"

    @classmethod
    def of_request(
        cls,
        method: str,
        path: str,
        handler: Callable[[Request], Awaitable[Response]],
        summary: str,
        **described: Any,
    ) -> Endpoint:
        """An endpoint around a handler that takes the request itself (and
        authenticates, reads and replies on its own); ``described`` are the
        models it uses, for the OpenAPI page and validation up front."""

        async def run(call: Call) -> Response:
            return await handler(call.request)

        run.__name__ = handler.__name__
        return cls(method, path, run, summary, **described)

    def route(self) -> Route:
        """The Starlette route; commands honour ``Idempotency-Key``."""
        handle: Callable[[Request], Awaitable[Response]] = self._handle
        if self.method in COMMANDS and not self.public:
            handle = idempotent(handle)
        return Route(self.path, handle, methods=[self.method], name=self.handler.__name__)

    async def _handle(self, request: Request) -> Response:
        caller = None if self.public else await person_of(request)
        body = await read_body(request, self.body) if self.body else None
        query = parse_query(request, self.query) if self.query else None
        call = Call(request, caller, dict(request.path_params), body, query)
        response = self._response(await self.handler(call))
        if caller is not None and by_cookie(request):
            # Renewed on use: the cookie's life counts from the browser's last request.
            set_cookie(response, request.cookies[COOKIE], call.ctx.settings.base_url)
        return response

    def _response(self, result: Result) -> Response:
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result.model_dump(mode="json"), status_code=self.status)


def parse_query(request: Request, model: type[BaseModel]) -> Any:
    """Query parameters as ``model``; list fields take repeated or comma-separated values."""
    params = request.query_params
    unknown = set(params) - set(model.model_fields)
    if unknown:
        raise InvalidInput(f"unknown query parameters: {', '.join(sorted(unknown))}")
    check_text({name: params.getlist(name) for name in params}, "query")
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name not in params:
            continue
        if typing.get_origin(field.annotation) is list:
            values[name] = [v for raw in params.getlist(name) for v in raw.split(",") if v]
        else:
            values[name] = params[name]
    return model.model_validate(values)


def routes(endpoints: list[Endpoint]) -> list[Route]:
    return [endpoint.route() for endpoint in endpoints]
