"""The full-text index over ``search_entries``: one per dialect, same behaviour.

SQLite: an FTS5 table with ``search_entries`` as its external content, kept
in step by triggers (so a cascading delete of a session removes its text
from the index too). PostgreSQL: a generated ``tsvector`` column with a GIN
index. Both stem English words (``porter`` / the ``english`` configuration),
so "fixing" finds "fix".
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "body, content='search_entries', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_entries_au AFTER UPDATE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO search_fts(rowid, body) VALUES (new.id, new.body); END",
)

_POSTGRES = (
    "ALTER TABLE search_entries ADD COLUMN IF NOT EXISTS tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', body)) STORED",
    "CREATE INDEX IF NOT EXISTS search_entries_tsv ON search_entries USING GIN (tsv)",
)


async def create_text_index(conn: AsyncConnection) -> None:
    """Create the dialect's full-text index over ``search_entries`` (idempotent)."""
    statements = _SQLITE if conn.dialect.name == "sqlite" else _POSTGRES
    for statement in statements:
        await conn.execute(text(statement))
