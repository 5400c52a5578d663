"""A workspace's secrets: set and removed by its admins, listed by name only.

Their values leave the store only for the service that calls out with them
(a forge's token, :mod:`trace_sync.services.forges.service`): never in a
document, a reply or a log line.
"""

from __future__ import annotations

import re

from trace_sync.auth.principal import Principal
from trace_sync.contract.errors import InvalidInput
from trace_sync.services.access import require_admin, role_in
from trace_sync.services.server_secret import ServerSecret
from trace_sync.store import Store
from trace_sync.store.secrets import SecretInfo

#: ``forge_token`` or ``forge_token:git.example.com:8443``.
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}(:[A-Za-z0-9.-]{1,200}(:[0-9]{1,5})?)?$")
MAX_VALUE = 8192


class SecretService:
    def __init__(self, store: Store, secret: ServerSecret) -> None:
        self._store = store
        self._secret = secret

    async def put(self, actor: Principal, workspace_id: str, name: str, value: str) -> SecretInfo:
        require_admin(await role_in(self._store, workspace_id, actor), "setting a secret")
        if not NAME.match(name):
            raise InvalidInput(f"bad secret name {name!r}: like forge_token or forge_token:host")
        if not value or len(value) > MAX_VALUE or value != value.strip():
            raise InvalidInput(f"a secret is 1-{MAX_VALUE} characters, no surrounding space")
        sealed = self._secret.seal(value)
        return await self._store.secrets.put(workspace_id, name, sealed, actor.user_id)

    async def listed(self, actor: Principal, workspace_id: str) -> list[SecretInfo]:
        require_admin(await role_in(self._store, workspace_id, actor), "listing secrets")
        return await self._store.secrets.listed(workspace_id)

    async def remove(self, actor: Principal, workspace_id: str, name: str) -> None:
        require_admin(await role_in(self._store, workspace_id, actor), "removing a secret")
        await self._store.secrets.remove(workspace_id, name)

    async def value(self, workspace_id: str, name: str) -> str:
        """For the server's own calls out (no actor: callers checked theirs)."""
        return self._secret.open(await self._store.secrets.sealed(workspace_id, name))
