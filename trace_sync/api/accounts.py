"""Accounts routes: who am I, tokens, sign-in links."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.models import MeOut, SignInLinkOut, TokenOut, TokenPage, UserOut, WorkspaceOut
from trace_sync.api.pages import PageQuery, page_of
from trace_sync.auth.bearer import set_cookie
from trace_sync.store.records import TokenRecord, User


def user_out(user: User) -> UserOut:
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


async def me(call: Call) -> MeOut:
    user = await call.ctx.store.accounts.get_user(call.actor.user_id)
    workspaces = [
        WorkspaceOut(id=w.id, name=w.name, role=role)
        for w, role in await call.ctx.workspaces.of_member(call.actor)
    ]
    return MeOut(
        user=user_out(user),
        token_id=call.actor.token_id,
        workspaces=workspaces,
        instance_admin=user.instance_admin,
    )


async def list_tokens(call: Call) -> TokenPage:
    tokens = await call.ctx.accounts.tokens(call.actor)
    page, cursor = page_of(tokens, lambda t: (t.created_at.isoformat(), t.id), call.query)
    return TokenPage(items=[_token(t) for t in page], next_cursor=cursor)


async def revoke_token(call: Call) -> TokenOut:
    return _token(await call.ctx.accounts.revoke_token(call.actor, call.path["token_id"]))


async def signin_link(call: Call) -> SignInLinkOut:
    code = await call.ctx.signin.mint(call.actor.user_id)
    return SignInLinkOut(url=sign_in_url(call.ctx.settings.base_url, code))


async def sign_in(call: Call) -> Response:
    """Redeem a one-time link: a fresh token goes into an HttpOnly cookie for the web UI."""
    ctx = call.ctx
    client = call.request.client.host if call.request.client else "unknown"
    user_id = await ctx.signin.redeem(call.request.query_params.get("code", ""), client)
    issued = await ctx.accounts.issue_token(user_id, label="browser sign-in")
    response = RedirectResponse("/", status_code=303)
    set_cookie(response, issued.token, ctx.settings.base_url)
    return response


def sign_in_url(base_url: str, code: str) -> str:
    return f"{base_url}/signin?code={code}"


endpoints = [
    Endpoint("GET", "/api/me", me, "You, your token and your workspaces", response=MeOut),
    Endpoint("GET", "/api/tokens", list_tokens, "Your tokens", query=PageQuery, response=TokenPage),
    Endpoint(
        "POST",
        "/api/tokens/{token_id}/revoke",
        revoke_token,
        "Revoke a token (yours; instance admins: anyone's)",
        response=TokenOut,
    ),
    Endpoint(
        "POST",
        "/api/signin-links",
        signin_link,
        "A one-time sign-in link for the web UI",
        response=SignInLinkOut,
    ),
    Endpoint(
        "GET",
        "/signin",
        sign_in,
        "Redeem a sign-in link: sets the trace_token cookie and redirects to /",
        public=True,
        media_type="text/html",
        status=303,
        tag="web",
    ),
]
