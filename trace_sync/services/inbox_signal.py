"""Tells a person's clients that their inbox changed, through a document of their own.

``person/<uid>`` is read by that person only (see the policy). Its ``inbox``
map's ``changes`` goes up by one whenever an item of theirs is added, resolved
or read; a client following the document reads ``/api/inbox`` again when it
moves, in place of asking every few seconds. Being a document, the signal
reaches every device and every process of a cluster the way any update does,
and an offline client hears of what it missed when it syncs again.

What a person may see is decided at every read of the inbox, so a change of
authority moves the signal too: of the person whose role or membership
changed, of everyone with items of a session whose access changed (a hand-off).
"""

from __future__ import annotations

from collections.abc import Iterable

from pycrdt import Map

from trace_sync.docs.migrations import migrate
from trace_sync.docs.names import DocKind
from trace_sync.services.authority import AuthorityChanged, Reason
from trace_sync.services.documents import SERVICES, Documents, person_doc
from trace_sync.store.inbox import Inbox


class InboxSignal:
    """``authority.subscribe(signal.authority_changed)`` to follow authority too."""

    def __init__(self, documents: Documents, inbox: Inbox) -> None:
        self._documents = documents
        self._inbox = inbox

    async def changed(self, user_ids: Iterable[str]) -> None:
        """The inboxes of ``user_ids`` may read differently now."""
        for user_id in sorted(set(user_ids)):
            async with self._documents.document(person_doc(user_id)) as doc:
                migrate(doc, DocKind.PERSON, origin=SERVICES)
                inbox = doc.get("inbox", type=Map)
                with doc.transaction(origin=SERVICES):
                    inbox["changes"] = int(inbox.get("changes", 0)) + 1

    async def authority_changed(self, change: AuthorityChanged) -> None:
        if change.reason in (Reason.ROLE, Reason.MEMBERSHIP) and change.user_id is not None:
            await self.changed([change.user_id])
        elif change.reason is Reason.SESSION_ACCESS and change.session_id is not None:
            await self.changed(await self._inbox.holders(change.session_id))
