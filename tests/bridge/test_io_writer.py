"""What a session's tool reports about usage, as the io document holds it: a turn's
cost moves while it runs, and its end replaces the running figure (never adds twice)."""

from __future__ import annotations

from typing import Any

from pycrdt import Doc

from trace_sync.bridge.sessions.io_writer import IoWriter
from trace_sync.bridge.sessions.log_segments import MemoryLogSegments
from trace_sync.bridge.sessions.transcript import TranscriptWindow
from trace_sync.bridge.tools.interface import TurnEnded, UsageSoFar
from trace_sync.bridge.tools.pricing import usage_note
from trace_sync.docs.entries import Usage
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import read_fields


def usage(doc: Doc[Any]) -> tuple[int, int, float]:
    found = read_fields(doc, SESSION_IO, "usage", Usage)
    assert isinstance(found, Usage)
    return found.input_tokens, found.output_tokens, found.cost_usd


def ended(input_tokens: int, output_tokens: int, cost: float) -> TurnEnded:
    note = usage_note(input_tokens, output_tokens, cost, estimated=False)
    return TurnEnded(usage=note, stop_reason="end_turn", tool_session_id=None)


def so_far(input_tokens: int, output_tokens: int, cost: float) -> UsageSoFar:
    return UsageSoFar(usage_note(input_tokens, output_tokens, cost, estimated=True))


async def test_cost_moves_during_a_turn_and_the_turn_s_end_replaces_it() -> None:
    io: Doc[Any] = Doc()
    async with TranscriptWindow(io, MemoryLogSegments()) as window:
        writer = IoWriter(io, window)
        writer.event(ended(100, 10, 0.5))  # an earlier turn
        writer.event(so_far(50, 5, 0.1))
        assert usage(io) == (150, 15, 0.6)
        writer.event(so_far(80, 9, 0.2))  # a running total for the turn, not an increment
        assert usage(io) == (180, 19, 0.7)
        writer.event(ended(90, 12, 0.25))  # the tool's own figure for the whole turn
        assert usage(io) == (190, 22, 0.75)
        writer.event(ended(10, 1, 0.05))  # a turn that reported nothing on the way
        assert usage(io) == (200, 23, 0.8)
