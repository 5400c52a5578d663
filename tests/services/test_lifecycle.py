"""Every allowed and every refused session transition, against the table of
ARCHITECTURE.md §4 written out here by hand (so a wrong ``TRANSITIONS`` fails)."""

from __future__ import annotations

import itertools

import pytest

from trace_sync.contract.errors import Conflict
from trace_sync.docs.entries import SessionStatus as S
from trace_sync.services.lifecycle import Command, apply_command, apply_report

C = Command
#: command -> (the statuses it is allowed from, the status after it; None keeps the current).
EXPECTED: dict[Command, tuple[set[S], S | None]] = {
    # created -> starting
    C.START: ({S.CREATED}, S.STARTING),
    # running/idle/waiting -> paused
    C.PAUSE: ({S.RUNNING, S.WAITING_INPUT, S.WAITING_APPROVAL, S.IDLE}, S.PAUSED),
    # paused -> (resume) -> running/idle, through starting; stopped, failed and
    # interrupted (a turn a bridge restart cut off) resume too
    C.RESUME: ({S.PAUSED, S.STOPPED, S.FAILED, S.INTERRUPTED}, S.STARTING),
    # interrupted -> (run again) -> the cut-off prompt in a fresh run
    C.RERUN: ({S.INTERRUPTED}, S.STARTING),
    # any live state (and paused) -> stopped
    C.STOP: (
        {S.CREATED, S.STARTING, S.RUNNING, S.WAITING_INPUT, S.WAITING_APPROVAL, S.IDLE}
        | {S.PAUSED, S.INTERRUPTED},
        S.STOPPED,
    ),
    # stopped/idle/failed -> archived -> restored
    C.ARCHIVE: ({S.STOPPED, S.IDLE, S.FAILED, S.INTERRUPTED}, S.ARCHIVED),
    C.RESTORE: ({S.ARCHIVED}, S.STOPPED),
    # a prompt waits in the queue whenever the session can still run it; never when archived
    C.SEND: (
        {S.CREATED, S.STARTING, S.RUNNING, S.WAITING_INPUT, S.WAITING_APPROVAL, S.IDLE}
        | {S.PAUSED, S.STOPPED, S.FAILED, S.INTERRUPTED},
        None,
    ),
}
PAIRS = list(itertools.product(Command, S))
ALLOWED = [(c, s) for c, s in PAIRS if s in EXPECTED[c][0]]
REFUSED = [(c, s) for c, s in PAIRS if s not in EXPECTED[c][0]]


def test_the_table_covers_every_command() -> None:
    assert set(EXPECTED) == set(Command)


@pytest.mark.parametrize(("command", "status"), ALLOWED)
def test_allowed_commands_move_the_session(command: Command, status: S) -> None:
    assert apply_command(command, status) == (EXPECTED[command][1] or status)


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


#: (reported, from, to): a turn cut off, and the bridge resuming the tool by itself.
INTERRUPTED_REPORTS = [
    (S.INTERRUPTED, S.RUNNING, S.INTERRUPTED),
    (S.INTERRUPTED, S.WAITING_APPROVAL, S.INTERRUPTED),
    (S.INTERRUPTED, S.WAITING_INPUT, S.INTERRUPTED),
    (S.RUNNING, S.INTERRUPTED, S.RUNNING),
    (S.WAITING_APPROVAL, S.INTERRUPTED, S.WAITING_APPROVAL),
    (S.WAITING_INPUT, S.INTERRUPTED, S.WAITING_INPUT),
    (S.IDLE, S.INTERRUPTED, S.IDLE),
    (S.FAILED, S.INTERRUPTED, S.FAILED),
    (S.INTERRUPTED, S.STOPPED, S.STOPPED),
    (S.INTERRUPTED, S.ARCHIVED, S.ARCHIVED),
]


@pytest.mark.parametrize(("reported", "current", "after"), INTERRUPTED_REPORTS)
def test_reports_around_an_interruption(reported: S, current: S, after: S) -> None:
    assert apply_report(reported, current) == after
