"""Local mode and the ``trace`` CLI against a real server process."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server_process import ROOT, ServerProcess, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data") as live:
        yield live


def trace(
    server: ServerProcess, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = server.env()
    if token:
        env["TRACE_TOKEN"] = token
    return subprocess.run(
        [str(Path(sys.executable).parent / "trace"), *args],  # the installed console script
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_first_start_makes_a_private_token_file_and_a_one_time_link(server: ServerProcess) -> None:
    token_file = server.data_dir / "local-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    link = next(line.split()[2] for line in server.output().splitlines() if "sign in:" in line)
    first = httpx.get(link, follow_redirects=False)
    assert first.status_code == 303 and "trace_token" in first.cookies
    me = httpx.get(f"{server.url}/api/me", cookies={"trace_token": first.cookies["trace_token"]})
    assert me.status_code == 200 and me.json()["workspaces"][0]["role"] == "owner"
    assert httpx.get(link).status_code == 401  # the link works once


def test_a_restart_keeps_the_owner_and_token(server: ServerProcess) -> None:
    token = server.token
    server.stop()
    server.start()
    assert server.token == token
    assert trace(server, "user", "list", "--json").returncode == 0
    assert len(json.loads(trace(server, "user", "list", "--json").stdout)) == 1


def test_users_get_roles_and_tokens_can_be_revoked(server: ServerProcess) -> None:
    added = trace(server, "user", "add", "vera", "--role", "viewer")
    assert added.returncode == 0, added.stderr
    vera_token = added.stdout.split("token (shown once): ")[1].strip()
    listing = json.loads(trace(server, "user", "list", "--json").stdout)
    assert {(m["name"], m["role"]) for m in listing} >= {("vera", "viewer")}
    # vera, a viewer, may not add people
    refused = trace(server, "user", "add", "eve", token=vera_token)
    assert refused.returncode == 1 and "needs the admin role" in refused.stderr
    [vera_token_row] = json.loads(trace(server, "token", "list", "--json", token=vera_token).stdout)
    assert vera_token_row["last_used_at"] is not None
    assert trace(server, "token", "revoke", vera_token_row["id"]).returncode == 0
    after = trace(server, "token", "list", token=vera_token)
    assert after.returncode == 1 and "revoked" in after.stderr


def test_the_cli_explains_what_is_wrong(server: ServerProcess) -> None:
    assert trace(server, "user", "add", "x").returncode == 0
    again = trace(server, "user", "add", "x")
    assert again.returncode == 1 and "already a member" in again.stderr
    bad_role = trace(server, "user", "add", "y", "--role", "god")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr
    server.stop()
    down = trace(server, "token")
    assert down.returncode == 1 and "cannot reach the server" in down.stderr


def test_people_join_another_workspace_by_invitation(server: ServerProcess) -> None:
    added = trace(server, "user", "add", "vera", "--role", "viewer")
    vera_token = added.stdout.split("token (shown once): ")[1].strip()
    owner = {"Authorization": f"Bearer {server.token}"}
    ops = httpx.post(f"{server.url}/api/workspaces", json={"name": "Ops"}, headers=owner)
    assert ops.status_code == 201, ops.text
    wid = ops.json()["id"]
    # vera may not create workspaces of her own (TRACE_WORKSPACE_CREATION=admins)
    mine = httpx.post(
        f"{server.url}/api/workspaces",
        json={"name": "Mine"},
        headers={"Authorization": f"Bearer {vera_token}"},
    )
    assert mine.status_code == 403
    invited = trace(server, "workspace", "invite", "--workspace", wid, "--role", "member")
    assert invited.returncode == 0, invited.stderr
    code = invited.stdout.split("trace workspace join ")[1].strip()
    joined = trace(server, "workspace", "join", code, "--json", token=vera_token)
    assert joined.returncode == 0, joined.stderr
    assert json.loads(joined.stdout) == [{"id": wid, "name": "Ops", "role": "member"}]
    again = trace(server, "workspace", "join", code, token=vera_token)
    assert again.returncode == 1 and "no open invitation" in again.stderr
