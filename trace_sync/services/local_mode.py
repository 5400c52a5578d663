"""Local mode: the first start makes an owner, a workspace and a token file.

That first owner is the instance admin: the one who may connect directories
of this machine, create accounts and name further instance admins.

Like Jupyter, the server then prints a sign-in link; ``trace token`` and
``trace`` commands find the token in ``<data dir>/local-token`` by themselves.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from pathlib import Path

from trace_sync.auth.authenticator import Authenticator
from trace_sync.contract.errors import Conflict, Unauthorized
from trace_sync.contract.local_files import TOKEN_FILE, read_token_file, write_token_file
from trace_sync.services.accounts import AccountService
from trace_sync.store import Store
from trace_sync.store.records import User

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
        try:
            return await _first_start(store, data_dir)
        except Conflict:
            pass  # another cluster member made the owner at the same moment: theirs it is
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
    owner = await store.accounts.create_user(_owner_name(), instance_admin=True)
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


#: The token file's name and reader live in the contract (the client needs them
#: without the server); they are named here too for the server's commands.
__all__ = [
    "TOKEN_FILE",
    "LocalOwner",
    "ensure_local_owner",
    "read_token_file",
    "write_token_file",
]
