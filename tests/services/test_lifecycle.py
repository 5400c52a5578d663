"""Every allowed and every refused session transition."""

from __future__ import annotations

import pytest

from trace_sync.docs.entries import SessionStatus as S
from trace_sync.errors import Conflict
from trace_sync.services.lifecycle import TRANSITIONS, Command, apply_command, apply_report

ALLOWED = [(c, s) for c, t in TRANSITIONS.items() for s in S if s in t.allowed_from]
REFUSED = [(c, s) for c, t in TRANSITIONS.items() for s in S if s not in t.allowed_from]


@pytest.mark.parametrize(("command", "status"), ALLOWED)
def test_allowed_commands_move_the_session(command: Command, status: S) -> None:
    after = apply_command(command, status)
    assert after == (TRANSITIONS[command].to or status)


@pytest.mark.parametrize(("command", "status"), REFUSED)
def test_refused_commands_name_the_state(command: Command, status: S) -> None:
    with pytest.raises(Conflict, match=f"cannot {command.value} a session that is {status.value}"):
        apply_command(command, status)


def test_a_session_runs_its_whole_life() -> None:
    status = S.CREATED
    status = apply_command(Command.START, status)
    for reported in (S.RUNNING, S.WAITING_APPROVAL, S.RUNNING, S.IDLE):
        status = apply_report(reported, status)
    status = apply_command(Command.PAUSE, status)
    status = apply_command(Command.RESUME, status)
    status = apply_report(S.IDLE, status)
    status = apply_command(Command.ARCHIVE, status)
    assert apply_command(Command.RESTORE, status) == S.STOPPED


@pytest.mark.parametrize("current", [S.STOPPED, S.ARCHIVED, S.CREATED, S.PAUSED])
def test_a_late_runtime_report_does_not_undo_a_command(current: S) -> None:
    assert apply_report(S.RUNNING, current) == current


def test_a_lost_runtime_fails_a_paused_session() -> None:
    assert apply_report(S.FAILED, S.PAUSED) == S.FAILED
