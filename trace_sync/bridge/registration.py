"""A bridge's identity: its instance id and its runtime token, kept in its data dir.

The first start registers with a user token (``POST /api/runtimes``) and
keeps the runtime token it gets (mode 0600); later starts reuse it. The
instance id stays the same for the data dir, so registering again (say after
the token was revoked) finds the same runtime instead of making a new one.

>>> creds = await ensure_registered(data_dir, "http://127.0.0.1:4000", user_token, "laptop")
>>> async with BridgeLink(creds.server_url, creds.token, hello, handler): ...
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from trace_sync.client.api import Unreachable
from trace_sync.contract.bridge_protocol import RuntimeKind
from trace_sync.contract.errors import ERROR_BY_STATUS, TraceError

CREDENTIALS_FILE = "runtime.json"
#: Variables a host hands its bridge in a file of its data dir (0600), not on a
#: command line nor in a container's configuration (``docker inspect`` shows those).
ENVIRONMENT_FILE = "environment.json"
INSTANCE_FILE = "instance-id"


@dataclass(frozen=True)
class RuntimeCredentials:
    server_url: str
    runtime_id: str
    #: The runtime token (a secret: never log it).
    token: str
    instance_id: str

    def __repr__(self) -> str:
        return f"RuntimeCredentials({self.server_url!r}, {self.runtime_id!r})"


def instance_id(data_dir: Path) -> str:
    """This data dir's stable instance id (made on first use)."""
    path = data_dir / INSTANCE_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        made = "i_" + secrets.token_hex(8)
        write_private(path, made + "\n")
        return made


async def register(
    server_url: str, user_token: str, instance: str, name: str, kind: RuntimeKind = "desktop"
) -> RuntimeCredentials:
    """Register (or re-register) this instance as a runtime of the token's user."""
    url = f"{server_url.rstrip('/')}/api/runtimes"
    body = {"instance_id": instance, "name": name, "kind": kind}
    headers = {"Authorization": f"Bearer {user_token}"}
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise Unreachable(f"cannot reach {server_url}: {exc}") from exc
    if response.status_code != 201:
        raise _error(response)
    data = response.json()
    return RuntimeCredentials(server_url, data["runtime_id"], data["token"], instance)


async def ensure_registered(
    data_dir: Path, server_url: str, user_token: str, name: str, kind: RuntimeKind = "desktop"
) -> RuntimeCredentials:
    """The kept credentials for ``server_url``, or fresh ones (then kept)."""
    found = load_credentials(data_dir, server_url)
    if found is not None:
        return found
    creds = await register(server_url, user_token, instance_id(data_dir), name, kind)
    save_credentials(data_dir, creds)
    return creds


def load_credentials(data_dir: Path, server_url: str) -> RuntimeCredentials | None:
    """The kept credentials, if they are for ``server_url``."""
    try:
        data = json.loads((data_dir / CREDENTIALS_FILE).read_text())
        creds = RuntimeCredentials(**data)
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None
    return creds if creds.server_url == server_url else None


def load_environment(data_dir: Path) -> dict[str, str]:
    """The variables the bridge's host seeded (:data:`ENVIRONMENT_FILE`); none if none."""
    try:
        data = json.loads((data_dir / ENVIRONMENT_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_credentials(data_dir: Path, creds: RuntimeCredentials) -> None:
    write_private(data_dir / CREDENTIALS_FILE, json.dumps(asdict(creds)) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), never briefly wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _error(response: httpx.Response) -> TraceError:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    return ERROR_BY_STATUS.get(response.status_code, TraceError)(f"registering failed: {message}")
