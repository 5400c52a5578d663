"""A session's pull request on GitHub, GitLab and Gitea, against scripted forge
servers (their documented shapes): the branch really pushed over smart HTTP, the
request opened with a draft from the session, its reviews and checks shown,
merged when the forge allows, its token a workspace secret only."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import eventually
from tests.hosting.conftest import Hosting
from tests.hosting.test_worktrees import idle_session
from tests.support.git import git
from tests.support.git_http import git_http_server
from tests.support.scripted_forges import ScriptedForge, scripted_forge
from trace_sync.docs.layouts import SESSION, WORKSPACE
from trace_sync.docs.typed import root_of

TOKEN = "forge-token-1234567890"


@dataclass
class Remote:
    bare: Path
    host: str


@pytest.fixture
def remote(hosting: Hosting, tmp_path: Path) -> Iterator[Remote]:
    bare = tmp_path / "served" / "acme" / "shop.git"
    bare.parent.mkdir(parents=True)
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(bare, "config", "http.receivepack", "true")
    with git_http_server(tmp_path / "served") as base:
        git(Path(hosting.bed.repo.path), "remote", "add", "origin", f"{base}/acme/shop.git")
        yield Remote(bare, base.removeprefix("http://"))


async def declare(hosting: Hosting, forge: ScriptedForge, remote: Remote, token: str) -> None:
    bed = hosting.bed
    setup = f"/api/workspaces/{bed.workspace_id}/repos/{bed.repo.id}/setup"
    done = await hosting.api("PUT", setup, forge=forge.kind, forge_url=forge.api_url)
    assert done.status_code == 200, done.text
    secret = f"/api/workspaces/{bed.workspace_id}/secrets/forge_token:{remote.host}"
    done = await hosting.api("PUT", secret, value=token)
    assert done.status_code == 200 and "value" not in done.json(), done.text


@pytest.mark.parametrize("kind", ["github", "gitlab", "gitea"])
async def test_a_pull_request_is_opened_shown_and_merged(
    hosting: Hosting, remote: Remote, kind: str
) -> None:
    with scripted_forge(kind, TOKEN, remote.bare) as forge:
        await declare(hosting, forge, remote, TOKEN)
        sid = await idle_session(hosting, title="Add the login page")
        (hosting.worktree(sid) / "login.html").write_text("<form></form>\n")
        async with hosting.io(sid) as io:
            await eventually(lambda: "login.html" in io.files())
        opened = await hosting.api("POST", f"/api/sessions/{sid}/pull-request")
        assert opened.status_code == 201, opened.text
        pull = forge.pulls[opened.json()["number"]]
        assert pull["title"] == "Add the login page" and pull["base"] == "main"
        assert pull["sha"] == git(remote.bare, "rev-parse", f"refs/heads/{pull['head']}")
        assert "`login.html` untracked" in pull["body"] or "`login.html` added" in pull["body"]
        assert f"Trace-Session: {sid}" in pull["body"]
        shown = (await hosting.api("GET", f"/api/sessions/{sid}/pull-request")).json()
        assert shown["state"] == "open" and shown["mergeable"] is True
        assert shown["reviews"] == [{"author": "rita", "state": "approved"}]
        assert [c["state"] for c in shown["checks"]] == ["success"]
        merged = await hosting.http.post(
            f"/api/sessions/{sid}/pull-request/merge",
            json={"method": "squash"},
            headers=hosting.bed.headers(hosting.bed.owner),
        )
        assert merged.status_code == 200 and merged.json()["state"] == "merged", merged.text
        [asked] = [r.body for r in forge.requests if r.path.endswith("/merge")]
        assert asked in ({"merge_method": "squash"}, {"squash": True}, {"Do": "squash"})
    async with hosting.bed.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
        kept = dict(root_of(doc, SESSION, "pull_request"))
        whole = json.dumps(doc.get_update().hex())
    assert (kept["state"], kept["forge"], kept["head"]) == ("merged", kind, pull["head"])
    assert TOKEN.encode().hex() not in whole  # the token is in no document


async def test_forge_refusals_come_back_with_the_forges_reason(
    hosting: Hosting, remote: Remote
) -> None:
    with scripted_forge("github", TOKEN, remote.bare) as forge:
        await declare(hosting, forge, remote, "a-wrong-token")
        sid = await idle_session(hosting)
        refused = await hosting.api("POST", f"/api/sessions/{sid}/pull-request")
        assert refused.status_code == 409 and "GitHub answered 401: Bad credentials" in refused.text
        await declare(hosting, forge, remote, TOKEN)
        forge.mergeable = False
        opened = await hosting.api("POST", f"/api/sessions/{sid}/pull-request", title="Mine")
        assert opened.status_code == 201, opened.text
        again = await hosting.api("POST", f"/api/sessions/{sid}/pull-request")
        assert again.status_code == 409 and "already has a pull request" in again.text
        merged = await hosting.api("POST", f"/api/sessions/{sid}/pull-request/merge")
        assert merged.status_code == 409 and "not mergeable" in merged.text
    listed = await hosting.api("GET", f"/api/workspaces/{hosting.bed.workspace_id}/secrets")
    assert [s["name"] for s in listed.json()["items"]] == [f"forge_token:{remote.host}"]
    assert TOKEN not in listed.text
    # A copy of the database alone does not give the token away: it is stored sealed.
    store = hosting.bed.live.ctx.store
    stored = await store.secrets.sealed(hosting.bed.workspace_id, f"forge_token:{remote.host}")
    assert TOKEN.encode() not in stored


def cli(hosting: Hosting, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TRACE_URL=hosting.bed.live.url, TRACE_TOKEN=hosting.bed.owner.token)
    script = str(Path(sys.executable).parent / "trace")
    return subprocess.run(
        [script, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


async def test_the_cli_sets_the_token_from_stdin_and_opens_and_shows_a_pull_request(
    hosting: Hosting, remote: Remote
) -> None:
    with scripted_forge("gitea", TOKEN, remote.bare) as forge:
        await declare(hosting, forge, remote, "to-be-replaced")
        name = f"forge_token:{remote.host}"
        wid = hosting.bed.workspace_id
        args = ("workspace", "secret", "set", name, "--workspace", wid)
        done = await asyncio.to_thread(cli, hosting, *args, stdin=f"{TOKEN}\n")
        assert done.returncode == 0 and TOKEN not in done.stdout, done.stderr
        sid = await idle_session(hosting, title="Ship it")
        opened = await asyncio.to_thread(cli, hosting, "session", "pr", sid, "open")
        assert opened.returncode == 0 and "#1 open: Ship it" in opened.stdout, opened.stderr
        shown = await asyncio.to_thread(cli, hosting, "session", "pr", sid)
        assert "review  rita: approved" in shown.stdout and "check   ci: success" in shown.stdout


async def test_the_session_list_shows_the_pull_request_and_its_state(
    hosting: Hosting, remote: Remote
) -> None:
    wid = hosting.bed.workspace_id
    with scripted_forge("github", TOKEN, remote.bare) as forge:
        await declare(hosting, forge, remote, TOKEN)
        sid = await idle_session(hosting, title="Ship the list")
        other = await idle_session(hosting, title="No pull request")
        opened = await hosting.api("POST", f"/api/sessions/{sid}/pull-request")
        assert opened.status_code == 201, opened.text
        n = opened.json()["number"]
        listed = await listed_rows(hosting)
        assert (listed[sid]["pr_number"], listed[sid]["pr_state"]) == (n, "open")
        assert listed[other]["pr_number"] is None
        await hosting.api("GET", f"/api/sessions/{sid}/pull-request")  # its checks, looked at
        table = await asyncio.to_thread(cli, hosting, "session", "list", "--workspace", wid)
        [row] = [line for line in table.stdout.splitlines() if line.startswith(sid)]
        assert f"#{n} open (checks: success)" in row, table.stdout
        merged = await hosting.api("POST", f"/api/sessions/{sid}/pull-request/merge")
        assert merged.status_code == 200, merged.text
    assert (await listed_rows(hosting))[sid]["pr_state"] == "merged"
    args = ("session", "list", "--workspace", wid, "--json")
    as_json = json.loads((await asyncio.to_thread(cli, hosting, *args)).stdout)
    [mine] = [s for s in as_json if s["id"] == sid]
    assert (mine["pr_number"], mine["pr_state"]) == (n, "merged")
    async with hosting.bed.live.ctx.sync.rooms.document(f"workspace/{wid}") as doc:
        indexed = dict(root_of(doc, WORKSPACE, "sessions")[sid])
    assert (indexed["pr_number"], indexed["pr_state"]) == (n, "merged")


async def listed_rows(hosting: Hosting) -> dict[str, dict[str, object]]:
    found = await hosting.api("GET", f"/api/workspaces/{hosting.bed.workspace_id}/sessions")
    assert found.status_code == 200, found.text
    return {s["id"]: s for s in found.json()["items"]}
