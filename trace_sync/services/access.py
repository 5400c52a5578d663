"""Role checks every service makes before it changes anything.

Things a person may not see are reported as not found (as the sync policy
does), things they see but may not change as forbidden, naming their role.
"""

from __future__ import annotations

from trace_sync.auth.policy import can_see
from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Forbidden, NotFound
from trace_sync.store import Store
from trace_sync.store.records import Role, SessionRow


async def role_in(store: Store, workspace_id: str, actor: Principal) -> Role:
    """The actor's role in the workspace; ``NotFound`` for non-members."""
    role = await store.directory.role_of(workspace_id, actor.user_id)
    if role is None:
        raise NotFound(f"no workspace {workspace_id}")
    return role


async def require_instance_admin(store: Store, actor: Principal, doing: str) -> None:
    """Powers over the server itself (its disk, its accounts) are the instance admins'."""
    user = await store.accounts.get_user(actor.user_id)
    if not user.instance_admin:
        raise Forbidden(f"{doing} is for instance admins of this server")


def require_writer(role: Role, doing: str) -> None:
    if not role.can_write:
        raise Forbidden(f"{doing} needs a writing role; you are {role.value}")


def require_admin(role: Role, doing: str) -> None:
    if not role.is_admin:
        raise Forbidden(f"{doing} needs the admin role; you are {role.value}")


async def visible_session(
    store: Store, session_id: str, actor: Principal
) -> tuple[SessionRow, Role]:
    """The session and the actor's role, if the actor may see it; else ``NotFound``."""
    session = await store.sessions.find(session_id)
    role = (
        None
        if session is None
        else await store.directory.role_of(session.workspace_id, actor.user_id)
    )
    if session is None or role is None or not can_see(actor.user_id, role, session.access):
        raise NotFound(f"no session {session_id}")
    return session, role


def require_session_control(session: SessionRow, role: Role, actor: Principal, doing: str) -> None:
    """Its owner and the workspace's admins control a session (hand-off, delete)."""
    if not (role.is_admin or actor.user_id == session.owner_id):
        raise Forbidden(f"{doing} is for the session's owner or an admin; you are {role.value}")
