"""Workspaces and their members, mirrored into the ``workspace/<wid>`` document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from trace_sync.auth.principal import Principal
from trace_sync.auth.tokens import hash_secret, new_code
from trace_sync.contract.errors import Conflict, Forbidden, NotFound
from trace_sync.docs import typed
from trace_sync.docs.entries import MemberEntry, TimelineEvent, WorkspaceMeta
from trace_sync.docs.layouts import WORKSPACE
from trace_sync.docs.migrations import migrate
from trace_sync.docs.names import DocKind
from trace_sync.services.access import require_admin, require_instance_admin, role_in
from trace_sync.services.accounts import AccountService
from trace_sync.services.authority import Authority, AuthorityChanged, LocalAuthority, Reason
from trace_sync.services.documents import SERVICES, Documents, event, workspace_doc
from trace_sync.settings import WorkspaceCreation
from trace_sync.store import Store
from trace_sync.store.database import now
from trace_sync.store.records import Invitation, Role, User, Workspace

#: How long an invitation stays good if nobody accepts it.
INVITATION_LIFETIME = timedelta(days=7)
#: Open invitations per workspace: enough for a team's onboarding day.
MAX_OPEN_INVITATIONS = 100
#: Unknown, used, expired and malformed codes all get this one answer.
NO_INVITATION = "no open invitation with this code (it may have been used or expired)"


@dataclass(frozen=True)
class MemberView:
    user: User
    role: Role


@dataclass(frozen=True)
class AddedMember:
    member: MemberView
    #: The first token of the user created by this call (shown once).
    token: str


@dataclass(frozen=True)
class IssuedInvitation:
    """A fresh invitation: the only moment its code is known to anyone."""

    invitation: Invitation
    code: str


class WorkspaceService:
    def __init__(
        self,
        store: Store,
        documents: Documents,
        accounts: AccountService,
        creation: WorkspaceCreation = "admins",
        *,
        authority: Authority | None = None,
    ) -> None:
        self._store = store
        self._documents = documents
        self._accounts = accounts
        self._creation = creation
        self._authority = authority or LocalAuthority()

    async def create(self, actor: Principal, name: str) -> Workspace:
        """A new workspace owned by the actor (instance admins only unless
        ``TRACE_WORKSPACE_CREATION=everyone``)."""
        if self._creation == "admins":
            await require_instance_admin(self._store, actor, "creating a workspace")
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
        self,
        actor: Principal,
        workspace_id: str,
        name: str,
        role: Role,
        *,
        instance_admin: bool = False,
    ) -> AddedMember:
        """Create the account ``name`` (with a first token) as a member.

        Accounts belong to the instance, so this is an instance admin's call;
        an existing user joins only by accepting an invitation (:meth:`invite`).
        Every refusal comes before the name is looked up."""
        await self._require_granting(actor, workspace_id, role)
        await require_instance_admin(self._store, actor, "creating accounts")
        try:
            user = await self._store.accounts.create_user(name, instance_admin=instance_admin)
        except Conflict as exc:
            raise Conflict(await self._taken(workspace_id, name)) from exc
        token = await self._accounts.issue_token(user.id, label="first token")
        await self._store.directory.set_member(workspace_id, user.id, role)
        change = event(actor.user_id, "member.added", user_id=user.id, role=role.value)
        await self.project(workspace_id, change)
        return AddedMember(MemberView(user, role), token.token)

    async def _taken(self, workspace_id: str, name: str) -> str:
        # Only instance admins get here: they may know which accounts exist.
        user = await self._store.accounts.find_user(name)
        if await self._store.directory.role_of(workspace_id, user.id) is not None:
            return f"{name} is already a member; change their role instead"
        return f"{name} already has an account; invite them (trace workspace invite)"

    async def invite(self, actor: Principal, workspace_id: str, role: Role) -> IssuedInvitation:
        """An invitation to join with ``role``: good once, for a week."""
        await self._require_granting(actor, workspace_id, role)
        if await self._store.invitations.count_open(workspace_id) >= MAX_OPEN_INVITATIONS:
            raise Conflict(
                f"{MAX_OPEN_INVITATIONS} invitations are open; wait for some to be used or expire"
            )
        code = new_code()
        invitation = await self._store.invitations.add(
            workspace_id,
            hash_secret(code),
            role=role,
            created_by=actor.user_id,
            expires_at=now() + INVITATION_LIFETIME,
        )
        return IssuedInvitation(invitation, code)

    async def join(self, actor: Principal, code: str) -> tuple[Workspace, Role]:
        """Accept an invitation: the actor becomes a member with its role."""
        code_hash = hash_secret(code)
        found = await self._store.invitations.find_open(code_hash)
        if found is None or not await self._may_still_grant(found):
            raise NotFound(NO_INVITATION)
        if await self._store.directory.role_of(found.workspace_id, actor.user_id) is not None:
            raise Conflict("you are already a member of this workspace")
        invitation = await self._store.invitations.accept(code_hash, actor.user_id)
        if invitation is None:  # someone else took it a moment ago
            raise NotFound(NO_INVITATION)
        await self._store.directory.set_member(
            invitation.workspace_id, actor.user_id, invitation.role
        )
        change = event(
            actor.user_id,
            "member.joined",
            user_id=actor.user_id,
            role=invitation.role.value,
            invited_by=invitation.created_by,
        )
        await self.project(invitation.workspace_id, change)
        workspace = await self._store.directory.get_workspace(invitation.workspace_id)
        return workspace, invitation.role

    async def _may_still_grant(self, invitation: Invitation) -> bool:
        # An invitation speaks for its maker: it lapses when they lose the power to grant it.
        role = await self._store.directory.role_of(invitation.workspace_id, invitation.created_by)
        if role is None or not role.is_admin:
            return False
        return invitation.role is not Role.OWNER or role is Role.OWNER

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
        await self._authority.publish(AuthorityChanged(Reason.ROLE, user_id=user_id))
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
        await self._authority.publish(AuthorityChanged(Reason.MEMBERSHIP, user_id=user_id))
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
