"""The engine, its dialect quirks, and error translation at the boundary.

SQLite runs in WAL mode (readers never block the writer) with explicit
``BEGIN`` so every transaction, DDL included, is a real one. PostgreSQL may
use a dedicated schema (each test run gets a fresh one).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from trace_sync.contract.errors import Conflict, InvalidInput, NotFound, StoreError, TraceError
from trace_sync.store.ids import check_id
from trace_sync.store.schema import migrate

SUPPORTED = ("sqlite+aiosqlite", "postgresql+asyncpg")
#: Any constant works; it only has to be the same in every Trace process.
#: Names the advisory lock that serialises migrations of one schema.
_MIGRATION_LOCK = "trace-migrations:{schema}"
_IMMEDIATE = "trace_sqlite_immediate"


class Database:
    """An async SQLAlchemy engine with migrations applied; ``async with`` only."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = make_url(url)
        if self.url.drivername not in SUPPORTED:
            raise InvalidInput(f"unsupported database URL {url!r}: use one of {SUPPORTED}")
        if self.dialect == "sqlite" and self.url.database in (None, "", ":memory:"):
            # Each pooled connection would get its own empty database.
            raise InvalidInput("SQLite needs a file path (an in-memory database is not shared)")
        if schema is not None and self.dialect != "postgresql":
            raise InvalidInput("a schema can only be given for PostgreSQL")
        self.schema = None if schema is None else check_id(schema, "schema")
        self._engine: AsyncEngine | None = None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    async def __aenter__(self) -> Database:
        try:
            with translated_errors():
                self._engine = self._create_engine()
            await self._open(self._engine)
        except StoreError as exc:
            reason = _reason(exc.__cause__ or exc)
            raise StoreError(f"cannot open the database {self.where}: {reason}") from exc
        return self

    @property
    def where(self) -> str:
        """The database as a person finds it: host, port and name, never the password."""
        if self.dialect == "sqlite":
            return f"(SQLite) at {self.url.database}"
        port = self.url.port or 5432
        return f"{self.url.database!r} (PostgreSQL) at {self.url.host or 'localhost'}:{port}"

    async def _open(self, engine: AsyncEngine) -> None:
        try:
            if self.dialect == "sqlite":
                with translated_errors():
                    await _enable_wal(engine)
            await self._migrate()
        except BaseException:
            await engine.dispose()
            self._engine = None
            raise

    async def __aexit__(self, *exc: object) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

    @asynccontextmanager
    async def begin(self, *, exclusive: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction; driver errors come out as ``StoreError`` / ``Conflict`` /
        ``NotFound``. ``exclusive`` takes SQLite's write lock at once."""
        if self._engine is None:
            raise StoreError("the store is not open")
        with translated_errors():
            async with self._engine.connect() as conn:
                if exclusive:
                    await conn.execution_options(**{_IMMEDIATE: True})
                async with conn.begin():
                    yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection of one's own, outside any transaction (autocommit),
        for session state such as advisory locks; closed on leaving."""
        if self._engine is None:
            raise StoreError("the store is not open")
        with translated_errors():
            async with self._engine.connect() as conn:
                yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def _migrate(self) -> None:
        async with self.begin(exclusive=True) as conn:
            if self.dialect == "postgresql":
                # Serialise processes starting together on this schema (others need not
                # wait: a shared database holds many); released at commit.
                scope = _MIGRATION_LOCK.format(schema=self.schema or "public")
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:scope, 0))"),
                    {"scope": scope},
                )
                if self.schema:
                    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await migrate(conn)

    def _create_engine(self) -> AsyncEngine:
        if self.dialect == "postgresql":
            args: dict[str, Any] = {}
            if self.schema:
                args["server_settings"] = {"search_path": self.schema}
            return create_async_engine(self.url, connect_args=args, pool_size=10)
        Path(self.url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(self.url)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn SQLAlchemy and driver errors into ``StoreError`` / ``Conflict`` / ``NotFound``."""
    try:
        yield
    except IntegrityError as exc:
        raise _integrity_error(exc) from exc
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        raise StoreError(f"database error: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's statement and parameters
    (they may hold what people typed); the chained cause keeps them for the log."""
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()
    return first[0] if first else type(cause).__name__


async def _enable_wal(engine: AsyncEngine) -> None:
    # WAL lets readers run beside the writer. The journal mode belongs to the
    # file, not the connection, and switching it needs an exclusive lock that
    # SQLite refuses at once (ignoring busy_timeout) while another process is
    # switching too: retry for a while. It cannot run inside a transaction.
    for attempt in range(200):
        async with engine.connect() as conn:
            raw: Any = (await conn.get_raw_connection()).driver_connection
            try:
                cursor = await raw.execute("PRAGMA journal_mode=WAL")
                await cursor.close()
                return
            except sqlite3.OperationalError as exc:
                if attempt == 199:
                    raise StoreError(f"cannot switch SQLite to WAL mode: {exc}") from exc
        await asyncio.sleep(0.01)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control away from the driver (it would not BEGIN before
    # a SELECT or DDL); _sqlite_begin issues BEGIN for every transaction.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # busy_timeout makes a second writer (connection or process) wait for the
    # lock. In WAL mode (see _enable_wal) NORMAL stays consistent after any
    # crash and durable across application crashes (an OS crash may lose the
    # last commits). SQLite leaves foreign keys off unless asked, per connection.
    for pragma in ("busy_timeout=10000", "synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _integrity_error(exc: IntegrityError) -> TraceError:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", "")
    if code in ("23503", "SQLITE_CONSTRAINT_FOREIGNKEY"):
        return NotFound(f"refers to something that does not exist: {orig}")
    return Conflict(f"already exists: {orig}")


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: datetime | None) -> datetime | None: ...
def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """A datetime to store: aware and in UTC (SQLite would drop any other offset)."""
    if value.tzinfo is None:
        raise InvalidInput("times must be timezone-aware")
    return value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)
