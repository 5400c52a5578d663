"""Persistence: document update logs with snapshots, users, tokens, workspaces.

SQLAlchemy async Core on ``sqlite+aiosqlite`` (the default) and
``postgresql+asyncpg``; open it with ``async with Store(url) as store:``.
"""

from trace_sync.store.accounts import Accounts
from trace_sync.store.directory import Directory
from trace_sync.store.records import (
    Member,
    Repo,
    Role,
    SessionAccess,
    SessionRow,
    TokenKind,
    TokenRecord,
    User,
    Workspace,
)
from trace_sync.store.store import Store
from trace_sync.store.updates import UpdateLog

__all__ = [
    "Accounts",
    "Directory",
    "Member",
    "Repo",
    "Role",
    "SessionAccess",
    "SessionRow",
    "Store",
    "TokenKind",
    "TokenRecord",
    "UpdateLog",
    "User",
    "Workspace",
]
