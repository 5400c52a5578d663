"""Accounts routes: who am I, members, tokens, sign-in links."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from trace_sync.api.bodies import read_body, reply
from trace_sync.api.credentials import person_of
from trace_sync.api.models import (
    AddMemberIn,
    MemberOut,
    MeOut,
    NewMemberOut,
    SignInLinkOut,
    TokenOut,
    UserOut,
    WorkspaceOut,
)
from trace_sync.auth.bearer import COOKIE
from trace_sync.store.records import TokenRecord, User


def _user(user: User) -> UserOut:
    return UserOut(id=user.id, name=user.name, created_at=user.created_at)


def _token(t: TokenRecord) -> TokenOut:
    return TokenOut(
        id=t.id,
        kind=t.kind,
        label=t.label,
        created_at=t.created_at,
        last_used_at=t.last_used_at,
        revoked_at=t.revoked_at,
    )


async def me(request: Request) -> Response:
    principal = await person_of(request)
    store = request.app.state.ctx.store
    user = await store.accounts.get_user(principal.user_id)
    workspaces = []
    for w in await store.directory.list_workspaces(principal.user_id):
        role = await store.directory.role_of(w.id, principal.user_id)
        workspaces.append(WorkspaceOut(id=w.id, name=w.name, role=role))
    return reply(MeOut(user=_user(user), token_id=principal.token_id, workspaces=workspaces))


async def list_members(request: Request) -> Response:
    principal = await person_of(request)
    wid = request.path_params["wid"]
    members = await request.app.state.ctx.workspaces.members(principal, wid)
    return reply([MemberOut(user=_user(m.user), role=m.role) for m in members])


async def add_member(request: Request) -> Response:
    principal = await person_of(request)
    body = await read_body(request, AddMemberIn)
    wid = request.path_params["wid"]
    added = await request.app.state.ctx.workspaces.add_member(principal, wid, body.name, body.role)
    member = added.member
    return reply(NewMemberOut(user=_user(member.user), role=member.role, token=added.token), 201)


async def list_tokens(request: Request) -> Response:
    principal = await person_of(request)
    return reply([_token(t) for t in await request.app.state.ctx.accounts.tokens(principal)])


async def revoke_token(request: Request) -> Response:
    principal = await person_of(request)
    token_id = request.path_params["token_id"]
    return reply(_token(await request.app.state.ctx.accounts.revoke_token(principal, token_id)))


async def signin_link(request: Request) -> Response:
    principal = await person_of(request)
    ctx = request.app.state.ctx
    return reply(
        SignInLinkOut(url=sign_in_url(ctx.settings.base_url, ctx.signin.mint(principal.user_id)))
    )


async def sign_in(request: Request) -> Response:
    """Redeem a one-time link: a fresh token goes into an HttpOnly cookie for the web UI."""
    ctx = request.app.state.ctx
    user_id = ctx.signin.redeem(request.query_params.get("code", ""))
    issued = await ctx.accounts.issue_token(user_id, label="browser sign-in")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, issued.token, httponly=True, samesite="strict", max_age=400 * 86400)
    return response


def sign_in_url(base_url: str, code: str) -> str:
    return f"{base_url}/signin?code={code}"


routes = [
    Route("/api/me", me),
    Route("/api/workspaces/{wid}/members", list_members),
    Route("/api/workspaces/{wid}/members", add_member, methods=["POST"]),
    Route("/api/tokens", list_tokens),
    Route("/api/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
    Route("/api/signin-links", signin_link, methods=["POST"]),
    Route("/signin", sign_in),
]
