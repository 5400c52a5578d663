"""A room's awareness (presence) states, and who owns each client id.

Rules of y-protocols' awareness: a higher clock wins; a ``null`` state
removes the client. When a connection closes, its client ids are removed
with their clock + 1, so no stale copy resurrects them.
"""

from __future__ import annotations

from collections.abc import Hashable

from trace_sync.sync.protocol import AwarenessEntry, awareness_message


class AwarenessStates:
    def __init__(self) -> None:
        self._states: dict[int, AwarenessEntry] = {}
        #: Last clock seen per client, kept after removal.
        self._clocks: dict[int, int] = {}
        self._owners: dict[int, Hashable] = {}

    def apply(self, owner: Hashable, entries: tuple[AwarenessEntry, ...]) -> None:
        for entry in entries:
            known = self._clocks.get(entry.client_id, -1)
            if entry.clock < known or (entry.clock == known and not entry.removed):
                continue
            self._clocks[entry.client_id] = entry.clock
            if entry.removed:
                self._states.pop(entry.client_id, None)
                self._owners.pop(entry.client_id, None)
            else:
                self._states[entry.client_id] = entry
                self._owners[entry.client_id] = owner

    def full_message(self) -> bytes | None:
        """Every current state in one message (for a newcomer), or None if empty."""
        return awareness_message(list(self._states.values())) if self._states else None

    def remove_owner(self, owner: Hashable) -> bytes | None:
        """Remove ``owner``'s clients; return the removal message to broadcast."""
        gone = [cid for cid, who in self._owners.items() if who == owner]
        removals = [AwarenessEntry(cid, self._clocks[cid] + 1, "null") for cid in gone]
        self.apply(owner, tuple(removals))
        return awareness_message(removals) if removals else None

    def __len__(self) -> int:
        return len(self._states)
