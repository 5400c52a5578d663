"""One loaded document and the connections attached to it.

Every change — an update from a client or an in-process write by a service
(``with room.doc.transaction(origin=...)``) — takes one path: ``doc.observe``
→ persist (group commit) + broadcast. Changes are merged and framed once for
all receivers: an idle room broadcasts at the end of the event-loop turn; a
busy one waits between broadcasts, so the cost of a broadcast (one write per
receiver) is paid per interval, not per keystroke. The wait is at least
:data:`BROADCAST_INTERVAL_S` and grows with what the last broadcast cost
(:data:`BROADCAST_SPACING`): a room with a thousand receivers batches more,
instead of spending the whole event loop on writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

from pycrdt import Doc, TransactionEvent, merge_updates

from trace_sync.contract.errors import Forbidden, InvalidInput, StoreError, TraceError
from trace_sync.contract.sync_protocol import (
    EMPTY_STATE,
    EMPTY_UPDATE,
    Awareness,
    AwarenessEntry,
    Message,
    QueryAwareness,
    SyncProtocolError,
    SyncStep1,
    SyncStep2,
    Update,
    awareness_message,
    sync_step1,
    sync_step2,
    update_message,
)
from trace_sync.docs.names import DocKind, parse_doc_name
from trace_sync.metrics import Metrics
from trace_sync.settings import Limits
from trace_sync.sync.awareness import AwarenessStates, Identity, PresenceLimits, PresenceSharing
from trace_sync.sync.notes import NotesGuard
from trace_sync.sync.peer import Peer
from trace_sync.sync.store import DocumentStore
from trace_sync.sync.wire import Frame

log = logging.getLogger(__name__)

#: Updates pending a broadcast are merged into one every this many: merging
#: costs grow faster than the batch (3 µs per update at 256, 10 µs at 1024).
MAX_BATCH = 256
#: Shortest time between two broadcasts of a busy room. Well below what a
#: person notices, and it turns N sends per update into N sends per interval.
BROADCAST_INTERVAL_S = 0.002
#: After a broadcast that took ``d`` seconds, a busy room waits at least
#: ``BROADCAST_SPACING * d`` before the next, so its broadcasts keep to about
#: half the event loop however many receivers it has (1,000 receivers take
#: 12-20 ms to write to: at most ~30 broadcasts a second instead of 500). A
#: larger factor leaves more of the loop to others but adds ``d`` per step to
#: the latency of a busy room (2.0 cost ~30 ms at N=1000 and 30 updates/s).
BROADCAST_SPACING = 1.0


class Room:
    def __init__(
        self,
        name: str,
        store: DocumentStore,
        metrics: Metrics,
        on_failure: Callable[[Room, TraceError], None],
        limits: Limits | None = None,
        on_committed: Callable[[str, bytes], None] | None = None,
        presence: PresenceSharing | None = None,
    ) -> None:
        self.name = name
        self.doc: Doc[Any] = Doc()
        self._limits = limits = limits or Limits()
        self.awareness = AwarenessStates(
            PresenceLimits(
                limits.max_presence_bytes,
                limits.max_presence_clients,
                limits.max_room_presence_bytes,
            )
        )
        self.connections: set[Peer] = set()
        self._who: dict[Peer, Identity] = {}
        self._guard: NotesGuard | None = None
        self._store = store
        self._metrics = metrics
        self._on_failure = on_failure
        self._on_committed = on_committed
        self._presence = presence
        #: Applying an update another process already stored (cluster mode).
        self._remote = False
        self._applying: Peer | None = None
        self._batch: list[bytes] = []
        self._batch_origins: set[Peer | None] = set()
        self._batch_state = b""
        #: ``time.monotonic()`` before which a busy room does not broadcast again.
        self._next_flush = 0.0
        self._subscription: object | None = None
        #: Frames every join would otherwise build again while the document stays
        #: as it is (after a restart, many clients join at once): our step 1, and
        #: the whole document for a client that has nothing. Dropped on any change.
        self._unchanged: dict[str, Frame] = {}
        self.failed = False

    async def load(self) -> None:
        """Apply what the store holds, then start recording changes."""
        stored = await self._store.load(self.name)
        with self.doc.transaction():
            for update in stored:
                self.doc.apply_update(update)
        if _is_notes(self.name):
            self._guard = NotesGuard(self.doc, self._limits.max_notes_bytes)
        self._subscription = self.doc.observe(self._on_change)

    @property
    def applying_remote(self) -> bool:
        """Inside :meth:`apply_remote`: the change came from another process."""
        return self._remote

    def apply_remote(self, update: bytes) -> None:
        """Apply an update another server process stored: broadcast, never store again."""
        self._remote = True
        try:
            self.doc.apply_update(update)
        finally:
            self._remote = False

    async def reload(self) -> None:
        """Apply what the store holds now: updates missed from other processes
        arrive (the rest are no-ops, CRDT updates being idempotent)."""
        for update in await self._store.load(self.name):
            self.apply_remote(update)

    def close(self) -> None:
        if self._subscription is not None:
            self.doc.unobserve(self._subscription)  # type: ignore[arg-type]
            self._subscription = None

    # -- connections ---------------------------------------------------------

    def connect(self, peer: Peer, identity: Identity) -> None:
        """Greet a new connection with our state vector and everyone's presence."""
        self.connections.add(peer)
        self._who[peer] = identity
        self.awareness.join(peer, identity)
        peer.send(self._while_unchanged("step 1", lambda: sync_step1(self.doc.get_state())))
        presence = self.awareness.full_message()
        if presence:
            peer.send(Frame(presence))

    def disconnect(self, peer: Peer) -> None:
        self.connections.discard(peer)
        self._who.pop(peer, None)
        if self._remove_presence(peer) and self._presence:
            self._presence.gone(self.name, peer)

    def catch_up(self, state: bytes) -> list[Frame]:
        """Frames that bring a client from ``state`` to now (used by folds)."""
        frames = [Frame(update_message(self.doc.get_update(state)))]
        presence = self.awareness.full_message()
        return frames + [Frame(presence)] if presence else frames

    # -- messages ------------------------------------------------------------

    def receive(self, peer: Peer, message: Message, *, writable: bool) -> None:
        if isinstance(message, SyncStep1):
            self._handshake(peer, message.state)
        elif isinstance(message, SyncStep2) and not writable:
            # A reader's reply to our step 1 carries its whole delete set even
            # when it changed nothing (Yjs always sends it): take nothing from
            # it, and refuse readers' writes only where they come, as updates.
            pass
        elif isinstance(message, SyncStep2 | Update):
            self._apply(peer, message.update, writable)
        elif isinstance(message, Awareness):
            relayed = self.awareness.apply(peer, message.entries)
            if relayed:  # to the sender too, as the reference server does
                self._broadcast_raw(Frame(relayed))
                if self._presence:
                    self._presence.changed(self.name, peer, self._who[peer], relayed)
        elif isinstance(message, QueryAwareness):
            presence = self.awareness.full_message()
            if presence:
                peer.send(Frame(presence))

    # -- presence on other processes (cluster mode) -----------------------------

    def apply_remote_presence(
        self, owner: Hashable, identity: Identity, entries: tuple[AwarenessEntry, ...]
    ) -> None:
        """Apply presence a connection on another process set, under the same rules."""
        self.awareness.join(owner, identity)
        relayed = self.awareness.apply(owner, entries)
        if relayed:
            self._broadcast_raw(Frame(relayed))

    def remove_remote_presence(self, owner: Hashable) -> None:
        self._remove_presence(owner)

    def local_presence(self) -> list[tuple[Hashable, Identity, bytes]]:
        """Each local connection with presence: itself, who it is, its states."""
        owned = ((peer, who, self.awareness.states_of(peer)) for peer, who in self._who.items())
        return [(peer, who, awareness_message(states)) for peer, who, states in owned if states]

    def _remove_presence(self, owner: Hashable) -> bool:
        removal = self.awareness.remove_owner(owner)
        if removal:
            self._broadcast_raw(Frame(removal))
        return removal is not None

    def _handshake(self, peer: Peer, state: bytes) -> None:
        if state == EMPTY_STATE:
            frame = self._while_unchanged("everything", lambda: sync_step2(self.doc.get_update()))
        else:
            try:
                frame = Frame(sync_step2(self.doc.get_update(state)))
            except ValueError as exc:
                raise SyncProtocolError(f"bad state vector: {exc}") from exc
        # No await between the diff and joining: the client misses nothing.
        peer.send(frame, state_before=state)
        peer.joined = True

    def _while_unchanged(self, key: str, message: Callable[[], bytes]) -> Frame:
        frame = self._unchanged.get(key)
        if frame is None:
            frame = self._unchanged[key] = Frame(message())
        return frame

    def _apply(self, peer: Peer, update: bytes, writable: bool) -> None:
        if update == EMPTY_UPDATE:
            return  # read-only clients send this as their step 2
        if not writable:
            raise Forbidden(f"read-only access to {self.name}: update refused")
        self._metrics.updates_in.inc()
        self._applying = peer
        try:
            if self._guard is not None:
                self._guard.admit(update, self._who[peer])
            self.doc.apply_update(update)
        except ValueError as exc:
            raise SyncProtocolError(f"undecodable update: {exc}") from exc
        finally:
            self._applying = None

    # -- changes -------------------------------------------------------------

    def _on_change(self, event: TransactionEvent) -> None:
        update = event.update
        if update == EMPTY_UPDATE:
            return
        self._unchanged.clear()
        if self._guard is not None:
            self._guard.follow(update)
        if not self._remote:
            stored = self._store.submit(self.name, update)
            stored.add_done_callback(lambda done: self._persisted(done, update))
        if not self._batch:
            # pycrdt's stubs omit before_state, which TransactionEvent has.
            self._batch_state = event.before_state  # type: ignore[attr-defined]
            self._schedule_flush()
        self._batch.append(update)
        self._batch_origins.add(self._applying)
        if len(self._batch) >= MAX_BATCH:
            self._batch = [merge_updates(*self._batch)]

    def _schedule_flush(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._next_flush - time.monotonic()
        if wait > 0:
            loop.call_later(wait, self._flush)
        else:
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        if not self._batch:
            return
        started = time.monotonic()
        batch, origins, state = self._batch, self._batch_origins, self._batch_state
        self._batch, self._batch_origins = [], set()
        frame = Frame(update_message(batch[0] if len(batch) == 1 else merge_updates(*batch)))
        only_from = next(iter(origins)) if len(origins) == 1 else None
        receivers = [p for p in self.connections if p.joined and p is not only_from]
        for peer in receivers:
            peer.send(frame, state_before=state)
        self._metrics.updates_out.inc(len(receivers))
        finished = time.monotonic()
        spacing = max(BROADCAST_INTERVAL_S, BROADCAST_SPACING * (finished - started))
        self._next_flush = finished + spacing

    def _broadcast_raw(self, frame: Frame) -> None:
        for peer in self.connections:
            peer.send(frame)

    def _persisted(self, done: asyncio.Future[None], update: bytes) -> None:
        error = done.exception() if not done.cancelled() else StoreError("store closed")
        if error is None and self._on_committed is not None:
            self._on_committed(self.name, update)
        if error is not None and not self.failed:
            self.failed = True
            log.error("room lost its store", extra={"doc": self.name}, exc_info=error)
            failure = error if isinstance(error, TraceError) else StoreError(str(error))
            self._on_failure(self, failure)


def _is_notes(name: str) -> bool:
    try:
        return parse_doc_name(name).kind is DocKind.SESSION_NOTES
    except InvalidInput:
        return False  # rooms of other names (tests, tools) hold no notes
