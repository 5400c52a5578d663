"""The session state machine (ARCHITECTURE.md §4).

People's commands move a session between states; the runtime reports the
rest (running, waiting, idle, failed, interrupted) through the session's ``io``
document.
A command the current state does not allow raises :class:`Conflict` naming
that state, so every client can say exactly why.

    created -> starting -> running <-> waiting (input | approval) -> idle
    running/idle/waiting -> paused -> (resume) -> running
    any live state -> stopped ; failed (runtime error)
    running/waiting -> interrupted (its bridge restarted or was lost mid-turn)
    interrupted -> running/waiting/idle (the bridge resumed the tool by itself)
    interrupted -> (rerun: the cut-off prompt again) -> starting
    stopped/idle/failed/interrupted -> archived -> (restore) -> stopped
    stopped/failed/interrupted -> (resume) -> starting
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from trace_sync.contract.errors import Conflict
from trace_sync.docs.entries import SessionStatus as S

LIVE = frozenset({S.CREATED, S.STARTING, S.RUNNING, S.WAITING_INPUT, S.WAITING_APPROVAL, S.IDLE})
ACTIVE = frozenset({S.RUNNING, S.WAITING_INPUT, S.WAITING_APPROVAL, S.IDLE})
#: A tool in these is in the middle of a turn: a restart cuts it off (idle loses nothing).
AT_WORK = frozenset({S.RUNNING, S.WAITING_INPUT, S.WAITING_APPROVAL})
#: Cut off, with nothing running: a person may resume, run again, stop or archive.
HALTED = frozenset({S.STOPPED, S.FAILED, S.INTERRUPTED})


class Command(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    ARCHIVE = "archive"
    RESTORE = "restore"
    SEND = "send"
    RERUN = "rerun"


@dataclass(frozen=True)
class Transition:
    allowed_from: frozenset[S]
    #: The status right after the command; None keeps the current one.
    to: S | None


TRANSITIONS: dict[Command, Transition] = {
    Command.START: Transition(frozenset({S.CREATED}), S.STARTING),
    Command.PAUSE: Transition(ACTIVE, S.PAUSED),
    Command.RESUME: Transition(HALTED | {S.PAUSED}, S.STARTING),
    Command.STOP: Transition(LIVE | {S.PAUSED, S.INTERRUPTED}, S.STOPPED),
    Command.ARCHIVE: Transition(HALTED | {S.IDLE}, S.ARCHIVED),
    Command.RESTORE: Transition(frozenset({S.ARCHIVED}), S.STOPPED),
    # A prompt is accepted whenever the session can still run it; while the
    # tool is busy (or paused) it waits in the queue.
    Command.SEND: Transition(LIVE | HALTED | {S.PAUSED}, None),
    # The prompt a restart cut off, sent again to a fresh run of the tool.
    Command.RERUN: Transition(frozenset({S.INTERRUPTED}), S.STARTING),
}

#: Statuses the runtime may report, and from which statuses.
#: An interrupted session goes back to work when its bridge resumes the tool by itself.
REPORTABLE: dict[S, frozenset[S]] = {
    S.RUNNING: frozenset({S.STARTING, S.IDLE, S.WAITING_INPUT, S.WAITING_APPROVAL, S.INTERRUPTED}),
    S.WAITING_INPUT: frozenset({S.STARTING, S.RUNNING, S.WAITING_APPROVAL, S.INTERRUPTED}),
    S.WAITING_APPROVAL: frozenset({S.STARTING, S.RUNNING, S.WAITING_INPUT, S.INTERRUPTED}),
    S.IDLE: frozenset({S.STARTING, S.RUNNING, S.WAITING_INPUT, S.WAITING_APPROVAL, S.INTERRUPTED}),
    S.FAILED: LIVE | {S.PAUSED, S.INTERRUPTED},
    S.INTERRUPTED: LIVE | {S.PAUSED},
}


def apply_command(command: Command, current: S) -> S:
    """Return the status after ``command``, or raise ``Conflict`` naming ``current``."""
    transition = TRANSITIONS[command]
    if current not in transition.allowed_from:
        allowed = ", ".join(sorted(s.value for s in transition.allowed_from))
        raise Conflict(
            f"cannot {command.value} a session that is {current.value} (allowed when: {allowed})"
        )
    return transition.to or current


def apply_report(reported: S, current: S) -> S:
    """Return the status after the runtime reports ``reported``; reports that
    would contradict a person's command (e.g. 'running' after 'stopped') are ignored."""
    if reported == current or current in REPORTABLE.get(reported, frozenset()):
        return reported
    return current
