"""Per document: an append-only log of Yjs updates plus one latest snapshot.

Appends are group-committed (:mod:`trace_sync.store.writer`). Compaction
folds the snapshot and the log into a new snapshot (:mod:`~trace_sync.store.folding`)
and swaps it in atomically, refusing rather than losing a row another
process committed late. Because CRDT updates are idempotent and commute,
``load`` = snapshot + every remaining update is right in any order.

Example::

    async with Store(url) as store:
        await store.updates.append("session/s_1/notes", update)
        doc = Doc()
        for update in await store.updates.load("session/s_1/notes"):
            doc.apply_update(update)
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy import (
    Integer,
    LargeBinary,
    bindparam,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from trace_sync.contract.errors import Conflict, StoreError
from trace_sync.metrics import Metrics
from trace_sync.store.database import Database, now
from trace_sync.store.folding import Fold, fold
from trace_sync.store.schema import documents, snapshots, updates
from trace_sync.store.writer import GroupCommit, Pending

log = logging.getLogger(__name__)

#: Most updates in one transaction: bounds one statement and one burst's wait.
MAX_BATCH = 4096
#: Compaction attempts before giving up when the log keeps moving under it.
COMPACT_ATTEMPTS = 3


_UNNEST_INSERT = updates.insert().from_select(
    ["doc_id", "data"],
    select(
        func.unnest(bindparam("doc_ids", type_=ARRAY(Integer))),
        func.unnest(bindparam("data", type_=ARRAY(LargeBinary))),
    ),
)


@dataclass
class _Log:
    """One document's rows, as read by a single statement."""

    doc_id: int
    snapshot: bytes | None = None
    version: int | None = None
    ids: list[int] = field(default_factory=list)
    updates: list[bytes] = field(default_factory=list)


class UpdateLog:
    """The documents' update logs; reach it as ``store.updates``."""

    def __init__(
        self,
        db: Database,
        *,
        commit_delay_s: float = 0.0,
        compact_after_updates: int = 2000,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._writer = GroupCommit(self._commit, delay_s=commit_delay_s, max_batch=MAX_BATCH)
        self._compact_after = compact_after_updates
        self._metrics = metrics
        self._doc_ids: dict[str, int] = {}
        self._since_compaction: dict[str, int] = {}
        self._compactions: dict[str, asyncio.Task[None]] = {}
        self._compacting: dict[str, asyncio.Lock] = {}
        # Folding is CPU work that holds the GIL: several at once would only
        # starve the event loop (and the writer) without finishing sooner.
        self._fold_slot = asyncio.Lock()
        #: The last failure of a background compaction (the log stays correct).
        self.compaction_error: BaseException | None = None

    async def __aenter__(self) -> UpdateLog:
        await self._writer.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._writer.__aexit__(exc_type, exc, tb)
        finally:
            while self._compactions:  # background compactions never raise
                await asyncio.gather(*self._compactions.values())

    @property
    def commits(self) -> int:
        """Transactions the group-commit writer has committed."""
        return self._writer.commits

    # -- appending -----------------------------------------------------------

    def submit(self, name: str, update: bytes) -> asyncio.Future[None]:
        """Queue ``update`` for the next group commit; the future resolves once
        it is committed, or raises ``StoreError``."""
        return self._writer.submit(name, update)

    async def append(self, name: str, update: bytes) -> None:
        """Append ``update`` to the log of ``name``; returns once it is committed."""
        await self._writer.submit(name, update)

    async def flush(self) -> None:
        """Wait until everything appended so far is committed (re-raising a failure)."""
        await self._writer.flush()

    async def _commit(self, batch: list[Pending]) -> None:
        started = time.perf_counter()
        async with self._db.begin() as conn:
            ids = await self._ensure_documents(conn, {p.name for p in batch})
            await self._insert(conn, [ids[p.name] for p in batch], [p.data for p in batch])
        self._doc_ids.update(ids)
        if self._metrics is not None:
            self._metrics.commit_seconds.observe(time.perf_counter() - started)
            self._metrics.committed_updates.inc(len(batch))
        self._count_for_compaction(batch)

    async def _insert(self, conn: AsyncConnection, doc_ids: list[int], data: list[bytes]) -> None:
        if self._db.dialect == "postgresql":
            # One statement with two array parameters: several times faster
            # than executemany's row-by-row binding on asyncpg.
            await conn.execute(_UNNEST_INSERT, {"doc_ids": doc_ids, "data": data})
        else:
            rows = [{"doc_id": d, "data": b} for d, b in zip(doc_ids, data, strict=True)]
            await conn.execute(updates.insert(), rows)

    async def _ensure_documents(self, conn: AsyncConnection, names: set[str]) -> dict[str, int]:
        known = {n: self._doc_ids[n] for n in names if n in self._doc_ids}
        missing = names - known.keys()
        if missing:
            # Another process may create the same name at once: insert-or-ignore, then read.
            insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
            rows = [{"name": n, "created_at": now()} for n in sorted(missing)]
            await conn.execute(insert(documents).on_conflict_do_nothing(), rows)
            query = select(documents.c.name, documents.c.id).where(documents.c.name.in_(missing))
            known.update({name: doc_id for name, doc_id in await conn.execute(query)})
        return known

    # -- loading -------------------------------------------------------------

    async def load(self, name: str) -> list[bytes]:
        """The snapshot (if any) followed by every later update; ``[]`` if never written.
        Updates of ``name`` still being committed are waited for: a room unloaded
        and loaded again at once must not miss its last writes."""
        await self._writer.settled(name)
        rows = await self._read(name)
        if rows is None:
            return []
        self._since_compaction[name] = len(rows.updates)
        head = [rows.snapshot] if rows.snapshot is not None else []
        return head + rows.updates

    async def log_length(self, name: str) -> int:
        """How many updates follow the snapshot in the database (for tests and operators)."""
        doc_id = await self._find_document(name)
        query = select(func.count()).select_from(updates).where(updates.c.doc_id == doc_id)
        async with self._db.begin() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def _find_document(self, name: str) -> int | None:
        if name in self._doc_ids:
            return self._doc_ids[name]
        query = select(documents.c.id).where(documents.c.name == name)
        async with self._db.begin() as conn:
            doc_id = (await conn.execute(query)).scalar()
        if doc_id is not None:
            self._doc_ids[name] = doc_id  # document rows are never deleted or renamed
        return doc_id

    async def _read(self, name: str) -> _Log | None:
        # One statement, so a cold room costs one round trip, and a compaction
        # committing meanwhile cannot pair the old snapshot with the already-
        # trimmed log (or the new one with the old log). The document's own
        # row comes first (with its snapshot, if any), so an empty document
        # is told from an unknown one.
        snap = select(
            literal_column("0", Integer).label("part"),
            documents.c.id,
            snapshots.c.data,
            snapshots.c.version,
        ).select_from(documents.outerjoin(snapshots, snapshots.c.doc_id == documents.c.id))
        log_rows = select(
            literal_column("1", Integer), updates.c.id, updates.c.data, null()
        ).select_from(updates.join(documents, updates.c.doc_id == documents.c.id))
        query = union_all(
            snap.where(documents.c.name == name), log_rows.where(documents.c.name == name)
        ).order_by("part", "id")
        result: _Log | None = None
        async with self._db.begin() as conn:
            for kind, row_id, data, version in await conn.execute(query):
                if kind == 0:
                    result = _Log(row_id)
                    self._doc_ids[name] = row_id  # document rows are never deleted or renamed
                    if data is not None:
                        result.snapshot, result.version = bytes(data), version
                elif result is not None:
                    result.ids.append(row_id)
                    result.updates.append(bytes(data))
        return result

    # -- compaction ----------------------------------------------------------

    async def compact(self, name: str) -> int:
        """Fold the snapshot and the log of ``name`` into a new snapshot, atomically;
        return how many logged updates it took in (0: none could be folded yet).

        Retries when another process appended or compacted in between; raises
        ``Conflict`` if that keeps happening (nothing is lost either way).
        """
        lock = self._compacting.setdefault(name, asyncio.Lock())
        async with lock, self._fold_slot:
            for _ in range(COMPACT_ATTEMPTS - 1):
                try:
                    return await self._compact_once(name)
                except Conflict:
                    continue
            return await self._compact_once(name)  # its Conflict is raised

    async def _compact_once(self, name: str) -> int:
        rows = await self._read(name)
        if rows is None or not rows.ids:
            return 0
        # CPU work in a thread and outside any transaction: writers keep going.
        folded = await asyncio.to_thread(fold, rows.snapshot, rows.updates)
        if len(folded.pending) == len(rows.ids):
            return 0  # nothing the snapshot could absorb yet
        async with self._db.begin() as conn:
            await self._swap(conn, rows, folded)
        count = self._since_compaction.get(name, 0)
        self._since_compaction[name] = max(0, count - len(rows.ids))
        return len(rows.ids) - len(folded.pending)

    async def _swap(self, conn: AsyncConnection, rows: _Log, folded: Fold) -> None:
        # Ids come from a sequence on PostgreSQL, so a row with a lower id than
        # the last one we read may commit late: we then delete more than we read.
        deleted = await conn.execute(
            updates.delete().where(updates.c.doc_id == rows.doc_id, updates.c.id <= rows.ids[-1])
        )
        if deleted.rowcount != len(rows.ids):
            raise Conflict("the log changed under compaction")
        await self._save_snapshot(conn, rows, folded)
        if folded.pending:
            # Still waiting for a dependency: keep them, after the snapshot.
            keep = [{"doc_id": rows.doc_id, "data": rows.updates[i]} for i in folded.pending]
            await conn.execute(updates.insert(), keep)

    async def _save_snapshot(self, conn: AsyncConnection, rows: _Log, folded: Fold) -> None:
        count = len(rows.ids) - len(folded.pending)
        values = {"data": folded.snapshot, "created_at": now()}
        if rows.version is None:
            insert = snapshots.insert().values(
                doc_id=rows.doc_id, version=1, update_count=count, **values
            )
            await conn.execute(insert)  # a concurrent first snapshot makes this a Conflict
            return
        changed = await conn.execute(
            snapshots.update()
            .where(snapshots.c.doc_id == rows.doc_id, snapshots.c.version == rows.version)
            .values(
                version=rows.version + 1, update_count=snapshots.c.update_count + count, **values
            )
        )
        if changed.rowcount != 1:
            raise Conflict("another compaction replaced the snapshot first")

    def _count_for_compaction(self, batch: list[Pending]) -> None:
        for item in batch:
            self._since_compaction[item.name] = self._since_compaction.get(item.name, 0) + 1
        for name in {item.name for item in batch}:
            if self._compaction_due(name) and name not in self._compactions:
                task = asyncio.create_task(self._compact_in_background(name))
                self._compactions[name] = task

    def _compaction_due(self, name: str) -> bool:
        return self._since_compaction.get(name, 0) > self._compact_after

    async def _compact_in_background(self, name: str) -> None:
        try:
            # What was appended meanwhile may be past the threshold again, and a
            # document written fast and then left alone gets no append to notice.
            while self._compaction_due(name) and await self.compact(name):
                pass
        except Exception as exc:  # kept for the operator; the log itself stays correct
            self.compaction_error = exc
            # Back off: try again after another compact_after_updates appends.
            self._since_compaction[name] = 0
            level = logging.WARNING if isinstance(exc, Conflict | StoreError) else logging.ERROR
            log.log(level, "compaction failed", extra={"doc": name}, exc_info=exc)
        finally:
            del self._compactions[name]
