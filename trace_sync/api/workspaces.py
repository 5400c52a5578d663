"""Workspaces and their members."""

from __future__ import annotations

from trace_sync.api.accounts import user_out
from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.models import (
    AddMemberIn,
    InvitationIn,
    InvitationOut,
    MemberOut,
    MemberPage,
    NewMemberOut,
    RoleIn,
    WorkspaceIn,
    WorkspaceOut,
    WorkspacePage,
)
from trace_sync.api.pages import PageQuery, page_of
from trace_sync.services.workspaces import MemberView
from trace_sync.store.records import Role, Workspace

WORKSPACE = "/api/workspaces/{wid}"
MEMBERS = f"{WORKSPACE}/members"


def workspace_out(workspace: Workspace, role: Role) -> WorkspaceOut:
    return WorkspaceOut(id=workspace.id, name=workspace.name, role=role)


def member_out(member: MemberView) -> MemberOut:
    return MemberOut(user=user_out(member.user), role=member.role)


async def list_workspaces(call: Call) -> WorkspacePage:
    found = await call.ctx.workspaces.of_member(call.actor)
    page, cursor = page_of(found, lambda f: (f[0].name.lower(), f[0].id), call.query)
    return WorkspacePage(items=[workspace_out(w, r) for w, r in page], next_cursor=cursor)


async def create_workspace(call: Call) -> WorkspaceOut:
    workspace = await call.ctx.workspaces.create(call.actor, call.body.name)
    return workspace_out(workspace, Role.OWNER)


async def get_workspace(call: Call) -> WorkspaceOut:
    return workspace_out(*await call.ctx.workspaces.get(call.actor, call.path["wid"]))


async def rename_workspace(call: Call) -> WorkspaceOut:
    workspace = await call.ctx.workspaces.rename(call.actor, call.path["wid"], call.body.name)
    _, role = await call.ctx.workspaces.get(call.actor, workspace.id)
    return workspace_out(workspace, role)


async def list_members(call: Call) -> MemberPage:
    members = await call.ctx.workspaces.members(call.actor, call.path["wid"])
    page, cursor = page_of(members, lambda m: (m.user.name, m.user.id), call.query)
    return MemberPage(items=[member_out(m) for m in page], next_cursor=cursor)


async def add_member(call: Call) -> NewMemberOut:
    wid, body = call.path["wid"], call.body
    added = await call.ctx.workspaces.add_member(
        call.actor, wid, body.name, body.role, instance_admin=body.instance_admin
    )
    member = added.member
    return NewMemberOut(user=user_out(member.user), role=member.role, token=added.token)


async def invite(call: Call) -> InvitationOut:
    issued = await call.ctx.workspaces.invite(call.actor, call.path["wid"], call.body.role)
    invitation = issued.invitation
    return InvitationOut(
        code=issued.code,
        workspace_id=invitation.workspace_id,
        role=invitation.role,
        expires_at=invitation.expires_at,
    )


async def join(call: Call) -> WorkspaceOut:
    return workspace_out(*await call.ctx.workspaces.join(call.actor, call.path["code"]))


async def set_role(call: Call) -> MemberOut:
    wid, uid = call.path["wid"], call.path["uid"]
    return member_out(await call.ctx.workspaces.set_role(call.actor, wid, uid, call.body.role))


async def remove_member(call: Call) -> None:
    await call.ctx.workspaces.remove_member(call.actor, call.path["wid"], call.path["uid"])


endpoints = [
    Endpoint(
        "GET",
        "/api/workspaces",
        list_workspaces,
        "Your workspaces",
        query=PageQuery,
        response=WorkspacePage,
    ),
    Endpoint(
        "POST",
        "/api/workspaces",
        create_workspace,
        "Create a workspace (you become its owner; instance admins only unless"
        " TRACE_WORKSPACE_CREATION=everyone)",
        body=WorkspaceIn,
        response=WorkspaceOut,
        status=201,
    ),
    Endpoint("GET", WORKSPACE, get_workspace, "A workspace and your role", response=WorkspaceOut),
    Endpoint(
        "PATCH",
        WORKSPACE,
        rename_workspace,
        "Rename a workspace (admins)",
        body=WorkspaceIn,
        response=WorkspaceOut,
    ),
    Endpoint(
        "GET", MEMBERS, list_members, "Members and roles", query=PageQuery, response=MemberPage
    ),
    Endpoint(
        "POST",
        MEMBERS,
        add_member,
        "Create an account as a member and return its first token (instance admins);"
        " existing users join by invitation",
        body=AddMemberIn,
        response=NewMemberOut,
        status=201,
    ),
    Endpoint(
        "POST",
        f"{WORKSPACE}/invitations",
        invite,
        "Invite someone: a one-time code to join with a role, good for 7 days (admins)",
        body=InvitationIn,
        response=InvitationOut,
        status=201,
    ),
    Endpoint(
        "POST",
        "/api/invitations/{code}/accept",
        join,
        "Accept an invitation: you join its workspace with its role",
        response=WorkspaceOut,
    ),
    Endpoint(
        "PATCH",
        f"{MEMBERS}/{{uid}}",
        set_role,
        "Change a member's role (admins; owners for owners)",
        body=RoleIn,
        response=MemberOut,
    ),
    Endpoint(
        "DELETE",
        f"{MEMBERS}/{{uid}}",
        remove_member,
        "Remove a member (admins), or leave (yourself)",
        status=204,
    ),
]
