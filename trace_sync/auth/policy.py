"""The one permission policy: who may read or write which document.

It follows ARCHITECTURE.md §1. Server-written documents (``workspace/*``,
``session/<sid>``) are never writable over sync: services write them
in-process. Documents a principal may not see are reported as not found,
so ids of private sessions do not leak.

=====================  =============================  ==============================
document               read                           write
=====================  =============================  ==============================
workspace/<wid>        members                        nobody (services)
session/<sid>          who may see the session        nobody (services)
session/<sid>/io       who may see it; its runtime    the runtime hosting it
session/<sid>/log/*    who may see it; its runtime    the runtime hosting it
session/<sid>/notes    who may see it                 members with a writing role
person/<uid>           that person                    nobody (services)
=====================  =============================  ==============================

A session is visible to every member of its workspace, or, when private, to
its creator, its current owner and the workspace's owners and admins.
"""

from __future__ import annotations

from typing import Protocol

from trace_sync.auth.principal import Access, Principal
from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.docs.names import DocKind, DocName, parse_doc_name
from trace_sync.store.records import Role, SessionAccess, TokenKind

READ_ONLY = Access(write=False)
READ_WRITE = Access(write=True)
_RUNTIME_WRITES = {DocKind.SESSION_IO, DocKind.SESSION_LOG}


class Memberships(Protocol):
    """Who belongs to which workspace (the store's ``directory``)."""

    async def role_of(self, workspace_id: str, user_id: str) -> Role | None: ...


class SessionFacts(Protocol):
    """Who may see a session (the store's ``sessions``)."""

    async def access(self, session_id: str) -> SessionAccess | None: ...


class Policy:
    def __init__(self, memberships: Memberships, sessions: SessionFacts) -> None:
        self._memberships = memberships
        self._sessions = sessions

    async def decide(self, principal: Principal, doc_name: str) -> Access:
        """Return the access to ``doc_name``, or raise ``NotFound``."""
        try:
            name = parse_doc_name(doc_name)
        except InvalidInput as exc:
            raise NotFound(str(exc)) from exc
        if name.kind is DocKind.WORKSPACE:
            return await self._workspace(principal, name)
        if name.kind is DocKind.PERSON:
            return self._person(principal, name)
        return await self._session(principal, name)

    async def _workspace(self, principal: Principal, name: DocName) -> Access:
        assert name.workspace_id is not None  # guaranteed by the grammar
        is_user = principal.kind is TokenKind.USER
        if is_user and await self._memberships.role_of(name.workspace_id, principal.user_id):
            return READ_ONLY
        raise NotFound(f"no document {name}")

    def _person(self, principal: Principal, name: DocName) -> Access:
        if principal.kind is TokenKind.USER and principal.user_id == name.user_id:
            return READ_ONLY
        raise NotFound(f"no document {name}")

    async def _session(self, principal: Principal, name: DocName) -> Access:
        assert name.session_id is not None  # guaranteed by the grammar
        session = await self._sessions.access(name.session_id)
        if session is None:
            raise NotFound(f"no document {name}")
        if principal.kind is TokenKind.RUNTIME:
            return self._runtime(principal, session, name)
        role = await self._memberships.role_of(session.workspace_id, principal.user_id)
        if role is None or not can_see(principal.user_id, role, session):
            raise NotFound(f"no document {name}")
        writable = name.kind is DocKind.SESSION_NOTES and role.can_write
        return READ_WRITE if writable else READ_ONLY

    def _runtime(self, principal: Principal, session: SessionAccess, name: DocName) -> Access:
        if session.runtime_id is None or session.runtime_id != principal.runtime_id:
            raise NotFound(f"no document {name}")
        return READ_WRITE if name.kind in _RUNTIME_WRITES else READ_ONLY


def can_see(user_id: str, role: Role, session: SessionAccess) -> bool:
    """The one visibility rule: private sessions show only to their creator,
    their current owner, and the workspace's owners and admins."""
    if not session.private or role.is_admin:
        return True
    return user_id in (session.creator_id, session.owner_id)
