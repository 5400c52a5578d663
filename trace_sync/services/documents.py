"""How services reach the documents they write, and the pieces every write shares.

Services never talk websockets: they open a document through
:class:`Documents` (the sync server's rooms), change it in one transaction
whose origin is :data:`SERVICES`, and every connected client gets the change
through the same path as any other update (persisted, then broadcast).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from pycrdt import Doc

from trace_sync.docs.entries import TimelineEvent
from trace_sync.store.ids import new_id

#: The origin of every transaction a service makes.
SERVICES = "trace-services"


class DocumentChange(Protocol):
    """A loaded document changed (what :meth:`Rooms.on_change` hooks receive)."""

    @property
    def name(self) -> str: ...

    @property
    def doc(self) -> Doc[Any]: ...

    @property
    def loaded(self) -> bool:
        """True for the one call made right after the document was loaded."""
        ...


class Documents(Protocol):
    def document(self, name: str) -> AbstractAsyncContextManager[Doc[Any]]:
        """Hold the loaded document ``name`` (created empty if new) while in use."""
        ...


def workspace_doc(workspace_id: str) -> str:
    return f"workspace/{workspace_id}"


def session_doc(session_id: str) -> str:
    return f"session/{session_id}"


def person_doc(user_id: str) -> str:
    return f"person/{user_id}"


def event(actor_id: str, kind: str, **payload: Any) -> TimelineEvent:
    """A timeline event: what happened, who did it, when."""
    return TimelineEvent(
        id=new_id("e"), at=datetime.now(UTC), actor_id=actor_id, kind=kind, payload=payload
    )
