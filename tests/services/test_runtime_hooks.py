"""The session service's runtime side: the placement hook and interruptions."""

from __future__ import annotations

import pytest

from tests.services.conftest import Services, Team
from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import Conflict
from trace_sync.contract.session_spec import SessionSpec
from trace_sync.docs import typed
from trace_sync.docs.entries import RuntimeState
from trace_sync.docs.entries import SessionStatus as S
from trace_sync.docs.layouts import SESSION, SESSION_IO
from trace_sync.services.lifecycle import Command
from trace_sync.services.sessions import SessionService
from trace_sync.store.records import SessionRow


async def test_start_fork_and_resume_ask_for_a_runtime(services: Services, team: Team) -> None:
    asked: list[tuple[str, str, str]] = []

    async def needs_runtime(actor: Principal, session: SessionRow) -> None:
        asked.append((actor.user_id, session.id, session.status))

    sessions = SessionService(services.store, services.rooms, on_needs_runtime=needs_runtime)
    spec = SessionSpec(repo_id=team.repo.id, tool="shell")
    started = await sessions.start(team.member, team.workspace_id, spec)
    forked = await sessions.fork(team.admin, started.id)
    await sessions.report_status(started.id, S.RUNNING)
    await sessions.command(team.member, started.id, Command.PAUSE)
    await sessions.command(team.member, started.id, Command.RESUME)
    assert asked == [
        (team.member.user_id, started.id, "starting"),
        (team.admin.user_id, forked.id, "starting"),
        (team.member.user_id, started.id, "starting"),
    ]


async def test_an_interrupted_run_shows_interrupted_and_a_resume_clears_it(
    services: Services, team: Team
) -> None:
    sessions = services.sessions
    spec = SessionSpec(repo_id=team.repo.id, tool="shell")
    session = await sessions.start(team.member, team.workspace_id, spec)
    await sessions.report_status(session.id, S.RUNNING)
    failed = await sessions.interrupt(session.id, "runtime.lost", runtime_id="rt_1")
    assert failed is not None and failed.status == "interrupted"
    async with services.rooms.document(f"session/{session.id}") as doc:
        meta = dict(typed.root_of(doc, SESSION, "meta").items())
        last = typed.root_of(doc, SESSION, "timeline")[-1]
    assert meta["status"] == "interrupted" and meta["interrupted"] is True
    assert (last["kind"], last["payload"]) == ("runtime.lost", {"runtime_id": "rt_1"})
    assert await sessions.interrupt(session.id, "runtime.lost") is None  # not at work any more
    await sessions.command(team.member, session.id, Command.RESUME)
    async with services.rooms.document(f"session/{session.id}") as doc:
        assert typed.root_of(doc, SESSION, "meta")["interrupted"] is False


async def test_idle_sessions_stay_idle_when_their_runtime_is_lost(
    services: Services, team: Team
) -> None:
    sessions = services.sessions
    spec = SessionSpec(repo_id=team.repo.id, tool="shell")
    session = await sessions.start(team.member, team.workspace_id, spec)
    idle = await sessions.report_status(session.id, S.IDLE)
    assert await sessions.interrupt(session.id, "runtime.lost", reason="gone") is None
    after = await services.store.sessions.get(session.id)
    assert (after.status, after.last_activity_at) == ("idle", idle.last_activity_at)


async def test_only_a_counted_revival_brings_an_interrupted_session_back_to_work(
    services: Services, team: Team
) -> None:
    sessions = services.sessions
    spec = SessionSpec(repo_id=team.repo.id, tool="claude_code")
    session = await sessions.start(team.member, team.workspace_id, spec)
    await sessions.report_status(session.id, S.WAITING_APPROVAL)
    why = "the bridge restarted during a turn"
    await sessions.interrupt(session.id, "session.interrupted", reason=why)
    # The io document as the dead tool left it, read again: not back.
    stale = await sessions.report_status(session.id, S.WAITING_APPROVAL)
    assert (stale.status, stale.reason) == ("interrupted", why)
    back = await sessions.report_status(session.id, S.RUNNING, revivals=1)
    assert (back.status, back.reason) == ("running", None)
    async with services.rooms.document(f"session/{session.id}") as doc:
        meta = dict(typed.root_of(doc, SESSION, "meta").items())
        last = typed.root_of(doc, SESSION, "timeline")[-1]
    assert (last["kind"], last["payload"]["reason"]) == ("session.resumed_after_restart", why)
    assert meta["interrupted"] is False and meta["revivals"] == 1
    await sessions.interrupt(session.id, "session.interrupted", reason=why)
    again = await sessions.report_status(session.id, S.RUNNING, revivals=1)
    assert again.status == "interrupted"  # that revival was the last restart's


async def test_rerun_sends_the_cut_off_prompt_again(services: Services, team: Team) -> None:
    sessions = services.sessions
    spec = SessionSpec(repo_id=team.repo.id, tool="shell", prompt="make test")
    session = await sessions.start(team.member, team.workspace_id, spec)
    async with services.rooms.document(f"session/{session.id}/io") as io:
        typed.put_fields(io, SESSION_IO, "runtime", RuntimeState(prompts_taken=1), origin="test")
    await sessions.report_status(session.id, S.RUNNING)
    with pytest.raises(Conflict, match="cannot rerun a session that is running"):
        await sessions.rerun(team.member, session.id)
    await sessions.interrupt(session.id, "runtime.lost", reason="gone")
    rerun = await sessions.rerun(team.member, session.id)
    assert (rerun.status, rerun.reason) == ("starting", None)
    async with services.rooms.document(f"session/{session.id}") as doc:
        prompts = [p["text"] for p in typed.root_of(doc, SESSION, "prompts")]
        desired = dict(typed.root_of(doc, SESSION, "desired").items())
        last = typed.root_of(doc, SESSION, "timeline")[-1]
    assert prompts == ["make test", "make test"]
    assert desired["state"] == "running"
    assert (last["kind"], last["payload"]["text"]) == ("session.rerun", "make test")
