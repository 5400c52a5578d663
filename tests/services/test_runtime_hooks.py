"""The session service's runtime side: the placement hook and interruptions."""

from __future__ import annotations

from tests.services.conftest import Services, Team
from trace_sync.auth.principal import Principal
from trace_sync.docs import typed
from trace_sync.docs.entries import SessionStatus as S
from trace_sync.docs.layouts import SESSION
from trace_sync.services.lifecycle import Command
from trace_sync.services.sessions import SessionService
from trace_sync.store.records import SessionRow


async def test_start_fork_and_resume_ask_for_a_runtime(services: Services, team: Team) -> None:
    asked: list[tuple[str, str, str]] = []

    async def needs_runtime(actor: Principal, session: SessionRow) -> None:
        asked.append((actor.user_id, session.id, session.status))

    sessions = SessionService(services.store, services.rooms, on_needs_runtime=needs_runtime)
    started = await sessions.start(
        team.member, team.workspace_id, repo_id=team.repo.id, tool="shell"
    )
    forked = await sessions.fork(team.admin, started.id)
    await sessions.report_status(started.id, S.RUNNING)
    await sessions.command(team.member, started.id, Command.PAUSE)
    await sessions.command(team.member, started.id, Command.RESUME)
    assert asked == [
        (team.member.user_id, started.id, "starting"),
        (team.admin.user_id, forked.id, "starting"),
        (team.member.user_id, started.id, "starting"),
    ]


async def test_an_interrupted_run_fails_visibly_and_a_resume_clears_it(
    services: Services, team: Team
) -> None:
    sessions = services.sessions
    session = await sessions.start(
        team.member, team.workspace_id, repo_id=team.repo.id, tool="shell"
    )
    await sessions.report_status(session.id, S.RUNNING)
    failed = await sessions.interrupt(session.id, "runtime.lost", runtime_id="rt_1")
    assert failed is not None and failed.status == "failed"
    async with services.rooms.document(f"session/{session.id}") as doc:
        meta = dict(typed.root_of(doc, SESSION, "meta").items())
        last = typed.root_of(doc, SESSION, "timeline")[-1]
    assert meta["status"] == "failed" and meta["interrupted"] is True
    assert (last["kind"], last["payload"]) == ("runtime.lost", {"runtime_id": "rt_1"})
    assert await sessions.interrupt(session.id, "runtime.lost") is None  # not live any more
    await sessions.command(team.member, session.id, Command.RESUME)
    async with services.rooms.document(f"session/{session.id}") as doc:
        assert typed.root_of(doc, SESSION, "meta")["interrupted"] is False
