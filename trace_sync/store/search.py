"""Search across session history: titles, prompts, transcript text, tool and terminal output.

One interface over SQLite FTS5 and PostgreSQL full-text search (the index
itself is made in :mod:`trace_sync.store.text_index`). Results are filtered
in the query by the same visibility rule as session lists, so a private
session's text never reaches someone who may not see it::

    await store.search.put("s_1", "prompt", "p_1", "fix the login bug")
    hits = await store.search.find("w_1", Viewer("u_1", is_admin=False), "login")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.store.database import Database
from trace_sync.store.schema import search_entries
from trace_sync.store.sessions import Viewer

#: Where a text comes from: a session's title, a prompt, transcript text, a tool's
#: output (a transcript tool result) or a terminal's live window.
SearchKind = Literal["title", "prompt", "transcript", "tool_output", "terminal"]
#: Longest text indexed per entry: enough for any prompt or message a person
#: searches for, and it bounds what one runtime-written entry can cost.
MAX_BODY = 20_000
MAX_QUERY = 200
MAX_TERMS = 12
_TERM = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchHit:
    """The best match of one session: where it matched and the text around it."""

    session_id: str
    kind: str
    key: str
    snippet: str
    rank: float


class SearchIndex:
    """Reach it as ``store.search``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, session_id: str, kind: SearchKind, key: str, body: str) -> None:
        """Index ``body`` as the (``kind``, ``key``) text of a session, replacing
        what was there; an empty body removes it. Runtimes write what their tools
        print, NUL included, which PostgreSQL cannot store: it becomes U+FFFD."""
        body, key = _storable(body), _storable(key)
        if not body.strip():
            await self.remove(session_id, kind, key)
            return
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        values = {"session_id": session_id, "kind": kind, "key": key, "body": body[:MAX_BODY]}
        upsert = insert(search_entries).values(values)
        upsert = upsert.on_conflict_do_update(
            index_elements=["session_id", "kind", "key"], set_={"body": upsert.excluded.body}
        )
        try:
            # FTS5 reads its shadow tables before it writes: a deferred SQLite
            # transaction could then fail at once with "database is locked"
            # (its snapshot went stale) instead of waiting its turn.
            async with self._db.begin(exclusive=True) as conn:
                await conn.execute(upsert)
        except NotFound as exc:
            raise NotFound(f"no session {session_id}") from exc

    async def remove(self, session_id: str, kind: SearchKind, key: str) -> None:
        query = search_entries.delete().where(
            search_entries.c.session_id == session_id,
            search_entries.c.kind == kind,
            search_entries.c.key == key,
        )
        async with self._db.begin(exclusive=True) as conn:
            await conn.execute(query)

    async def count(self, session_id: str) -> int:
        """How many entries a session has in the index (for operators and tests)."""
        query = text("SELECT count(*) FROM search_entries WHERE session_id = :sid")
        async with self._db.begin() as conn:
            return int((await conn.execute(query, {"sid": session_id})).scalar_one())

    async def find(
        self, workspace_id: str, viewer: Viewer, query: str, *, limit: int = 20, offset: int = 0
    ) -> list[SearchHit]:
        """Sessions of the workspace whose text matches every word of ``query``
        (as a prefix), best first, one hit per session."""
        terms = _terms(query)
        sqlite = self._db.dialect == "sqlite"
        params: dict[str, Any] = {
            "q": _fts5_query(terms) if sqlite else _tsquery(terms),
            "wid": workspace_id,
            "uid": viewer.user_id,
            "admin": viewer.is_admin,
            "limit": limit,
            "offset": offset,
        }
        async with self._db.begin() as conn:
            rows = list(
                await conn.execute(text(_SQLITE_FIND if sqlite else _POSTGRES_FIND), params)
            )
            if sqlite:
                snippets = await _fts5_snippets(conn, params["q"], [r.id for r in rows])
            else:
                snippets = {r.id: r.snippet for r in rows}
        return [SearchHit(r.session_id, r.kind, r.key, snippets[r.id], r.rank) for r in rows]


async def _fts5_snippets(conn: AsyncConnection, query: str, ids: list[int]) -> dict[int, str]:
    """``snippet()`` only works beside MATCH; computing it for every match
    (before picking one per session) cost more than the search itself."""
    if not ids:
        return {}
    marks = ", ".join(f":id{n}" for n in range(len(ids)))
    sql = (
        "SELECT rowid AS id, snippet(search_fts, 0, '[', ']', '…', 16) AS snippet "
        f"FROM search_fts WHERE search_fts MATCH :q AND rowid IN ({marks})"
    )
    params = {"q": query} | {f"id{n}": rowid for n, rowid in enumerate(ids)}
    return {r.id: r.snippet for r in await conn.execute(text(sql), params)}


def _terms(query: str) -> list[str]:
    if len(query) > MAX_QUERY:
        raise InvalidInput(f"a search is at most {MAX_QUERY} characters")
    terms = _TERM.findall(query)[:MAX_TERMS]
    if not terms:
        raise InvalidInput("search for at least one word")
    return terms


def _fts5_query(terms: list[str]) -> str:
    # Quoted, each term is a plain string to FTS5 (no operators), as a prefix.
    return " ".join(f'"{term}"*' for term in terms)


def _tsquery(terms: list[str]) -> str:
    return " & ".join(f"{term}:*" for term in terms)


_VISIBLE = (
    "s.workspace_id = :wid AND (NOT s.private OR :admin "
    "OR s.creator_id = :uid OR s.owner_id = :uid)"
)

# The window picks each session's best entry; FTS5's functions must be
# evaluated in the innermost query, next to MATCH.
_SQLITE_FIND = f"""
SELECT id, session_id, kind, key, rank FROM (
  SELECT *, row_number() OVER (PARTITION BY session_id ORDER BY rank) AS nth FROM (
    SELECT e.id, e.session_id, e.kind, e.key, bm25(search_fts) AS rank
    FROM search_fts
    JOIN search_entries e ON e.id = search_fts.rowid
    JOIN sessions s ON s.id = e.session_id
    WHERE search_fts MATCH :q AND {_VISIBLE}
  ) AS matched
) AS best WHERE nth = 1
ORDER BY rank, session_id LIMIT :limit OFFSET :offset
"""

# ts_headline is evaluated after LIMIT: only for the rows returned.
_POSTGRES_FIND = f"""
SELECT id, session_id, kind, key, rank,
       ts_headline('english', body, to_tsquery('english', :q),
                   'StartSel=[, StopSel=], MaxWords=16, MinWords=4') AS snippet
FROM (
  SELECT e.id, e.session_id, e.kind, e.key, e.body,
         -ts_rank(e.tsv, q) AS rank,
         row_number() OVER (PARTITION BY e.session_id ORDER BY ts_rank(e.tsv, q) DESC) AS nth
  FROM search_entries e
  JOIN sessions s ON s.id = e.session_id
  CROSS JOIN to_tsquery('english', :q) AS q
  WHERE e.tsv @@ q AND {_VISIBLE}
) AS best WHERE nth = 1
ORDER BY rank, session_id LIMIT :limit OFFSET :offset
"""


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")
