"""The checkpoint registry of ``session/<sid>``: each runtime checkpoint recorded once.

In a cluster several processes can take in one io document at once (a
handover: the bridge reconnects to one member while a person opens the
session on another). Each sees its own copy of the registry without
checkpoint n, and two appends to a CRDT array are two entries, not one. So a
process first claims n in the database (an idempotency key of the session's
creator): only the winner appends n and its ``checkpoints.recorded`` event.
A loser leaves n unsettled and looks again on a later pass, when the
winner's append has reached its copy.

A winner that dies before its append is stored leaves its claim behind: after
:data:`~trace_sync.store.idempotency.ABANDONED_AFTER` another process takes
it over, so such a checkpoint is recorded late, never lost.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc

from trace_sync.docs import typed
from trace_sync.docs.entries import Checkpoint
from trace_sync.docs.layouts import SESSION
from trace_sync.services.documents import SERVICES, Documents, event, session_doc
from trace_sync.store import Store

#: Every process claims with the same fingerprint, so any of them may take over
#: a claim its holder abandoned.
_FINGERPRINT = "checkpoint"


class CheckpointRegistry:
    def __init__(self, store: Store, documents: Documents) -> None:
        self._store = store
        self._documents = documents

    async def record(self, session_id: str, made: list[Checkpoint]) -> set[int]:
        """Add the runtime's checkpoints the registry lacks. Return the numbers
        settled: registered already or now. Another process is adding the rest:
        ask again on a later pass."""
        async with self._documents.document(session_doc(session_id)) as doc:
            missing = [c for c in made if c.n not in _registered(doc)]
        won = await self._claim(session_id, missing)
        async with self._documents.document(session_doc(session_id)) as doc:
            # Looked at again: the claims took a while, and a slow holder of an
            # abandoned claim may have appended meanwhile.
            new = [c for c in won if c.n not in _registered(doc)]
            if new:
                change = event("runtime", "checkpoints.recorded", numbers=[c.n for c in new])
                with doc.transaction(origin=SERVICES):
                    for checkpoint in new:
                        typed.append(doc, SESSION, "checkpoints", checkpoint, origin=SERVICES)
                    typed.append(doc, SESSION, "timeline", change, origin=SERVICES)
        return {c.n for c in made} - {c.n for c in missing} | {c.n for c in won}

    async def _claim(self, session_id: str, checkpoints: list[Checkpoint]) -> list[Checkpoint]:
        """Those of ``checkpoints`` this process won the claim to append."""
        if not checkpoints:
            return []
        # The creator, not the owner: a hand-off meanwhile must not change the key's user.
        creator = (await self._store.sessions.get(session_id)).creator_id
        keys = self._store.idempotency
        return [
            c
            for c in checkpoints
            if await keys.claim(creator, claim_key(session_id, c.n), _FINGERPRINT) is None
        ]


def claim_key(session_id: str, n: int) -> str:
    """The idempotency key of checkpoint ``n``. It holds spaces, which no
    ``Idempotency-Key`` header may: a client's command can never take it."""
    return f"checkpoint {session_id} {n}"


def _registered(doc: Doc[Any]) -> set[Any]:
    return {c.get("n") for c in typed.root_of(doc, SESSION, "checkpoints")}
