"""The session service on both databases: lifecycle, roles, documents, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.services.conftest import Services, Team
from trace_sync.contract.errors import Conflict, Forbidden, InvalidInput, NotFound
from trace_sync.contract.session_spec import SessionSpec
from trace_sync.docs import typed
from trace_sync.docs.entries import SessionStatus as S
from trace_sync.docs.layouts import SESSION, WORKSPACE
from trace_sync.services.lifecycle import Command
from trace_sync.store.records import SessionRow


async def start(services: Services, team: Team, **options: Any) -> SessionRow:
    values = {"repo_id": team.repo.id, "tool": "shell", "prompt": "Fix the login bug\nplease"}
    spec = SessionSpec.of(**(values | options))
    return await services.sessions.start(team.member, team.workspace_id, spec)


async def session_doc(services: Services, session_id: str) -> dict[str, Any]:
    async with services.rooms.document(f"session/{session_id}") as doc:
        return {
            "meta": dict(typed.root_of(doc, SESSION, "meta").items()),
            "desired": dict(typed.root_of(doc, SESSION, "desired").items()),
            "prompts": [p["text"] for p in typed.root_of(doc, SESSION, "prompts")],
            "timeline": [e["kind"] for e in typed.root_of(doc, SESSION, "timeline")],
        }


async def index(services: Services, team: Team) -> dict[str, Any]:
    async with services.rooms.document(f"workspace/{team.workspace_id}") as doc:
        return dict(typed.root_of(doc, WORKSPACE, "sessions").items())


async def test_a_started_session_is_in_its_document_and_the_index(
    services: Services, team: Team
) -> None:
    session = await start(services, team)
    assert session.title == "Fix the login bug" and session.status == "starting"
    assert session.base_branch == "main" and session.branch.startswith("trace/fix-the-login-bug-")
    doc = await session_doc(services, session.id)
    assert doc["meta"]["status"] == "starting" and doc["meta"]["schema"] == 1
    assert doc["desired"] == {"state": "running", "generation": 1}
    assert doc["prompts"] == ["Fix the login bug\nplease"]
    assert doc["timeline"] == ["session.started"]
    summary = (await index(services, team))[session.id]
    assert (summary["title"], summary["status"], summary["tool"]) == (
        session.title,
        "starting",
        "shell",
    )


async def test_the_lifecycle_moves_and_refuses_with_the_state_named(
    services: Services, team: Team
) -> None:
    sessions = services.sessions
    session = await start(services, team)
    await sessions.report_status(session.id, S.RUNNING)
    assert (await sessions.command(team.member, session.id, Command.PAUSE)).status == "paused"
    with pytest.raises(Conflict, match="cannot pause a session that is paused"):
        await sessions.command(team.member, session.id, Command.PAUSE)
    await sessions.command(team.member, session.id, Command.RESUME)
    await sessions.command(team.member, session.id, Command.STOP)
    with pytest.raises(Conflict, match="cannot restore a session that is stopped"):
        await sessions.command(team.member, session.id, Command.RESTORE)
    await sessions.command(team.member, session.id, Command.ARCHIVE)
    assert (await sessions.command(team.member, session.id, Command.RESTORE)).status == "stopped"
    doc = await session_doc(services, session.id)
    assert doc["timeline"] == [
        "session.started",
        "status.reported",
        "session.paused",
        "session.resumed",
        "session.stopped",
        "session.archived",
        "session.restored",
    ]
    assert doc["desired"] == {"state": "stopped", "generation": 6}
    # a runtime's late 'running' report cannot undo a person's stop
    assert (await sessions.report_status(session.id, S.RUNNING)).status == "stopped"


async def test_prompts_queue_while_busy_and_are_refused_when_archived(
    services: Services, team: Team
) -> None:
    session = await start(services, team, tool="claude_code")  # others' prompts are no commands
    await services.sessions.report_status(session.id, S.RUNNING)
    await services.sessions.send(team.admin, session.id, "and add a test", mode="queue")
    await services.sessions.send(team.owner, session.id, "stop, use pytest", mode="interrupt")
    assert (await session_doc(services, session.id))["prompts"][1:] == [
        "and add a test",
        "stop, use pytest",
    ]
    with pytest.raises(InvalidInput, match="empty"):
        await services.sessions.send(team.member, session.id, "   ")
    await services.sessions.command(team.member, session.id, Command.STOP)
    await services.sessions.command(team.member, session.id, Command.ARCHIVE)
    with pytest.raises(Conflict, match="archived"):
        await services.sessions.send(team.member, session.id, "more")


async def test_viewers_watch_outsiders_see_nothing(services: Services, team: Team) -> None:
    session = await start(services, team)
    assert (await services.sessions.get(team.viewer, session.id)).id == session.id
    sessions, viewer = services.sessions, team.viewer
    spec = SessionSpec(repo_id=team.repo.id, tool="shell")
    for attempt in (
        lambda: sessions.send(viewer, session.id, "hi"),
        lambda: sessions.command(viewer, session.id, Command.STOP),
        lambda: sessions.fork(viewer, session.id),
        lambda: sessions.rename(viewer, session.id, "mine"),
        lambda: sessions.start(viewer, team.workspace_id, spec),
    ):
        with pytest.raises(Forbidden, match="you are viewer"):
            await attempt()
    with pytest.raises(NotFound):
        await services.sessions.get(team.outsider, session.id)
    with pytest.raises(NotFound):
        await services.sessions.page(team.outsider, team.workspace_id)


async def test_private_sessions_show_to_creator_owner_and_admins_only(
    services: Services, team: Team
) -> None:
    secret = await start(services, team, private=True, title="secret")
    assert secret.id not in await index(services, team)  # every member reads the index
    for who in (team.member, team.admin, team.owner):
        assert secret.id in {s.id for s in await services.sessions.page(who, team.workspace_id)}
    assert secret.id not in {
        s.id for s in await services.sessions.page(team.viewer, team.workspace_id)
    }
    with pytest.raises(NotFound):
        await services.sessions.get(team.viewer, secret.id)
    with pytest.raises(InvalidInput, match="viewer"):
        await services.sessions.hand_off(team.member, secret.id, team.viewer.user_id)
    with pytest.raises(NotFound):  # the viewer cannot even see it
        await services.sessions.hand_off(team.viewer, secret.id, team.member.user_id)


async def test_hand_off_gives_control_to_the_new_owner(services: Services, team: Team) -> None:
    session = await start(services, team)
    handed = await services.sessions.hand_off(team.member, session.id, team.admin.user_id)
    assert handed.owner_id == team.admin.user_id and handed.creator_id == team.member.user_id
    assert (await index(services, team))[session.id]["owner_id"] == team.admin.user_id
    await services.sessions.command(team.admin, session.id, Command.STOP)
    with pytest.raises(Forbidden, match="owner or an admin"):
        await services.sessions.delete(team.member, session.id)  # no longer hers
    await services.sessions.delete(team.admin, session.id)
    assert session.id not in await index(services, team)
    with pytest.raises(NotFound):
        await services.sessions.get(team.admin, session.id)


async def test_a_live_session_cannot_be_deleted(services: Services, team: Team) -> None:
    session = await start(services, team)
    with pytest.raises(Conflict, match="stop it first"):
        await services.sessions.delete(team.member, session.id)


async def test_forks_keep_their_lineage(services: Services, team: Team) -> None:
    parent = await start(services, team)
    child = await services.sessions.fork(team.admin, parent.id, prompt="try another way")
    assert child.parent_id == parent.id and child.base_branch == parent.branch
    assert child.title == f"{parent.title} (fork)" and child.owner_id == team.admin.user_id
    doc = await session_doc(services, child.id)
    assert doc["meta"]["parent"] == {"session_id": parent.id, "checkpoint": None}
    assert doc["prompts"] == ["try another way"]
    assert (await session_doc(services, parent.id))["timeline"][-1] == "session.fork_made"
    with pytest.raises(NotFound, match="no checkpoint 3"):
        await services.sessions.fork(team.admin, parent.id, checkpoint=3)


async def test_bad_input_is_refused_and_nothing_is_stored(services: Services, team: Team) -> None:
    before = await services.sessions.page(team.owner, team.workspace_id)
    for bad, message in [
        ({"tool": "cluade"}, "unknown tool"),
        ({"base_branch": "../../etc"}, "branch"),
        ({"title": " " * 3, "prompt": None}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"prompt": "x" * 100_001}, "prompt"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            await start(services, team, **bad)
    with pytest.raises(NotFound):
        await start(services, team, repo_id="r_missing")
    assert await services.sessions.page(team.owner, team.workspace_id) == before


async def test_two_people_pausing_at_once_one_wins_one_is_told(
    services: Services, team: Team
) -> None:
    session = await start(services, team)
    await services.sessions.report_status(session.id, S.RUNNING)
    results = await asyncio.gather(
        services.sessions.command(team.member, session.id, Command.PAUSE),
        services.sessions.command(team.admin, session.id, Command.PAUSE),
        services.sessions.command(team.owner, session.id, Command.STOP),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(f, Conflict) for f in failures) and len(failures) >= 1
    final = await services.sessions.get(team.owner, session.id)
    assert (await session_doc(services, session.id))["meta"]["status"] == final.status
    assert final.status in ("paused", "stopped")


async def test_the_same_fact_taken_in_twice_at_once_is_on_the_timeline_once(
    services: Services, team: Team
) -> None:
    """Two cluster members (an old and a new leader, or two processes that both
    loaded an io document) may report the same thing at the same moment."""
    session = await start(services, team)
    await services.sessions.report_status(session.id, S.RUNNING)
    await asyncio.gather(*(services.sessions.report_status(session.id, S.IDLE) for _ in range(3)))
    lost = {"runtime_id": "r_1", "reason": "the bridge was not heard from"}
    await services.sessions.report_status(session.id, S.RUNNING)
    cut = await asyncio.gather(
        *(services.sessions.interrupt(session.id, "runtime.lost", **lost) for _ in range(3))
    )
    assert [c is not None for c in cut].count(True) == 1
    timeline = (await session_doc(services, session.id))["timeline"]
    assert timeline.count("runtime.lost") == 1
    assert timeline.count("status.reported") == 3  # running, idle, running: each once


async def test_a_new_reason_taken_in_twice_at_once_is_on_the_timeline_once(
    services: Services, team: Team
) -> None:
    """The status stays failed and only its reason changes: two members that
    both moved from the same status must still not both say so."""
    session = await start(services, team)
    await services.sessions.report_status(session.id, S.FAILED, "the tool exited with 1")
    again = (services.sessions.report_status(session.id, S.FAILED, "out of disk") for _ in range(3))
    await asyncio.gather(*again)
    assert (await services.sessions.get(team.owner, session.id)).reason == "out of disk"
    timeline = (await session_doc(services, session.id))["timeline"]
    assert timeline.count("status.reported") == 2, timeline
