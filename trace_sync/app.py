"""All wiring in one place: ``create_app(settings)`` builds the server.

Nothing opens a database, socket or task until the ASGI lifespan starts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from trace_app.web import WebApp
from trace_sync.api import (
    accounts,
    approvals,
    ops,
    repos,
    runtimes,
    search,
    sessions,
    workspaces,
    worktrees,
)
from trace_sync.api.bridge_socket import BridgeSocket
from trace_sync.api.endpoints import Endpoint, routes
from trace_sync.api.errors import EXCEPTION_HANDLERS, error_response
from trace_sync.api.openapi import openapi_endpoint
from trace_sync.auth.gatekeeper import Gatekeeper
from trace_sync.auth.principal import Principal
from trace_sync.metrics import Metrics
from trace_sync.services.accounts import AccountService
from trace_sync.services.approvals import ApprovalService
from trace_sync.services.bridges import BridgeServices
from trace_sync.services.io_observer import IoObserver
from trace_sync.services.local_mode import LocalOwner, ensure_local_owner
from trace_sync.services.repos import RepoService
from trace_sync.services.search import SearchService
from trace_sync.services.sessions import SessionService
from trace_sync.services.signin import SignInCodes
from trace_sync.services.workspaces import WorkspaceService
from trace_sync.settings import Settings
from trace_sync.store import Store
from trace_sync.store.records import SessionRow
from trace_sync.sync.endpoint import SyncServer

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
    signin: SignInCodes
    sync: SyncServer
    owner: LocalOwner
    #: Runtimes, the router, grants, terminals and worktree operations (issue 4).
    bridges: BridgeServices


def create_app(settings: Settings, on_ready: Callable[[Context], None] | None = None) -> Starlette:
    """Build the server; ``on_ready`` runs once it accepts work (``trace serve``
    prints the sign-in link there)."""

    web = WebApp()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.ctx = await _start(settings, stack)
            await stack.enter_async_context(web)  # closed first: its tabs use the server
            if on_ready:
                on_ready(app.state.ctx)
            yield
            log.info("shutting down: closing connections and flushing the store")

    return Starlette(
        routes=[
            *routes(ENDPOINTS),
            WebSocketRoute("/sync/{name:path}", _sync),
            WebSocketRoute("/bridge", _bridge),
            Route("/api/{path:path}", _no_endpoint, methods=list(_METHODS)),
            Mount("/", app=web.asgi),  # the web app (Flet) gets every other path
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
    )


async def _start(settings: Settings, stack: AsyncExitStack) -> Context:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    metrics = Metrics()
    store = await stack.enter_async_context(
        Store(
            settings.database_url,
            schema=settings.database_schema,
            commit_delay_s=settings.commit_delay_s,
            compact_after_updates=settings.compact_after_updates,
            metrics=metrics,
        )
    )
    gate = Gatekeeper(store.accounts, store.directory, store.sessions)
    sync = await stack.enter_async_context(
        SyncServer(store.updates, gate, settings.limits, metrics, settings.room_grace_s)
    )
    owner = await ensure_local_owner(store, settings.data_dir)
    accounts = AccountService(store)
    documents = sync.rooms
    workspaces = WorkspaceService(store, documents, accounts)
    if owner.first_start:
        [default] = await store.directory.list_workspaces(owner.user_id)
        await workspaces.project(default.id)

    async def needs_runtime(actor: Principal, session: SessionRow) -> None:
        await bridges.router.needs_runtime(actor, session)  # bound below, before any request

    sessions = SessionService(store, documents, on_needs_runtime=needs_runtime)
    bridges = await stack.enter_async_context(
        BridgeServices(store, documents, accounts, sessions, settings)
    )
    # Entered after the sync server, so it is left first: its last passes run
    # while rooms and store are still open.
    observer = await stack.enter_async_context(IoObserver(sessions, store.search))
    sync.rooms.on_change(observer.changed)
    return Context(
        settings=settings,
        metrics=metrics,
        store=store,
        gate=gate,
        accounts=accounts,
        workspaces=workspaces,
        repos=RepoService(store, documents, settings.data_dir),
        sessions=sessions,
        approvals=ApprovalService(store, documents),
        search=SearchService(store),
        observer=observer,
        signin=SignInCodes(),
        sync=sync,
        owner=owner,
        bridges=bridges,
    )


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


async def _no_endpoint(request: Request) -> Response:
    # Without this the web app mounted at / would answer unknown API paths with its page.
    message = f"no endpoint {request.method} {request.url.path}"
    return error_response(404, "not_found", message)


async def _sync(websocket: WebSocket) -> None:
    await websocket.app.state.ctx.sync.handle(websocket)


async def _bridge(websocket: WebSocket) -> None:
    ctx: Context = websocket.app.state.ctx
    socket = BridgeSocket(
        ctx.gate,
        ctx.bridges.control,
        max_frame_bytes=ctx.settings.limits.max_frame_bytes,
        hello_within_s=ctx.settings.bridge.lease_s,
    )
    await socket.handle(websocket)
