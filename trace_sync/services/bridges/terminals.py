"""Live terminals of sessions: who may open and type into them, and who opened which.

Keystrokes and resizes are ephemeral: they go to the hosting bridge over its
control socket, never into a document (the output comes back in the io
document). Who may type (ARCHITECTURE.md §5): a person who may see the
session, has a writing role, and owns the session's runtime or holds an
approved, unexpired grant with ``terminal`` for that session (or all).

The server remembers who opened each terminal (rebuilt from the bridge's
hello after a restart) so that, when authority changes (a grant ends, a role
or membership changes, on any process of a cluster), each process closes the
terminals it knows whose opener may no longer use them: the bridge's process
knows all of its bridge's terminals.
"""

from __future__ import annotations

from dataclasses import dataclass

from trace_sync.auth.principal import Principal
from trace_sync.contract.bridge_protocol import (
    Event,
    HostedTerminal,
    TerminalClose,
    TerminalInput,
    TerminalOpen,
    TerminalResize,
)
from trace_sync.contract.errors import Conflict, Forbidden, NotFound
from trace_sync.services.access import require_writer, visible_session
from trace_sync.services.authority import AuthorityChanged
from trace_sync.services.bridges.broker import Broker
from trace_sync.services.bridges.grants import may_use
from trace_sync.store import Store
from trace_sync.store.ids import new_id
from trace_sync.store.records import Capability, SessionRow

#: Bridge events that end a terminal.
_ENDED = {"terminal.closed", "terminal.exited"}


@dataclass(frozen=True)
class OpenTerminal:
    session_id: str
    terminal_id: str
    runtime_id: str
    #: Who opened it; ``None`` for the tool's own terminal.
    opened_by: str | None


class TerminalService:
    def __init__(self, store: Store, broker: Broker) -> None:
        self._store = store
        self._broker = broker
        self._open: dict[tuple[str, str], OpenTerminal] = {}

    # -- people ------------------------------------------------------------------------

    async def open(
        self, actor: Principal, session_id: str, cols: int = 80, rows: int = 24
    ) -> OpenTerminal:
        """A new shell in the session's worktree, on the bridge hosting it."""
        session = await self._allowed(actor, session_id, "opening a terminal")
        runtime_id = _runtime_of(session)
        terminal = OpenTerminal(session_id, new_id("tm"), runtime_id, actor.user_id)
        message = TerminalOpen(
            session_id=session_id,
            terminal_id=terminal.terminal_id,
            opened_by=actor.user_id,
            cols=cols,
            rows=rows,
        )
        await self._broker.send(runtime_id, message)
        self._open[(session_id, terminal.terminal_id)] = terminal
        return terminal

    async def input(self, actor: Principal, session_id: str, terminal_id: str, data: str) -> None:
        session = await self._allowed(actor, session_id, "typing into a terminal")
        message = TerminalInput(session_id=session_id, terminal_id=terminal_id, data=data)
        await self._broker.send(_runtime_of(session), message)

    async def resize(
        self, actor: Principal, session_id: str, terminal_id: str, cols: int, rows: int
    ) -> None:
        session = await self._allowed(actor, session_id, "resizing a terminal")
        message = TerminalResize(
            session_id=session_id, terminal_id=terminal_id, cols=cols, rows=rows
        )
        await self._broker.send(_runtime_of(session), message)

    async def close(self, actor: Principal, session_id: str, terminal_id: str) -> None:
        session = await self._allowed(actor, session_id, "closing a terminal")
        message = TerminalClose(session_id=session_id, terminal_id=terminal_id)
        await self._broker.send(_runtime_of(session), message)
        self._open.pop((session_id, terminal_id), None)

    def opened(self, runtime_id: str) -> list[OpenTerminal]:
        """The terminals known to be open on a runtime."""
        return [t for t in self._open.values() if t.runtime_id == runtime_id]

    # -- authority ----------------------------------------------------------------------

    async def changed(self, change: AuthorityChanged) -> None:
        """Close the terminals whose opener ``change`` may concern and who may no
        longer use them (a grant that ended, a role lowered, a member removed)."""
        for terminal in list(self._open.values()):
            opener = terminal.opened_by
            if opener is None or not change.may_affect(opener, "", terminal.session_id):
                continue
            if await self._still_allowed(terminal):
                continue
            message = TerminalClose(
                session_id=terminal.session_id, terminal_id=terminal.terminal_id
            )
            await self._broker.offer(terminal.runtime_id, message)
            self._open.pop((terminal.session_id, terminal.terminal_id), None)

    async def _still_allowed(self, terminal: OpenTerminal) -> bool:
        assert terminal.opened_by is not None
        opener = Principal(user_id=terminal.opened_by, user_name="", token_id="")
        try:
            await self._allowed(opener, terminal.session_id, "typing into a terminal")
        except (Conflict, Forbidden, NotFound):
            return False
        return True

    # -- the bridge's side --------------------------------------------------------------

    def hosted(self, runtime_id: str, terminals: list[HostedTerminal]) -> None:
        """The bridge said hello: its open terminals replace what was known."""
        self.forget(runtime_id)
        for t in terminals:
            self._open[(t.session_id, t.terminal_id)] = OpenTerminal(
                t.session_id, t.terminal_id, runtime_id, t.opened_by
            )

    def event(self, runtime_id: str, event: Event) -> None:
        terminal_id = event.payload.get("terminal_id")
        if not isinstance(terminal_id, str):
            return
        key = (event.session_id, terminal_id)
        if event.kind in _ENDED:
            self._open.pop(key, None)
        elif event.kind == "terminal.opened":
            opened_by = event.payload.get("opened_by")
            who = opened_by if isinstance(opened_by, str) else None
            self._open[key] = OpenTerminal(event.session_id, terminal_id, runtime_id, who)

    def forget(self, runtime_id: str) -> None:
        for key in [k for k, t in self._open.items() if t.runtime_id == runtime_id]:
            del self._open[key]

    # -- checks --------------------------------------------------------------------------

    async def _allowed(self, actor: Principal, session_id: str, doing: str) -> SessionRow:
        session, role = await visible_session(self._store, session_id, actor)
        require_writer(role, doing)
        runtime = await self._store.runtimes.get(_runtime_of(session))
        if not await may_use(self._store, actor.user_id, runtime, Capability.TERMINAL, session_id):
            raise Forbidden(f"{doing} needs the runtime owner's grant with the terminal capability")
        return session


def _runtime_of(session: SessionRow) -> str:
    if session.runtime_id is None:
        raise Conflict(f"runtime unavailable: no runtime hosts session {session.id} yet")
    return session.runtime_id
