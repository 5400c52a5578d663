"""Tables and migrations. Migrations run at start, in one transaction, each step once.

The tables below always describe the *latest* schema. A fresh database is
created from them in one go and marked as being at the latest version; an
older database is brought up to date by the steps it has not applied yet.

To change the schema (say, add ``sessions.title``):

1. change the ``Table`` below (``Column("title", Text)``), and
2. append a step to :data:`MIGRATIONS` doing the same to an existing database::

       async def _add_session_title(conn: AsyncConnection) -> None:
           await conn.execute(text("ALTER TABLE sessions ADD COLUMN title TEXT"))

       MIGRATIONS.append(_add_session_title)

Never edit or reorder a step that has shipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateColumn

from trace_sync.store.text_index import create_text_index

metadata = MetaData()
Timestamp = DateTime(timezone=True)
#: 64-bit ids on PostgreSQL; on SQLite only an INTEGER PRIMARY KEY (the rowid)
#: auto-increments, and it is 64-bit anyway.
BigId = BigInteger().with_variant(Integer, "sqlite")

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Timestamp, nullable=False),
)

documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
)

updates = Table(
    "updates",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("doc_id", Integer, ForeignKey("documents.id"), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("updates_by_doc", "doc_id", "id"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("doc_id", Integer, ForeignKey("documents.id"), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    # Bumped by every compaction, which only writes over the version it read:
    # of two concurrent compactions one wins, the other rolls back.
    Column("version", Integer, nullable=False),
    # How many updates were folded in over all compactions (for operators).
    Column("update_count", BigInteger, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
    # Added with invitations: instance admins touch the server's disk and create accounts.
    Column("instance_admin", Boolean, nullable=False, server_default=false()),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Text, primary_key=True),
    Column("user_id", Text, ForeignKey("users.id"), nullable=False, index=True),
    Column("secret_hash", LargeBinary, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("runtime_id", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("last_used_at", Timestamp),
    Column("revoked_at", Timestamp),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("workspace_id", Text, ForeignKey("workspaces.id"), primary_key=True),
    Column("user_id", Text, ForeignKey("users.id"), primary_key=True, index=True),
    Column("role", Text, nullable=False),
)

repos = Table(
    "repos",
    metadata,
    Column("id", Text, primary_key=True),
    Column("workspace_id", Text, ForeignKey("workspaces.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("default_branch", Text, nullable=False),
    Column("added_by", Text, ForeignKey("users.id"), nullable=False),
    Column("added_at", Timestamp, nullable=False),
    # Added in step 5: JSON {"copy": [globs], "command": str | null}, run in new worktrees.
    Column("setup", Text, nullable=False, server_default="{}"),
    UniqueConstraint("workspace_id", "name"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("workspace_id", Text, ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("creator_id", Text, ForeignKey("users.id"), nullable=False),
    Column("private", Boolean, nullable=False),
    Column("runtime_id", Text),
    Column("created_at", Timestamp, nullable=False),
    # Added in step 2: what the session runs and where it stands.
    Column("owner_id", Text, ForeignKey("users.id")),
    Column("title", Text, nullable=False, server_default=""),
    Column("tool", Text, nullable=False, server_default="shell"),
    Column("model", Text),
    Column("repo_id", Text, ForeignKey("repos.id")),
    Column("base_branch", Text),
    Column("branch", Text),
    Column("status", Text, nullable=False, server_default="created"),
    Column("location", Text, nullable=False, server_default="local"),
    Column("parent_id", Text),
    Column("parent_checkpoint", Integer),
    Column("last_activity_at", Timestamp),
    Column("cost_usd", Float, nullable=False, server_default="0"),
    # Added in step 4: true when cost_usd is computed from tokens, not reported.
    Column("cost_estimated", Boolean, nullable=False, server_default=false()),
    # Added in step 5: how the tool asks for permissions (ask, accept_edits, bypass).
    Column("permission_mode", Text, nullable=False, server_default="ask"),
    # Added in step 6: the hosting runtime's health, rolled up from the io document.
    Column("heartbeat_at", Timestamp),
    Column("cpu_percent", Float),
    Column("memory_bytes", BigInteger),
    Column("disk_bytes", BigInteger),
    # Added by _session_reason: why the session failed (None while it is not failed).
    Column("reason", Text),
    # Added by _session_diff_stats: lines added and removed in the session's changed files.
    Column("lines_added", Integer, nullable=False, server_default="0"),
    Column("lines_removed", Integer, nullable=False, server_default="0"),
    # Added by _attention: input and output tokens so far (token budgets add them up).
    Column("tokens", BigInteger, nullable=False, server_default="0"),
    # Added by _session_pull_requests: the session's pull request as its forge last said.
    Column("pr_number", Integer),
    Column("pr_state", Text),
    Column("pr_checks", Text),
    Index("sessions_by_activity", "workspace_id", "last_activity_at", "id"),
)

#: Searchable text of sessions (title, prompts, transcript), one row per
#: (session, kind, key). The full-text index beside it is dialect-specific:
#: see :mod:`trace_sync.store.search`, which owns its DDL.
search_entries = Table(
    "search_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("body", Text, nullable=False),
    UniqueConstraint("session_id", "kind", "key"),
)

#: Commands sent with an ``Idempotency-Key``: the reply, to give again on retry.
idempotency = Table(
    "idempotency",
    metadata,
    Column("user_id", Text, ForeignKey("users.id"), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("status", Integer),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    #: Every claim deletes the rows past their keeping; a checkpoint claims one each.
    Index("idempotency_by_age", "created_at"),
)

Migration = Callable[[AsyncConnection], Awaitable[None]]


async def _create_v1(conn: AsyncConnection) -> None:
    await conn.run_sync(metadata.create_all)


_SESSION_COLUMNS_V2 = (
    "owner_id",
    "title",
    "tool",
    "model",
    "repo_id",
    "base_branch",
    "branch",
    "status",
    "location",
    "parent_id",
    "parent_checkpoint",
    "last_activity_at",
    "cost_usd",
)


async def _sessions_v2(conn: AsyncConnection) -> None:
    """Repos, idempotency keys, and what a session runs and where it stands."""
    await conn.run_sync(lambda sync: repos.create(sync, checkfirst=True))
    await conn.run_sync(lambda sync: idempotency.create(sync, checkfirst=True))
    for name in _SESSION_COLUMNS_V2:
        column = CreateColumn(sessions.c[name]).compile(dialect=conn.dialect)
        await conn.execute(text(f"ALTER TABLE sessions ADD COLUMN {column}"))
    await conn.execute(text("UPDATE sessions SET owner_id = creator_id"))
    index = next(i for i in sessions.indexes if i.name == "sessions_by_activity")
    await conn.run_sync(lambda sync: index.create(sync, checkfirst=True))


async def _search(conn: AsyncConnection) -> None:
    """Full-text search over sessions, and whether a session's cost is estimated."""
    column = CreateColumn(sessions.c.cost_estimated).compile(dialect=conn.dialect)
    await conn.execute(text(f"ALTER TABLE sessions ADD COLUMN {column}"))
    await conn.run_sync(lambda sync: search_entries.create(sync, checkfirst=True))
    await create_text_index(conn)


async def _create_latest(conn: AsyncConnection) -> None:
    await _create_v1(conn)
    await create_text_index(conn)


#: Step N (1-based) brings a database from version N-1 to N.
MIGRATIONS: list[Migration] = [_create_v1, _sessions_v2]


async def migrate(conn: AsyncConnection) -> list[int]:
    """Apply the steps this database lacks; return the versions applied now.

    The caller holds the transaction and whatever lock keeps two processes
    from migrating at once.
    """
    await conn.run_sync(lambda sync: schema_version.create(sync, checkfirst=True))
    current = (await conn.execute(select(func.max(schema_version.c.version)))).scalar() or 0
    if current == 0:
        # A fresh database: the tables above already are the latest schema.
        await _create_latest(conn)
        return await _record(conn, range(1, len(MIGRATIONS) + 1))
    for step in MIGRATIONS[current:]:
        await step(conn)
    return await _record(conn, range(current + 1, len(MIGRATIONS) + 1))


async def _record(conn: AsyncConnection, versions: range) -> list[int]:
    if versions:
        applied_at = datetime.now(UTC)
        rows = [{"version": v, "applied_at": applied_at} for v in versions]
        await conn.execute(schema_version.insert(), rows)
    return list(versions)


# -- Runtimes (bridges) and access grants to them: issue 4 -----------------------
# Kept together at the end, and appended to MIGRATIONS as a step of their own.

runtimes = Table(
    "runtimes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Text, ForeignKey("users.id"), nullable=False, index=True),
    #: A stable id the bridge keeps in its data dir: re-registering finds the same row.
    Column("instance_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("version", Text, nullable=False, server_default=""),
    #: JSON: the tools the bridge found, as it said in its last hello.
    Column("capabilities", Text, nullable=False, server_default="{}"),
    Column("created_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp),
    UniqueConstraint("owner_id", "instance_id"),
)

grants = Table(
    "grants",
    metadata,
    Column("id", Text, primary_key=True),
    Column("runtime_id", Text, ForeignKey("runtimes.id"), nullable=False, index=True),
    Column("grantee_id", Text, ForeignKey("users.id"), nullable=False, index=True),
    #: Comma-separated capabilities: session, terminal.
    Column("capabilities", Text, nullable=False),
    #: One session, or NULL for every session on the runtime.
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE")),
    Column("expires_at", Timestamp),
    Column("state", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("decided_at", Timestamp),
    Column("decided_by", Text, ForeignKey("users.id")),
)


async def _runtimes_and_grants(conn: AsyncConnection) -> None:
    """Runtimes (bridges) and the access grants their owners give."""
    await conn.run_sync(lambda sync: runtimes.create(sync, checkfirst=True))
    await conn.run_sync(lambda sync: grants.create(sync, checkfirst=True))


MIGRATIONS.append(_runtimes_and_grants)
# Step 4 (issue 3): full-text search and sessions.cost_estimated, defined above.
MIGRATIONS.append(_search)


async def _permissions_and_setup(conn: AsyncConnection) -> None:
    """Sessions' permission mode (issue 5) and repos' worktree setup (issue 4).

    Step 2 creates ``repos`` from the latest table definition, so a database
    that passed through it may have ``setup`` already."""
    for table, name in ((sessions, "permission_mode"), (repos, "setup")):
        if name not in await conn.run_sync(_column_names, table.name):
            column = CreateColumn(table.c[name]).compile(dialect=conn.dialect)
            await conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column}"))


def _column_names(sync: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(sync).get_columns(table)}


MIGRATIONS.append(_permissions_and_setup)


_HEALTH_COLUMNS = ("heartbeat_at", "cpu_percent", "memory_bytes", "disk_bytes")


async def _session_health(conn: AsyncConnection) -> None:
    """Sessions' runtime health: last heartbeat, CPU, memory, worktree disk use (issue 4)."""
    present = await conn.run_sync(_column_names, sessions.name)
    for name in _HEALTH_COLUMNS:
        if name not in present:
            column = CreateColumn(sessions.c[name]).compile(dialect=conn.dialect)
            await conn.execute(text(f"ALTER TABLE sessions ADD COLUMN {column}"))


MIGRATIONS.append(_session_health)


#: Invitations to join a workspace (issue 12): only the hash of the code is kept.
invitations = Table(
    "invitations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("workspace_id", Text, ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("code_hash", LargeBinary, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("created_by", Text, ForeignKey("users.id"), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    Column("accepted_by", Text, ForeignKey("users.id")),
    Column("accepted_at", Timestamp),
)


async def _instance_admins_and_invitations(conn: AsyncConnection) -> None:
    """Instance admins and workspace invitations (issue 12). The oldest user,
    the owner local mode made on first start, becomes the first instance admin."""
    if "instance_admin" not in await conn.run_sync(_column_names, users.name):
        column = CreateColumn(users.c.instance_admin).compile(dialect=conn.dialect)
        await conn.execute(text(f"ALTER TABLE users ADD COLUMN {column}"))
    oldest = select(users.c.id).order_by(users.c.created_at, users.c.id).limit(1)
    first = (await conn.execute(oldest)).scalar()
    if first is not None:
        await conn.execute(users.update().where(users.c.id == first).values(instance_admin=True))
    await conn.run_sync(lambda sync: invitations.create(sync, checkfirst=True))


MIGRATIONS.append(_instance_admins_and_invitations)


async def _session_reason(conn: AsyncConnection) -> None:
    """Why a session failed, shown by ``show``, ``watch`` and the app (issue 13)."""
    if "reason" not in await conn.run_sync(_column_names, sessions.name):
        column = CreateColumn(sessions.c.reason).compile(dialect=conn.dialect)
        await conn.execute(text(f"ALTER TABLE sessions ADD COLUMN {column}"))


MIGRATIONS.append(_session_reason)


# -- What deleted sessions left on a bridge that was away (issue 13) ---------------

#: A session deleted while its bridge was offline: the bridge removes its worktree,
#: checkpoints and branch when it next says hello (``spec`` is the JSON of a Forget).
session_removals = Table(
    "session_removals",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("runtime_id", Text, nullable=False),  # a plain id: a removed runtime owes nothing
    Column("spec", Text, nullable=False),
    Column("requested_at", Timestamp, nullable=False),
    Index("session_removals_by_runtime", "runtime_id"),
)


async def _session_removals(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda sync: session_removals.create(sync, checkfirst=True))


MIGRATIONS.append(_session_removals)


async def _session_diff_stats(conn: AsyncConnection) -> None:
    """Sessions' lines added and removed, rolled up from the io document's files (issue 14)."""
    present = await conn.run_sync(_column_names, sessions.name)
    for name in ("lines_added", "lines_removed"):
        if name not in present:
            column = CreateColumn(sessions.c[name]).compile(dialect=conn.dialect)
            await conn.execute(text(f"ALTER TABLE sessions ADD COLUMN {column}"))


MIGRATIONS.append(_session_diff_stats)


# -- Reaching people: the attention inbox, notifications, budgets (issue 18) -----

#: What needs a person, one row per person and thing (``key`` names the thing:
#: ``approval:<sid>:<request>``, ``event:<event id>``, ``mention:<sid>:<comment>``).
#: Read/unread is per person and lives here, so every device of theirs agrees.
inbox_items = Table(
    "inbox_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("workspace_id", Text, nullable=False),
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    #: The approval request an Approve / Deny acts on (approvals only).
    Column("request_id", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("read_at", Timestamp),
    #: Nothing more to do (the request was answered, the session resumed).
    Column("resolved_at", Timestamp),
    UniqueConstraint("user_id", "key"),
    Index("inbox_by_user", "user_id", "id"),
)

#: Sessions a person chose to follow (their own and the ones they started are followed anyway).
follows = Table(
    "follows",
    metadata,
    Column("user_id", Text, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Index("follows_by_session", "session_id"),
)

#: Where a person's notifications go: an Apprise URL (it carries tokens), kept
#: encrypted with the server's key and shown only as ``hint``.
notify_destinations = Table(
    "notify_destinations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("user_id", Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("url_sealed", LargeBinary, nullable=False),
    Column("hint", Text, nullable=False),
    #: Comma-separated inbox kinds; empty for all.
    Column("events", Text, nullable=False, server_default=""),
    #: Quiet hours as "HH:MM-HH:MM" in ``timezone``; NULL for none.
    Column("quiet", Text),
    Column("timezone", Text, nullable=False, server_default="UTC"),
    Column("created_at", Timestamp, nullable=False),
    Index("notify_destinations_by_user", "user_id"),
)

#: Signed action links already used (each works once); rows outlive the links' expiry.
action_uses = Table(
    "action_uses",
    metadata,
    Column("nonce", Text, primary_key=True),
    Column("used_at", Timestamp, nullable=False),
)

#: Spending caps: a session's (``session:<sid>``), a workspace's (``workspace:<wid>``)
#: and a workspace's default for new sessions (``default:<wid>``). NULL: no cap.
budgets = Table(
    "budgets",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("usd", Float),
    Column("tokens", BigInteger),
)


async def _attention(conn: AsyncConnection) -> None:
    """The attention inbox, follows, notification destinations, action links,
    budgets, and sessions' token totals."""
    for table in (inbox_items, follows, notify_destinations, action_uses, budgets):
        await conn.run_sync(_create_table, table)
    if "tokens" not in await conn.run_sync(_column_names, sessions.name):
        column = CreateColumn(sessions.c.tokens).compile(dialect=conn.dialect)
        await conn.execute(text(f"ALTER TABLE sessions ADD COLUMN {column}"))


def _create_table(sync: Connection, table: Table) -> None:
    table.create(sync, checkfirst=True)


MIGRATIONS.append(_attention)
#: A workspace's secrets (a forge's API token): written by admins, read only by
#: the server's services when they call out; never put in a document or a reply.
workspace_secrets = Table(
    "workspace_secrets",
    metadata,
    Column("workspace_id", Text, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    #: Sealed with the server's key (``services/server_secret``): a copy of the
    #: database alone does not give the forge tokens away.
    Column("value_sealed", LargeBinary, nullable=False),
    Column("set_by", Text, nullable=False),
    Column("set_at", Timestamp, nullable=False),
    UniqueConstraint("workspace_id", "name"),
)


async def _workspace_secrets(conn: AsyncConnection) -> None:
    await conn.run_sync(_create_table, workspace_secrets)


MIGRATIONS.append(_workspace_secrets)


async def _session_pull_requests(conn: AsyncConnection) -> None:
    """Sessions' pull requests in their rows, so lists show them (issue 19)."""
    present = await conn.run_sync(_column_names, sessions.name)
    for name in ("pr_number", "pr_state", "pr_checks"):
        if name not in present:
            column = CreateColumn(sessions.c[name]).compile(dialect=conn.dialect)
            await conn.execute(text(f"ALTER TABLE sessions ADD COLUMN {column}"))


MIGRATIONS.append(_session_pull_requests)


async def _idempotency_by_age(conn: AsyncConnection) -> None:
    """An index for the clean-up each claim does: checkpoints claim a key each (issue 21)."""
    by_age = next(i for i in idempotency.indexes if i.name == "idempotency_by_age")
    await conn.run_sync(lambda sync: by_age.create(sync, checkfirst=True))


MIGRATIONS.append(_idempotency_by_age)
