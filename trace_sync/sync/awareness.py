"""A room's awareness (presence) states, who owns each client id, and their limits.

Rules of y-protocols' awareness: a higher clock wins; a ``null`` state
removes the client. On top of them, presence is owned and bounded:

- a client id belongs to the connection that first claimed it; another
  connection's update or removal of it is dropped (a reconnect of the same
  user takes it over, as a Yjs client keeps its id across reconnects);
- each state is at most ``max_state_bytes``, a connection claims at most
  ``max_clients`` ids, and a room holds at most ``max_room_bytes`` of
  states (``TooLarge`` past any of them);
- the ``name`` and ``user_id`` relayed are the authenticated ones: the
  server stamps them over whatever the client claimed.

When a connection closes, its client ids are removed with their clock + 1
(so no stale copy resurrects them) and forgotten, clocks included.

In cluster mode a connection on another process is an owner here too, known
by the key :class:`PresenceSharing` gives it (``trace_sync.cluster.presence``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from trace_sync.contract.errors import InvalidInput, TooLarge
from trace_sync.contract.sync_protocol import AwarenessEntry, awareness_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """Who is behind a connection, as presence shows them."""

    user_id: str
    name: str


@dataclass(frozen=True)
class PresenceLimits:
    max_state_bytes: int = 16 * 1024
    max_clients: int = 4
    max_room_bytes: int = 1024 * 1024


class AwarenessStates:
    def __init__(self, limits: PresenceLimits | None = None) -> None:
        self._limits = limits or PresenceLimits()
        self._states: dict[int, AwarenessEntry] = {}
        #: Last clock per claimed client id (kept after a removal while its owner stays).
        self._clocks: dict[int, int] = {}
        self._owners: dict[int, Hashable] = {}
        self._identities: dict[Hashable, Identity] = {}
        self._bytes = 0

    def join(self, owner: Hashable, identity: Identity) -> None:
        self._identities[owner] = identity

    def apply(self, owner: Hashable, entries: tuple[AwarenessEntry, ...]) -> bytes | None:
        """Apply what ``owner`` may change; return the stamped message to relay
        (None if nothing changed). Raises before applying anything if a limit
        is passed."""
        identity = self._identities[owner]
        mine = [e for e in entries if self._may_change(owner, identity, e)]
        stamped = [_stamp(e, identity) for e in mine]
        self._check(owner, stamped)
        accepted = [e for e in stamped if self._set(owner, e)]
        return awareness_message(accepted) if accepted else None

    def full_message(self) -> bytes | None:
        """Every current state in one message (for a newcomer), or None if empty."""
        return awareness_message(list(self._states.values())) if self._states else None

    def remove_owner(self, owner: Hashable) -> bytes | None:
        """Remove ``owner``'s clients and forget them; return the removal to broadcast."""
        self._identities.pop(owner, None)
        gone = [cid for cid, who in self._owners.items() if who == owner]
        removals = [AwarenessEntry(cid, self._clocks[cid] + 1, "null") for cid in gone]
        for cid in gone:
            self._drop_state(cid)
            del self._owners[cid], self._clocks[cid]
        return awareness_message(removals) if removals else None

    def states_of(self, owner: Hashable) -> list[AwarenessEntry]:
        """The current (not removed) states of ``owner``'s client ids."""
        return [s for cid, s in self._states.items() if self._owners.get(cid) == owner]

    def __len__(self) -> int:
        return len(self._states)

    # -- rules -----------------------------------------------------------------

    def _may_change(self, owner: Hashable, identity: Identity, entry: AwarenessEntry) -> bool:
        holder = self._owners.get(entry.client_id)
        if holder is None:
            return not entry.removed  # removing what nobody holds would only cost memory
        if holder == owner:
            return True
        if self._identities.get(holder) == identity:
            self._owners[entry.client_id] = owner  # the same person reconnected
            return True
        log.warning("presence of another connection refused", extra={"user": identity.name})
        return False

    def _check(self, owner: Hashable, entries: list[AwarenessEntry]) -> None:
        limits = self._limits
        claimed = {cid for cid, who in self._owners.items() if who == owner}
        claimed |= {e.client_id for e in entries if not e.removed}
        if len(claimed) > limits.max_clients:
            raise TooLarge(f"more than {limits.max_clients} presence client ids on one connection")
        total = self._bytes
        for entry in entries:
            size = len(entry.state.encode())
            if size > limits.max_state_bytes:
                limit = limits.max_state_bytes
                raise TooLarge(f"presence state of {size} bytes is over the {limit}-byte limit")
            old = self._states.get(entry.client_id)
            total += (0 if entry.removed else size) - (_size(old) if old else 0)
        if total > limits.max_room_bytes:
            raise TooLarge(f"presence of this document would pass {limits.max_room_bytes} bytes")

    def _set(self, owner: Hashable, entry: AwarenessEntry) -> bool:
        known = self._clocks.get(entry.client_id, -1)
        if entry.clock < known or (entry.clock == known and not entry.removed):
            return False
        self._clocks[entry.client_id] = entry.clock
        self._owners[entry.client_id] = owner
        self._drop_state(entry.client_id)
        if not entry.removed:
            self._states[entry.client_id] = entry
            self._bytes += _size(entry)
        return True

    def _drop_state(self, client_id: int) -> None:
        old = self._states.pop(client_id, None)
        if old is not None:
            self._bytes -= _size(old)


class PresenceSharing(Protocol):
    """Carries a room's presence to the other server processes (cluster mode:
    ``trace_sync.cluster.presence``); a single process has none."""

    def follow(self, room: PresenceReplica) -> None:
        """Show other processes' presence in ``room`` from now on."""
        ...

    def unfollow(self, name: str) -> None: ...

    def changed(self, name: str, owner: Hashable, identity: Identity, message: bytes) -> None:
        """A local connection's presence changed: ``message`` is what it relayed."""
        ...

    def gone(self, name: str, owner: Hashable) -> None:
        """A local connection that had presence left."""
        ...


class PresenceReplica(Protocol):
    """What presence sharing needs of a loaded room (``sync.room.Room``)."""

    name: str

    def apply_remote_presence(
        self, owner: Hashable, identity: Identity, entries: tuple[AwarenessEntry, ...]
    ) -> None:
        """Apply presence a connection on another process set (raises TraceError if refused)."""
        ...

    def remove_remote_presence(self, owner: Hashable) -> None: ...

    def local_presence(self) -> list[tuple[Hashable, Identity, bytes]]:
        """Each local connection with presence: its key, identity and states as a message."""
        ...


def _size(entry: AwarenessEntry) -> int:
    return len(entry.state.encode())


def _stamp(entry: AwarenessEntry, identity: Identity) -> AwarenessEntry:
    """The entry with the authenticated name and user id over the claimed ones."""
    if entry.removed:
        return entry
    state: Any = json.loads(entry.state)  # the decoder checked it is JSON
    if not isinstance(state, dict):
        raise InvalidInput("a presence state is a JSON object or null")
    state |= {"user_id": identity.user_id, "name": identity.name}
    if isinstance(state.get("user"), dict):
        state["user"] = state["user"] | {"id": identity.user_id, "name": identity.name}
    return AwarenessEntry(entry.client_id, entry.clock, json.dumps(state, ensure_ascii=False))
