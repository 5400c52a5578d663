"""What a session's tool does, written into ``session/<sid>/io``.

Transcript entries go to the live window (:class:`TranscriptWindow`); pending
requests to ``approvals`` (removed once resolved); each turn's usage is added
to the session's totals in ``usage`` (while a turn runs, with what it used so
far, so its cost moves live; the turn's own figure replaces that at its end);
``runtime`` holds the runtime's state (status, generation, prompts taken, tool
session id, health). Every write is
one transaction with the runtime's origin, validated by the typed layer.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc

from trace_sync.bridge.git.changes import ChangeSet, apply_changes
from trace_sync.bridge.sessions.log_segments import ORIGIN
from trace_sync.bridge.sessions.transcript import TranscriptWindow
from trace_sync.bridge.tools.interface import (
    ApprovalRequested,
    ApprovalResolved,
    ToolEvent,
    ToolSessionStarted,
    TurnEnded,
    UsageSoFar,
)
from trace_sync.docs.entries import (
    BranchStatus,
    Checkpoint,
    RuntimeState,
    TranscriptEntry,
    Usage,
    UsageNote,
)
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import Flagged, append, delete, put, put_fields, read_fields, root_of


class IoWriter:
    """Writes one session's ``io`` document (``transcript`` through ``window``)."""

    def __init__(self, io: Doc[Any], window: TranscriptWindow) -> None:
        self.doc = io
        self.transcript = window
        #: The totals before the turn under way reported usage (None: it has not).
        self._before_turn: Usage | None = None

    def event(self, event: ToolEvent) -> None:
        """Record a tool event that belongs in the document (others are ignored here)."""
        if isinstance(event, TranscriptEntry):
            self.transcript.write(event)
        elif isinstance(event, ApprovalRequested):
            self.transcript.flush()
            put(self.doc, SESSION_IO, "approvals", event.request.id, event.request, origin=ORIGIN)
        elif isinstance(event, ApprovalResolved):
            delete(self.doc, SESSION_IO, "approvals", event.request_id, origin=ORIGIN)
        elif isinstance(event, ToolSessionStarted):
            # A rewind is taken up once the tool has started its session from it.
            self.runtime(tool_session_id=event.tool_session_id, rewind=None)
        elif isinstance(event, UsageSoFar):
            self.turn_usage(event.usage)
        elif isinstance(event, TurnEnded):
            self.transcript.flush()
            before, self._before_turn = self._before_turn, None
            self._set_usage(_summed(before or self._usage(), event.usage))

    # -- runtime state -------------------------------------------------------------------

    def state(self) -> RuntimeState:
        """What ``runtime`` says now (a value another writer spoiled reads as empty)."""
        found = read_fields(self.doc, SESSION_IO, "runtime", RuntimeState)
        return RuntimeState() if isinstance(found, Flagged) else found

    def runtime(self, **fields: Any) -> None:
        """Set these fields of ``runtime`` (validated; the others stay)."""
        put_fields(
            self.doc, SESSION_IO, "runtime", RuntimeState.model_validate(fields), origin=ORIGIN
        )

    def turn_usage(self, so_far: UsageNote) -> None:
        """The totals before this turn plus what it has used so far."""
        if self._before_turn is None:
            self._before_turn = self._usage()
        self._set_usage(_summed(self._before_turn, so_far))

    def _usage(self) -> Usage:
        found = read_fields(self.doc, SESSION_IO, "usage", Usage)
        return Usage() if isinstance(found, Flagged) else found

    def _set_usage(self, usage: Usage) -> None:
        if usage != self._usage():
            put_fields(self.doc, SESSION_IO, "usage", usage, origin=ORIGIN)

    # -- the rest ------------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        append(self.doc, SESSION_IO, "checkpoints", checkpoint, origin=ORIGIN)

    def branch(self, status: BranchStatus) -> None:
        put_fields(self.doc, SESSION_IO, "branch", status, origin=ORIGIN)

    def files(self, changes: ChangeSet) -> int:
        return apply_changes(self.doc, changes, origin=ORIGIN)

    def settle(self) -> None:
        """After a restart: nothing left running can answer or stream any more, so
        pending requests go and streamed entries are marked complete."""
        with self.doc.transaction(origin=ORIGIN):
            for request_id in list(root_of(self.doc, SESSION_IO, "approvals")):
                delete(self.doc, SESSION_IO, "approvals", request_id, origin=ORIGIN)
            array = self.transcript.array
            for i, value in enumerate(list(array)):
                if isinstance(value, dict) and value.get("streaming"):
                    array[i] = {**value, "streaming": False}


def _summed(total: Usage, turn: UsageNote) -> Usage:
    return Usage(
        input_tokens=total.input_tokens + turn.input_tokens,
        output_tokens=total.output_tokens + turn.output_tokens,
        cost_usd=round(total.cost_usd + turn.cost_usd, 6),
        estimated=total.estimated or (turn.estimated and turn.cost_usd > 0),
    )
