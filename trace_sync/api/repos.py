"""Repositories of a workspace."""

from __future__ import annotations

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.pages import PageQuery, page_of
from trace_sync.api.session_models import RepoIn, RepoOut, RepoPage, RepoSetupBody
from trace_sync.store.records import RepoSetup

REPOS = "/api/workspaces/{wid}/repos"


async def list_repos(call: Call) -> RepoPage:
    repos = await call.ctx.repos.in_workspace(call.actor, call.path["wid"])
    page, cursor = page_of(repos, lambda r: (r.name, r.id), call.query)
    return RepoPage(items=[RepoOut.of(r) for r in page], next_cursor=cursor)


async def add_repo(call: Call) -> RepoOut:
    body = call.body
    return RepoOut.of(
        await call.ctx.repos.add(call.actor, call.path["wid"], body.source, body.name)
    )


async def get_repo(call: Call) -> RepoOut:
    return RepoOut.of(await call.ctx.repos.get(call.actor, call.path["wid"], call.path["rid"]))


async def set_setup(call: Call) -> RepoOut:
    body: RepoSetupBody = call.body
    setup = RepoSetup(
        tuple(body.copy_files), body.command, body.update_mode, body.forge, body.forge_url
    )
    repo = await call.ctx.repos.set_setup(call.actor, call.path["wid"], call.path["rid"], setup)
    return RepoOut.of(repo)


async def remove_repo(call: Call) -> None:
    await call.ctx.repos.remove(call.actor, call.path["wid"], call.path["rid"])


endpoints = [
    Endpoint("GET", REPOS, list_repos, "Connected repos", query=PageQuery, response=RepoPage),
    Endpoint(
        "POST",
        REPOS,
        add_repo,
        "Connect a checkout on the server's host (admins) or clone a git URL (writers)",
        body=RepoIn,
        response=RepoOut,
        status=201,
    ),
    Endpoint("GET", f"{REPOS}/{{rid}}", get_repo, "A connected repo", response=RepoOut),
    Endpoint(
        "PUT",
        f"{REPOS}/{{rid}}/setup",
        set_setup,
        "Files copied into and a command run in each new worktree (admins)",
        body=RepoSetupBody,
        response=RepoOut,
    ),
    Endpoint(
        "DELETE",
        f"{REPOS}/{{rid}}",
        remove_repo,
        "Disconnect a repo no session uses (who added it, or admins)",
        status=204,
    ),
]
