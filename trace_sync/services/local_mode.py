"""Local mode: the first start makes an owner, a workspace and a token file.

Like Jupyter, the server then prints a sign-in link; ``trace token`` and
``trace`` commands find the token in ``<data dir>/local-token`` by themselves.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from pathlib import Path

from trace_sync.auth.authenticator import Authenticator
from trace_sync.errors import Unauthorized
from trace_sync.services.accounts import AccountService
from trace_sync.store import Store
from trace_sync.store.records import User

TOKEN_FILE = "local-token"
DEFAULT_WORKSPACE = "Default"


@dataclass(frozen=True)
class LocalOwner:
    user_id: str
    token: str
    #: True when this start made the owner and the default workspace.
    first_start: bool = False


async def ensure_local_owner(store: Store, data_dir: Path) -> LocalOwner:
    """Create the owner on first start; afterwards keep the token file valid."""
    if await store.accounts.count_users() == 0:
        return await _first_start(store, data_dir)
    token = read_token_file(data_dir)
    if token is not None:
        try:
            principal = await Authenticator(store.accounts).authenticate(token)
            return LocalOwner(principal.user_id, token)
        except Unauthorized:
            pass  # revoked or from another database: mint a fresh one below
    owner = await _oldest_user(store)
    issued = await AccountService(store).issue_token(owner.id, label="local")
    write_token_file(data_dir, issued.token)
    return LocalOwner(owner.id, issued.token)


async def _first_start(store: Store, data_dir: Path) -> LocalOwner:
    owner = await store.accounts.create_user(_owner_name())
    await store.directory.create_workspace(DEFAULT_WORKSPACE, owner.id)
    issued = await AccountService(store).issue_token(owner.id, label="local")
    write_token_file(data_dir, issued.token)
    return LocalOwner(owner.id, issued.token, first_start=True)


async def _oldest_user(store: Store) -> User:
    users = await store.accounts.list_users()
    return min(users, key=lambda u: u.created_at)


def _owner_name() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "owner"
    return re.sub(r"[^A-Za-z0-9_.@-]", "", name)[:64] or "owner"


def read_token_file(data_dir: Path) -> str | None:
    path = data_dir / TOKEN_FILE
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def write_token_file(data_dir: Path, token: str) -> None:
    """Write the token readable by its owner only (0600), never briefly wider."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
