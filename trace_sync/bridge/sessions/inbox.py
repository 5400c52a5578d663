"""What people send a hosted session's tool: prompts and decisions, from ``session/<sid>``.

Prompts beyond io ``runtime.prompts_taken`` go to the tool one per turn, in
order; while a turn runs they wait, and one sent with mode ``interrupt``
interrupts the turn (the prompts then go in order once it has ended). A
prompt is counted as taken before it is sent: a crash in between loses it
rather than sending it twice. Decisions in ``decisions`` for requests the
tool has pending are handed to it, each once.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pycrdt import Doc

from trace_sync.bridge.sessions.io_writer import IoWriter
from trace_sync.bridge.sessions.tool import ToolSlot
from trace_sync.contract.errors import NotFound
from trace_sync.docs import typed
from trace_sync.docs.entries import Decision, PromptEntry
from trace_sync.docs.layouts import SESSION


class SessionInbox:
    """Delivers ``session``'s prompts and decisions to the tool in ``slot``."""

    def __init__(self, session: Doc[Any], writer: IoWriter, slot: ToolSlot) -> None:
        self._session = session
        self._writer = writer
        self._slot = slot
        self._interrupted: set[str] = set()
        self._delivered: set[str] = set()

    async def deliver_prompts(self) -> bool:
        """Hand the tool its next prompt if it may take one; True if more wait."""
        slot = self._slot
        if not slot.alive or slot.paused:
            return False
        values = list(typed.root_of(self._session, SESSION, "prompts"))
        taken = self._writer.state().prompts_taken
        waiting = [(i, _prompt(value)) for i, value in enumerate(values) if i >= taken]
        if not waiting:
            return False
        if slot.in_turn:
            await self._interrupt_for(prompt for _, prompt in waiting)
            return False
        index, prompt = waiting[0]
        self._writer.runtime(prompts_taken=index + 1)
        if prompt is not None:  # a value that does not validate is skipped, not retried
            await slot.send(prompt.text, prompt.id)
        return len(waiting) > 1

    async def deliver_decisions(self) -> None:
        if not self._slot.alive:
            return
        pending = self._slot.run.pending
        if not pending:
            return
        decisions = typed.read_map(self._session, SESSION, "decisions")
        for request_id in list(pending):
            decision = decisions.get(request_id)
            if isinstance(decision, Decision) and request_id not in self._delivered:
                self._delivered.add(request_id)
                with contextlib.suppress(NotFound):  # answered meanwhile (it timed out)
                    await self._slot.decide(request_id, decision)

    async def _interrupt_for(self, waiting: Any) -> None:
        for prompt in waiting:
            if prompt is None or prompt.mode != "interrupt" or prompt.id in self._interrupted:
                continue
            self._interrupted.add(prompt.id)
            await self._slot.interrupt()


def _prompt(value: Any) -> PromptEntry | None:
    try:
        return PromptEntry.model_validate(value)
    except ValueError:
        return None
