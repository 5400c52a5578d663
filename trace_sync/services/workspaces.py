"""Workspaces and their members, mirrored into the ``workspace/<wid>`` document."""

from __future__ import annotations

from dataclasses import dataclass

from trace_sync.auth.principal import Principal
from trace_sync.docs import typed
from trace_sync.docs.entries import MemberEntry, TimelineEvent, WorkspaceMeta
from trace_sync.docs.layouts import WORKSPACE
from trace_sync.docs.migrations import migrate
from trace_sync.docs.names import DocKind
from trace_sync.errors import Conflict, Forbidden, NotFound
from trace_sync.services.access import require_admin, role_in
from trace_sync.services.accounts import AccountService, IssuedToken
from trace_sync.services.documents import SERVICES, Documents, event, workspace_doc
from trace_sync.store import Store
from trace_sync.store.records import Role, User, Workspace


@dataclass(frozen=True)
class MemberView:
    user: User
    role: Role


@dataclass(frozen=True)
class AddedMember:
    member: MemberView
    #: The first token of a user created by this call (None for an existing user).
    token: str | None


class WorkspaceService:
    def __init__(self, store: Store, documents: Documents, accounts: AccountService) -> None:
        self._store = store
        self._documents = documents
        self._accounts = accounts

    async def create(self, actor: Principal, name: str) -> Workspace:
        workspace = await self._store.directory.create_workspace(name, actor.user_id)
        await self.project(workspace.id, event(actor.user_id, "workspace.created", name=name))
        return workspace

    async def of_member(self, actor: Principal) -> list[tuple[Workspace, Role]]:
        found = []
        for workspace in await self._store.directory.list_workspaces(actor.user_id):
            found.append((workspace, await role_in(self._store, workspace.id, actor)))
        return found

    async def get(self, actor: Principal, workspace_id: str) -> tuple[Workspace, Role]:
        role = await role_in(self._store, workspace_id, actor)
        return await self._store.directory.get_workspace(workspace_id), role

    async def rename(self, actor: Principal, workspace_id: str, name: str) -> Workspace:
        require_admin(await role_in(self._store, workspace_id, actor), "renaming a workspace")
        workspace = await self._store.directory.rename_workspace(workspace_id, name)
        await self.project(workspace_id, event(actor.user_id, "workspace.renamed", name=name))
        return workspace

    async def members(self, actor: Principal, workspace_id: str) -> list[MemberView]:
        await role_in(self._store, workspace_id, actor)
        return await self._members(workspace_id)

    async def add_member(
        self, actor: Principal, workspace_id: str, name: str, role: Role
    ) -> AddedMember:
        """Add the user called ``name``, creating them (with a first token) if new."""
        await self._require_granting(actor, workspace_id, role)
        token: IssuedToken | None = None
        try:
            user = await self._store.accounts.find_user(name)
        except NotFound:
            user = await self._store.accounts.create_user(name)
            token = await self._accounts.issue_token(user.id, label="first token")
        if await self._store.directory.role_of(workspace_id, user.id) is not None:
            raise Conflict(f"{name} is already a member; change their role instead")
        await self._store.directory.set_member(workspace_id, user.id, role)
        change = event(actor.user_id, "member.added", user_id=user.id, role=role.value)
        await self.project(workspace_id, change)
        return AddedMember(MemberView(user, role), token.token if token else None)

    async def set_role(
        self, actor: Principal, workspace_id: str, user_id: str, role: Role
    ) -> MemberView:
        await self._require_granting(actor, workspace_id, role)
        current = await self._member_role(workspace_id, user_id)
        if current is Role.OWNER:
            await self._require_granting(actor, workspace_id, Role.OWNER)
            if role is not Role.OWNER:
                await self._keep_an_owner(workspace_id)
        await self._store.directory.set_member(workspace_id, user_id, role)
        change = event(actor.user_id, "member.role_changed", user_id=user_id, role=role.value)
        await self.project(workspace_id, change)
        return MemberView(await self._store.accounts.get_user(user_id), role)

    async def remove_member(self, actor: Principal, workspace_id: str, user_id: str) -> None:
        current = await self._member_role(workspace_id, user_id)
        if user_id != actor.user_id:  # anyone may leave; removing others takes an admin
            await self._require_granting(actor, workspace_id, current)
        if current is Role.OWNER:
            await self._keep_an_owner(workspace_id)
        await self._store.directory.remove_member(workspace_id, user_id)
        await self.project(workspace_id, event(actor.user_id, "member.removed", user_id=user_id))

    async def project(self, workspace_id: str, change: TimelineEvent | None = None) -> None:
        """Bring ``workspace/<wid>``'s meta and members in line with the store,
        and append ``change`` to its timeline."""
        workspace = await self._store.directory.get_workspace(workspace_id)
        members = await self._members(workspace_id)
        async with self._documents.document(workspace_doc(workspace_id)) as doc:
            with doc.transaction(origin=SERVICES):
                migrate(doc, DocKind.WORKSPACE, origin=SERVICES)
                meta = WorkspaceMeta(id=workspace.id, name=workspace.name)
                typed.put_fields(doc, WORKSPACE, "meta", meta, origin=SERVICES)
                current = {m.user.id for m in members}
                for user_id in set(typed.root_of(doc, WORKSPACE, "members").keys()) - current:
                    typed.delete(doc, WORKSPACE, "members", user_id, origin=SERVICES)
                for m in members:
                    entry = MemberEntry(name=m.user.name, role=m.role.value)
                    typed.put(doc, WORKSPACE, "members", m.user.id, entry, origin=SERVICES)
                if change is not None:
                    typed.append(doc, WORKSPACE, "timeline", change, origin=SERVICES)

    async def _members(self, workspace_id: str) -> list[MemberView]:
        members = await self._store.directory.members(workspace_id)
        users = {u.id: u for u in await self._store.accounts.list_users()}
        return [MemberView(users[m.user_id], m.role) for m in members]

    async def _member_role(self, workspace_id: str, user_id: str) -> Role:
        role = await self._store.directory.role_of(workspace_id, user_id)
        if role is None:
            raise NotFound(f"{user_id} is not a member of {workspace_id}")
        return role

    async def _require_granting(self, actor: Principal, workspace_id: str, role: Role) -> None:
        mine = await role_in(self._store, workspace_id, actor)
        require_admin(mine, "managing members")
        if role is Role.OWNER and mine is not Role.OWNER:
            raise Forbidden("only an owner can make, change or remove an owner")

    async def _keep_an_owner(self, workspace_id: str) -> None:
        owners = [
            m for m in await self._store.directory.members(workspace_id) if m.role is Role.OWNER
        ]
        if len(owners) <= 1:
            raise Conflict("a workspace keeps at least one owner; make someone else owner first")
