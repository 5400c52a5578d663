"""All wiring in one place: ``create_app(settings)`` builds the server.

Nothing opens a database, socket or task until the ASGI lifespan starts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from trace_app.web import WebApp
from trace_sync.api import (
    accounts,
    approvals,
    budgets,
    forges,
    inbox,
    notify,
    ops,
    previews,
    reads,
    repos,
    runtimes,
    search,
    sessions,
    usage,
    workspaces,
    worktrees,
)
from trace_sync.api.body_limit import BodyLimit
from trace_sync.api.endpoints import Endpoint, routes
from trace_sync.api.errors import EXCEPTION_HANDLERS, error_response
from trace_sync.api.openapi import openapi_endpoint
from trace_sync.auth.facts import CachedFacts
from trace_sync.auth.gate import Gatekeeper
from trace_sync.auth.origin import check_origin
from trace_sync.auth.principal import Principal
from trace_sync.cluster.claim import claimed
from trace_sync.cluster.documents import DocumentStreams
from trace_sync.cluster.leader import Leadership
from trace_sync.cluster.presence import PresenceChannel
from trace_sync.cluster.redis_link import RedisLink
from trace_sync.cluster.relay import BridgeRelay
from trace_sync.cluster.shared import shared_state
from trace_sync.contract.errors import CLOSE_CODE, Forbidden
from trace_sync.metrics import Metrics
from trace_sync.services.accounts import AccountService
from trace_sync.services.approvals import ApprovalService
from trace_sync.services.attention import Attention
from trace_sync.services.authority import Authority
from trace_sync.services.bridges.previews import PreviewService
from trace_sync.services.bridges.wiring import BridgeServices
from trace_sync.services.budgets import BudgetService
from trace_sync.services.checkpoint_registry import CheckpointRegistry
from trace_sync.services.forges.service import ForgeService
from trace_sync.services.inbox import InboxService
from trace_sync.services.inbox_signal import InboxSignal
from trace_sync.services.io_observer import IoObserver
from trace_sync.services.local_mode import LocalOwner, ensure_local_owner
from trace_sync.services.notify.action_links import ActionLinks
from trace_sync.services.notify.apprise_channel import AppriseChannel
from trace_sync.services.notify.destinations import NotifyService
from trace_sync.services.notify.notifier import Notifier
from trace_sync.services.repos import RepoService
from trace_sync.services.search import SearchService
from trace_sync.services.secrets import SecretService
from trace_sync.services.server_secret import ServerSecret
from trace_sync.services.session_reads import SessionReads
from trace_sync.services.sessions import SessionService
from trace_sync.services.signin import SignInCodeStore
from trace_sync.services.usage import UsageService
from trace_sync.services.workspaces import WorkspaceService
from trace_sync.settings import Settings
from trace_sync.store import Store
from trace_sync.store.records import SessionRow
from trace_sync.sync.bridge_endpoint import BridgeSocket
from trace_sync.sync.endpoint import SyncServer
from trace_sync.sync.wire import close_quietly

log = logging.getLogger(__name__)

#: Every HTTP route; ``/api/openapi.json`` describes them all.
ENDPOINTS: list[Endpoint] = [
    *ops.endpoints,
    *accounts.endpoints,
    *workspaces.endpoints,
    *repos.endpoints,
    *sessions.endpoints,
    *approvals.endpoints,
    *search.endpoints,
    *runtimes.endpoints,
    *worktrees.endpoints,
    *reads.endpoints,
    *usage.endpoints,
    *inbox.endpoints,
    *notify.endpoints,
    *budgets.endpoints,
    *forges.endpoints,
    *previews.endpoints,
]
ENDPOINTS.append(openapi_endpoint(list(ENDPOINTS)))

#: Largest HTTP request body; documents travel over /sync, not the API.
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class Context:
    """What routes reach through ``request.app.state.ctx``."""

    settings: Settings
    metrics: Metrics
    store: Store
    gate: Gatekeeper
    accounts: AccountService
    workspaces: WorkspaceService
    repos: RepoService
    sessions: SessionService
    approvals: ApprovalService
    search: SearchService
    observer: IoObserver
    signin: SignInCodeStore
    sync: SyncServer
    #: Where services announce changes of who may do what (sockets re-check).
    authority: Authority
    owner: LocalOwner
    #: Runtimes, the router, grants, terminals and worktree operations (issue 4).
    bridges: BridgeServices
    #: What sessions show, read from the server's copy of their documents.
    reads: SessionReads
    usage: UsageService
    #: What needs each person (derived by ``attention`` from the session documents).
    inbox: InboxService
    attention: Attention
    #: Notification destinations (sealed) and delivery through Apprise.
    notify: NotifyService
    notifier: Notifier
    action_links: ActionLinks
    budgets: BudgetService
    #: Workspace secrets and sessions' pull requests on their forges (issue 19).
    secrets: SecretService
    forges: ForgeService
    #: Sessions' dev servers, proxied over their bridges (issue 19).
    previews: PreviewService


#: Called once the server accepts work, with its context (``None`` in role ``web``,
#: which starts no services).
OnReady = Callable[[Context | None], Awaitable[None]]


def create_app(
    settings: Settings, on_ready: OnReady | None = None, *, claim: bool = False
) -> Starlette:
    """Build the server; ``on_ready`` runs once it accepts work (``trace serve``
    prints the sign-in link there). ``claim``: refuse to start where another
    server process holds the data (``trace serve``; in-process tests share it).

    ``settings.role`` chooses the route groups: the API (with ``/sync`` and
    ``/bridge``) and its services, the web app, or both."""

    web = WebApp(api_url=settings.api_url) if settings.serves_web else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.ctx = (
                await _start(settings, stack, claim=claim) if settings.serves_api else None
            )
            if web is not None:
                await stack.enter_async_context(web)  # closed first: its tabs use the server
            if on_ready:
                await on_ready(app.state.ctx)
            yield
            log.info("shutting down: closing connections and flushing the store")

    return Starlette(
        routes=_routes(settings, web),
        middleware=[Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


def _routes(settings: Settings, web: WebApp | None) -> list[BaseRoute]:
    """The route groups of this process's role; unknown API paths 404 in every role."""
    if settings.serves_api:
        found: list[BaseRoute] = [
            # First: a join would otherwise try every API route's pattern (~70).
            WebSocketRoute("/sync/{name:path}", _sync),
            WebSocketRoute("/bridge", _bridge),
            *previews.routes,
            *routes(ENDPOINTS),
        ]
    else:
        found = [ops.health.route()]  # the balancer checks every process
    found += [
        Route("/api/{path:path}", _no_endpoint, methods=list(_METHODS)),
        Route("/api/{path:path}", _options, methods=["OPTIONS"]),
    ]
    if web is None:  # role sync: no page to fall back on
        found.append(Route("/{path:path}", _no_endpoint, methods=[*_METHODS, "HEAD"]))
    else:  # the web app (Flet): all other paths
        found.append(Mount("/", app=_same_site_sockets(web.asgi, settings.base_url)))
    return found


async def _start(settings: Settings, stack: AsyncExitStack, *, claim: bool) -> Context:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    metrics = Metrics()
    cluster = RedisLink.of(settings)
    # Entered before the store, so left after it: its last commits still go out.
    streams = await stack.enter_async_context(DocumentStreams(cluster)) if cluster else None
    # A process that lapses may have died between a commit and its publish: reload.
    presence = PresenceChannel(cluster, on_lapse=streams.catch_up) if cluster and streams else None
    if presence is not None:  # left after the rooms: it says goodbye for them
        await stack.enter_async_context(presence)
    store = Store(
        settings.database_url,
        schema=settings.database_schema,
        commit_delay_s=settings.commit_delay_s,
        compact_after_updates=settings.compact_after_updates,
        metrics=metrics,
    )
    # Entered before the store too: its listeners stop hearing changes last.
    shared = await stack.enter_async_context(shared_state(settings))
    await stack.enter_async_context(claimed(store, settings) if claim else store)
    # Cluster-wide jobs (grant expiry, lost runtimes) run on one member at a time.
    leader = await stack.enter_async_context(
        Leadership(store.db if settings.cluster else None, on_change=metrics.leader.set)
    )
    authority = shared.authority
    # Joins read tokens, roles and sessions from memory; every authority change
    # (from any process) reaches the cache before the endpoints re-check sockets.
    facts = CachedFacts(
        store.accounts, store.directory, store.sessions, trusted=lambda: authority.listening
    )
    authority.subscribe(facts.changed)
    gate = Gatekeeper(facts, facts, facts)
    sync = await stack.enter_async_context(
        SyncServer(
            store.updates,
            gate,
            settings.limits,
            metrics,
            settings.room_grace_s,
            authority,
            rate=shared.connections,
            open_documents=shared.open_documents,
        )
    )
    if streams is not None:
        sync.rooms.replicate(streams)
    if presence is not None:
        sync.rooms.share_presence(presence)
    owner = await ensure_local_owner(store, settings.data_dir)
    accounts = AccountService(store, authority=authority)
    documents = sync.rooms
    workspaces = WorkspaceService(
        store, documents, accounts, settings.workspace_creation, authority=authority
    )
    if owner.first_start:
        [default] = await store.directory.list_workspaces(owner.user_id)
        await workspaces.project(default.id)

    async def needs_runtime(actor: Principal, session: SessionRow) -> None:
        await bridges.router.needs_runtime(actor, session)  # bound below, before any request

    async def released(session: SessionRow) -> None:
        await bridges.router.released(session)

    async def deleted(session: SessionRow) -> dict[str, Any]:
        return await bridges.removals.remove(session)

    async def usage_reported(session: SessionRow) -> None:
        await budgets.usage_reported(session)  # bound below, before any request

    async def before_running(session: SessionRow) -> None:
        await budgets.before_running(session)

    signal = InboxSignal(documents, store.inbox)
    authority.subscribe(signal.authority_changed)
    sessions = SessionService(
        store,
        documents,
        on_needs_runtime=needs_runtime,
        on_released=released,
        authority=authority,
        on_deleted=deleted,
        on_usage=usage_reported,
        before_running=before_running,
        inbox_signal=signal,
    )
    budgets = BudgetService(store, sessions)
    # Entered before the bridge services, so left after them: their links release their entries.
    relay = await stack.enter_async_context(BridgeRelay(cluster)) if cluster else None
    bridges = await stack.enter_async_context(
        BridgeServices(
            store,
            documents,
            accounts,
            sessions,
            settings,
            authority=authority,
            leader=leader,
            elsewhere=relay,
        )
    )
    # Entered after the sync server, so it is left first: its last passes run
    # while rooms and store are still open.
    checkpoints = CheckpointRegistry(store, documents)
    observer = await stack.enter_async_context(IoObserver(sessions, checkpoints, store.search))
    sync.rooms.on_change(observer.changed)
    secret = ServerSecret.load(settings.data_dir, settings.secret_key)
    secrets = SecretService(store, secret)
    approvals = ApprovalService(store, documents)
    links = ActionLinks(secret, store, approvals, settings.base_url)
    channel = AppriseChannel()
    notifier = await stack.enter_async_context(
        Notifier(store, secret, channel, links, settings.base_url)
    )
    attention = await stack.enter_async_context(Attention(store, notifier.enqueue, signal))
    sync.rooms.on_change(attention.changed)
    reads = SessionReads(store, documents)
    preview = PreviewService(
        store, documents, bridges.broker, secret, settings.base_url, settings.bridge.request_s
    )
    bridges.control.previews = preview
    bridges.broker.handed_over = preview.event
    return Context(
        settings=settings,
        metrics=metrics,
        store=store,
        gate=gate,
        accounts=accounts,
        workspaces=workspaces,
        repos=RepoService(store, documents, settings.data_dir),
        sessions=sessions,
        approvals=approvals,
        search=SearchService(store),
        observer=observer,
        signin=shared.signin,
        sync=sync,
        authority=authority,
        owner=owner,
        bridges=bridges,
        reads=reads,
        usage=UsageService(store, documents, reads),
        inbox=InboxService(store, signal),
        attention=attention,
        notify=NotifyService(store, secret, channel, notifier),
        notifier=notifier,
        action_links=links,
        budgets=budgets,
        secrets=secrets,
        forges=ForgeService(
            store, documents, bridges.worktrees, secrets, sessions.report_pull_request
        ),
        previews=preview,
    )


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


async def _no_endpoint(request: Request) -> Response:
    # Without this the web app mounted at / would answer unknown API paths with its page.
    message = f"no endpoint {request.method} {request.url.path}"
    return error_response(404, "not_found", message)


async def _options(request: Request) -> Response:
    # Answered here, not by the web app (which allows any origin): the API
    # grants no cross-origin access, so no Access-Control-* header.
    return Response(status_code=204, headers={"Allow": ", ".join(_METHODS)})


async def _cross_site(websocket: WebSocket, base_url: str) -> bool:
    """Refuse (4403) a websocket another site's page opened with the sign-in cookie."""
    try:
        check_origin(websocket, base_url)
    except Forbidden as exc:
        await websocket.accept()
        await close_quietly(websocket, CLOSE_CODE[Forbidden], str(exc))
        return True
    return False


def _same_site_sockets(app: ASGIApp, base_url: str) -> ASGIApp:
    """The web app's own websocket signs in with the cookie too."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and await _cross_site(
            WebSocket(scope, receive, send), base_url
        ):
            return
        await app(scope, receive, send)

    return guarded


async def _sync(websocket: WebSocket) -> None:
    ctx: Context = websocket.app.state.ctx
    if not await _cross_site(websocket, ctx.settings.base_url):
        await ctx.sync.handle(websocket)


async def _bridge(websocket: WebSocket) -> None:
    ctx: Context = websocket.app.state.ctx
    if await _cross_site(websocket, ctx.settings.base_url):
        return
    socket = BridgeSocket(
        ctx.gate,
        ctx.bridges.control,
        max_frame_bytes=ctx.settings.limits.max_frame_bytes,
        hello_within_s=ctx.settings.bridge.lease_s,
        authority=ctx.authority,
    )
    await socket.handle(websocket)
