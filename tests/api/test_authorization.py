"""The authorization matrix over HTTP: each role, a non-member, a revoked token
and a runtime token, against every operation; and private sessions."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

import httpx

from tests.api.conftest import Team
from trace_sync.contract.session_status import SessionStatus

Op = Callable[[Team, httpx.AsyncClient], Awaitable[httpx.Response]]
PRINCIPALS = ("owner", "admin", "member", "viewer", "outsider", "revoked", "runtime")
_names = itertools.count()

#: Who may do it: every member, those with a writing role, admins, or the
#: session's owner and admins (the sessions below are started by the owner).
MAY = {
    "members": {"owner", "admin", "member", "viewer"},
    "writers": {"owner", "admin", "member"},
    "admins": {"owner", "admin"},
    # the owner made on first start is also the instance admin; the admin is not
    "instance admins": {"owner"},
    # the owner starts the sessions these cases act on
    "session owner": {"owner"},
}


async def running(t: Team) -> str:
    sid = str((await t.start())["id"])
    await t.report(sid, SessionStatus.RUNNING)
    return sid


async def stopped(t: Team) -> str:
    sid = await running(t)
    assert (await t.api("owner").post(f"/api/sessions/{sid}/stop")).status_code == 200
    return sid


async def owner_post(t: Team, path: str, body: dict[str, object]) -> dict[str, object]:
    response = await t.api("owner").post(path, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


async def new_person(t: Team) -> str:
    added = await owner_post(t, f"/api/workspaces/{t.wid}/members", {"name": f"p{next(_names)}"})
    return str(added["user"]["id"])  # type: ignore[index]


async def new_repo(t: Team) -> str:
    repo = (await t.api("owner").get(f"/api/workspaces/{t.wid}/repos/{t.repo_id}")).json()
    body = {"source": repo["source"], "name": f"copy{next(_names)}"}
    return str((await owner_post(t, f"/api/workspaces/{t.wid}/repos", body))["id"])


async def lifecycle(t: Team, c: httpx.AsyncClient, command: str, before: str) -> httpx.Response:
    sid = await running(t)
    owner = t.api("owner")
    for step in {"paused": ["pause"], "stopped": ["stop"], "archived": ["stop", "archive"]}.get(
        before, []
    ):
        assert (await owner.post(f"/api/sessions/{sid}/{step}")).status_code == 200
    return await c.post(f"/api/sessions/{sid}/{command}")


W = "/api/workspaces/{wid}"
CASES: list[tuple[str, str, int, Op]] = [
    ("list workspaces", "members", 200, lambda t, c: c.get("/api/workspaces")),
    ("show workspace", "members", 200, lambda t, c: c.get(f"/api/workspaces/{t.wid}")),
    (
        "rename workspace",
        "admins",
        200,
        lambda t, c: c.patch(f"/api/workspaces/{t.wid}", json={"name": "Renamed"}),
    ),
    ("list members", "members", 200, lambda t, c: c.get(f"/api/workspaces/{t.wid}/members")),
    (
        "invite",
        "admins",
        201,
        lambda t, c: c.post(f"/api/workspaces/{t.wid}/invitations", json={"role": "viewer"}),
    ),
    (
        "create an account",
        "instance admins",
        201,
        lambda t, c: c.post(f"/api/workspaces/{t.wid}/members", json={"name": f"n{next(_names)}"}),
    ),
    ("change role", "admins", 200, lambda t, c: _set_role(t, c)),
    ("remove member", "admins", 204, lambda t, c: _remove_member(t, c)),
    ("list repos", "members", 200, lambda t, c: c.get(f"/api/workspaces/{t.wid}/repos")),
    ("show repo", "members", 200, lambda t, c: c.get(f"/api/workspaces/{t.wid}/repos/{t.repo_id}")),
    ("connect a local repo", "instance admins", 201, lambda t, c: _add_repo(t, c)),
    ("remove someone's repo", "admins", 204, lambda t, c: _remove_repo(t, c)),
    ("list sessions", "members", 200, lambda t, c: c.get(f"/api/workspaces/{t.wid}/sessions")),
    (
        "start session",
        "writers",
        201,
        lambda t, c: c.post(
            f"/api/workspaces/{t.wid}/sessions", json={"repo_id": t.repo_id, "tool": "shell"}
        ),
    ),
    ("show session", "members", 200, lambda t, c: _on_session(t, c, "GET", "")),
    ("timeline", "members", 200, lambda t, c: _on_session(t, c, "GET", "/timeline")),
    (
        "rename session",
        "writers",
        200,
        lambda t, c: _on_session(t, c, "PATCH", "", {"title": "new"}),
    ),
    (
        "send prompt",
        "writers",
        201,
        lambda t, c: _prompt(t, c, "claude_code"),
    ),
    (
        # A shell runs its prompts as commands: before a runtime (and its owner's
        # grant) is known, only the session's owner may queue them.
        "send a command to a shell session with no runtime yet",
        "session owner",
        201,
        lambda t, c: _prompt(t, c, "shell"),
    ),
    ("pause", "writers", 200, lambda t, c: lifecycle(t, c, "pause", "running")),
    ("resume", "writers", 200, lambda t, c: lifecycle(t, c, "resume", "paused")),
    ("stop", "writers", 200, lambda t, c: lifecycle(t, c, "stop", "running")),
    ("archive", "writers", 200, lambda t, c: lifecycle(t, c, "archive", "stopped")),
    ("restore", "writers", 200, lambda t, c: lifecycle(t, c, "restore", "archived")),
    ("fork", "writers", 201, lambda t, c: _on_session(t, c, "POST", "/fork", {})),
    ("hand off", "admins", 200, lambda t, c: _hand_off(t, c)),
    ("delete session", "admins", 204, lambda t, c: _delete(t, c)),
    (
        "search",
        "members",
        200,
        lambda t, c: c.get(f"/api/workspaces/{t.wid}/search", params={"q": "shell"}),
    ),
]


async def _set_role(t: Team, c: httpx.AsyncClient) -> httpx.Response:
    uid = await new_person(t)
    return await c.patch(f"/api/workspaces/{t.wid}/members/{uid}", json={"role": "viewer"})


async def _remove_member(t: Team, c: httpx.AsyncClient) -> httpx.Response:
    return await c.delete(f"/api/workspaces/{t.wid}/members/{await new_person(t)}")


async def _add_repo(t: Team, c: httpx.AsyncClient) -> httpx.Response:
    repo = (await t.api("owner").get(f"/api/workspaces/{t.wid}/repos/{t.repo_id}")).json()
    body = {"source": repo["source"], "name": f"mine{next(_names)}"}
    return await c.post(f"/api/workspaces/{t.wid}/repos", json=body)


async def _remove_repo(t: Team, c: httpx.AsyncClient) -> httpx.Response:
    return await c.delete(f"/api/workspaces/{t.wid}/repos/{await new_repo(t)}")


async def _on_session(
    t: Team, c: httpx.AsyncClient, method: str, tail: str, body: object = None
) -> httpx.Response:
    sid = await running(t)
    return await c.request(method, f"/api/sessions/{sid}{tail}", json=body)


async def _prompt(t: Team, c: httpx.AsyncClient, tool: str) -> httpx.Response:
    sid = str((await t.start(tool=tool))["id"])
    await t.report(sid, SessionStatus.RUNNING)
    return await c.post(f"/api/sessions/{sid}/prompts", json={"text": "go on"})


async def _hand_off(t: Team, c: httpx.AsyncClient) -> httpx.Response:
    sid = await running(t)
    return await c.post(f"/api/sessions/{sid}/handoff", json={"owner_id": t.users["member"]})


async def _delete(t: Team, c: httpx.AsyncClient) -> httpx.Response:
    return await c.delete(f"/api/sessions/{await stopped(t)}")


def expected(who: str, may: str, ok: int, case: str) -> int:
    if who == "revoked":
        return 401
    if who == "runtime":
        return 403  # a bridge's token never acts for its user over HTTP
    if who == "outsider":
        return 200 if case == "list workspaces" else 404
    return ok if who in MAY[may] else 403


async def test_every_operation_for_every_kind_of_caller(team: Team) -> None:
    wrong = []
    for case, may, ok, op in CASES:
        for who in PRINCIPALS:
            response = await op(team, team.api(who))
            want = expected(who, may, ok, case)
            if response.status_code != want:
                wrong.append(
                    f"{case} as {who}: {response.status_code} (want {want}) {response.text}"
                )
            if response.is_error:
                assert set(response.json()) == {"error"}  # one error body shape
    assert wrong == []


async def test_private_sessions_exist_only_for_creator_owner_and_admins(team: Team) -> None:
    secret = await team.start("member", private=True, title="secret plan", prompt="hidden words")
    sid = secret["id"]
    for who, status in [("member", 200), ("admin", 200), ("owner", 200), ("viewer", 404)]:
        assert (await team.api(who).get(f"/api/sessions/{sid}")).status_code == status, who
        listed = (await team.api(who).get(f"/api/workspaces/{team.wid}/sessions")).json()
        assert (sid in {s["id"] for s in listed["items"]}) == (status == 200), who
        found = await team.api(who).get(
            f"/api/workspaces/{team.wid}/search", params={"q": "hidden"}
        )
        assert (sid in {h["session"]["id"] for h in found.json()["items"]}) == (status == 200), who
    # what a viewer cannot see, it cannot touch either: the same 404, never a 403
    for method, tail, body in [
        ("POST", "/pause", None),
        ("POST", "/prompts", {"text": "hi"}),
        ("DELETE", "", None),
    ]:
        path = f"/api/sessions/{sid}{tail}"
        response = await team.api("viewer").request(method, path, json=body)
        assert response.status_code == 404
