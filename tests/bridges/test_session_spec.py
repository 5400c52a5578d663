"""A session's spec reaches the bridge as it was chosen: through the API, and through a fork."""

from __future__ import annotations

from tests.bridges.conftest import Bed
from tests.conftest import eventually
from trace_sync.contract.bridge_protocol import Assign


async def test_a_start_and_a_fork_carry_tool_model_and_permission_mode_to_the_bridge(
    bed: Bed,
) -> None:
    creds = await bed.register(bed.owner)
    headers = bed.headers(bed.owner)
    async with bed.bridge(creds) as (link, recorder):
        await link.wait_welcomed()
        body = {
            "repo_id": bed.repo.id,
            "tool": "codex",
            "model": "gpt-5-codex",
            "permission_mode": "accept_edits",
        }
        path = f"/api/workspaces/{bed.workspace_id}/sessions"
        started = (await bed.http.post(path, json=body, headers=headers)).json()
        fork_path = f"/api/sessions/{started['id']}/fork"
        forked = await bed.http.post(fork_path, json={"permission_mode": "bypass"}, headers=headers)
        await eventually(lambda: len(recorder.of_type("assign")) == 2)
    first: Assign
    second: Assign
    first, second = recorder.of_type("assign")
    assert first.session_id == started["id"] and second.session_id == forked.json()["id"]
    assert (first.spec.tool, first.spec.model, first.spec.permission_mode) == (
        "codex",
        "gpt-5-codex",
        "accept_edits",
    )
    # The fork is its parent's spec with the one change asked for, on from its branch.
    assert (second.spec.tool, second.spec.model, second.spec.permission_mode) == (
        "codex",
        "gpt-5-codex",
        "bypass",
    )
    assert second.spec.base_branch == started["branch"]
    assert second.parent is not None and second.parent.session_id == started["id"]


async def test_a_start_with_a_nul_in_its_title_is_refused_naming_the_field(bed: Bed) -> None:
    body = {"repo_id": bed.repo.id, "tool": "shell", "title": "fix\x00it"}
    path = f"/api/workspaces/{bed.workspace_id}/sessions"
    refused = await bed.http.post(path, json=body, headers=bed.headers(bed.owner))
    assert refused.status_code == 422
    assert "title" in refused.text and "NUL" in refused.text
    assert await bed.live.ctx.sessions.page(bed.owner.principal, bed.workspace_id) == []
