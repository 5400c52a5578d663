"""A repo's worktree setup: set by admins, carried to the bridge with each session."""

from __future__ import annotations

from tests.api.conftest import Team


async def test_admins_set_the_setup_and_assignments_carry_it(team: Team) -> None:
    path = f"/api/workspaces/{team.wid}/repos/{team.repo_id}/setup"
    setup = {"copy_files": [".env", "config/*.local"], "command": "make deps"}
    member = await team.api("member").put(path, json=setup)
    assert member.status_code == 403
    escaping = await team.api("admin").put(path, json={"copy_files": ["../secrets"]})
    assert escaping.status_code == 422
    stored = await team.api("admin").put(path, json=setup)
    assert stored.status_code == 200, stored.text
    defaults = {"update_mode": "merge", "forge": None, "forge_url": None}
    assert stored.json()["setup"] == setup | defaults
    session = await team.start("member", permission_mode="accept_edits")
    row = await team.live.ctx.store.sessions.get(session["id"])
    assignment = await team.live.ctx.bridges.router.assignment(row)
    assert assignment.spec.permission_mode == "accept_edits"
    assert assignment.setup.copy_files == [".env", "config/*.local"]
    assert assignment.setup.command == "make deps"
