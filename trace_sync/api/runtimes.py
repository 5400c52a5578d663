"""Runtimes and grants routes: register a bridge, list runtimes, ask for and decide access."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from trace_sync.api.bodies import read_body, reply
from trace_sync.api.credentials import person_of
from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.pages import PageQuery, page_of
from trace_sync.api.runtime_models import (
    GrantIn,
    GrantOut,
    GrantPage,
    PlacedOut,
    PlaceIn,
    RegisteredOut,
    RegisterRuntimeIn,
    RuntimePage,
    grant_out,
    runtime_out,
)
from trace_sync.services.bridges.wiring import BridgeServices


def _bridges(request: Request) -> BridgeServices:
    bridges: BridgeServices = request.app.state.ctx.bridges
    return bridges


async def register(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, RegisterRuntimeIn)
    runtimes = _bridges(request).runtimes
    done = await runtimes.register(actor, body.instance_id, body.name, body.kind)
    out = runtime_out(done.runtime, await runtimes.online(done.runtime.id))
    return reply(RegisteredOut(runtime_id=done.runtime.id, token=done.token, runtime=out), 201)


async def list_runtimes(call: Call) -> RuntimePage:
    views = await call.ctx.bridges.runtimes.visible(call.actor)
    page, cursor = page_of(views, lambda v: (v.runtime.name, v.runtime.id), call.query)
    return RuntimePage(items=[runtime_out(v.runtime, v.online) for v in page], next_cursor=cursor)


async def request_grant(request: Request) -> Response:
    actor = await person_of(request)
    body = await read_body(request, GrantIn)
    grant = await _bridges(request).grants.request(
        actor,
        request.path_params["rid"],
        body.capabilities,
        session_id=body.session_id,
        expires_at=body.expires_at,
    )
    return reply(grant_out(grant), 201)


async def list_grants(call: Call) -> GrantPage:
    """Newest first, as people read requests."""
    grants = await call.ctx.bridges.grants.of_runtime(call.actor, call.path["rid"])
    order = {g.id: i for i, g in enumerate(grants)}
    page, cursor = page_of(grants, lambda g: (f"{order[g.id]:09d}",), call.query)
    return GrantPage(items=[grant_out(g) for g in page], next_cursor=cursor)


async def approve_grant(request: Request) -> Response:
    actor = await person_of(request)
    return reply(
        grant_out(await _bridges(request).grants.approve(actor, request.path_params["gid"]))
    )


async def deny_grant(request: Request) -> Response:
    actor = await person_of(request)
    return reply(grant_out(await _bridges(request).grants.deny(actor, request.path_params["gid"])))


async def revoke_grant(request: Request) -> Response:
    actor = await person_of(request)
    return reply(
        grant_out(await _bridges(request).grants.revoke(actor, request.path_params["gid"]))
    )


async def place_session(request: Request) -> Response:
    """Run a session on a chosen runtime (yours, or one you hold a session grant on)."""
    actor = await person_of(request)
    body = await read_body(request, PlaceIn)
    session = await _bridges(request).router.choose(
        actor, request.path_params["sid"], body.runtime_id
    )
    return reply(PlacedOut(session_id=session.id, runtime_id=session.runtime_id))


endpoints = [
    Endpoint.of_request(
        "POST",
        "/api/runtimes",
        register,
        "Register a bridge you run (gets a runtime token, shown once)",
        body=RegisterRuntimeIn,
        response=RegisteredOut,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/runtimes",
        list_runtimes,
        "Runtimes you may use",
        query=PageQuery,
        response=RuntimePage,
    ),
    Endpoint.of_request(
        "POST",
        "/api/runtimes/{rid}/grants",
        request_grant,
        "Ask a runtime's owner for access",
        body=GrantIn,
        response=GrantOut,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/runtimes/{rid}/grants",
        list_grants,
        "Grants on a runtime (its owner sees all; others their own)",
        query=PageQuery,
        response=GrantPage,
    ),
    *(
        Endpoint.of_request(
            "POST", f"/api/grants/{{gid}}/{verb}", handler, summary, response=GrantOut
        )
        for verb, handler, summary in [
            ("approve", approve_grant, "Approve a grant (the runtime's owner)"),
            ("deny", deny_grant, "Deny a grant (the runtime's owner)"),
            ("revoke", revoke_grant, "Revoke a grant (closes the grantee's live terminals)"),
        ]
    ),
    Endpoint.of_request(
        "POST",
        "/api/sessions/{sid}/runtime",
        place_session,
        "Run a session on a chosen runtime",
        body=PlaceIn,
        response=PlacedOut,
    ),
]
