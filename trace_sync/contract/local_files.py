"""Where a local server keeps its files, and where the CLI finds it.

The server writes ``<data dir>/local-token`` on start; the CLI and the app read
it to talk to that server without being given a token. It also writes where it
listens (URL, pid, data dir) into ``server.json`` of the per-user state folder
(``$XDG_STATE_HOME/trace`` on Linux), so the CLI finds it whatever port or data
dir it was started with; the file goes on a clean stop, and one naming a dead
process is ignored. Both sides agree on the folders and files here, without
the client loading the server to find out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

TOKEN_FILE = "local-token"
SERVER_FILE = "server.json"
#: Settings that choose the server's address; any of them set means "this one".
_ADDRESS = ("TRACE_PUBLIC_URL", "TRACE_HOST", "TRACE_PORT")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4000


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$TRACE_DATA_DIR``, else the platform's per-user data folder."""
    env = os.environ if env is None else env
    chosen = env.get("TRACE_DATA_DIR") or platformdirs.user_data_dir("trace")
    return Path(chosen).expanduser().resolve()


def server_url(env: Mapping[str, str] | None = None) -> str:
    """The local server's address: ``$TRACE_PUBLIC_URL``, else ``$TRACE_HOST``:``$TRACE_PORT``."""
    env = os.environ if env is None else env
    host = env.get("TRACE_HOST") or DEFAULT_HOST
    port = env.get("TRACE_PORT") or DEFAULT_PORT
    return env.get("TRACE_PUBLIC_URL") or f"http://{host}:{port}"


def read_token_file(folder: Path) -> str | None:
    """The local owner's token, if the server has written one."""
    try:
        return (folder / TOKEN_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def write_token_file(folder: Path, token: str) -> None:
    """Write the token readable by its owner only (0600), never briefly wider."""
    write_private(folder / TOKEN_FILE, token + "\n")


@dataclass(frozen=True)
class LocalServer:
    """A server running on this machine for this user, as it announced itself."""

    url: str
    pid: int
    data_dir: Path


def server_file() -> Path:
    """``server.json`` in the per-user state folder (``$XDG_STATE_HOME`` honoured)."""
    return Path(platformdirs.user_state_dir("trace")) / SERVER_FILE


def write_server_file(server: LocalServer) -> None:
    record = {"url": server.url, "pid": server.pid, "data_dir": str(server.data_dir)}
    write_private(server_file(), json.dumps(record) + "\n")


def read_server_file() -> LocalServer | None:
    """The announced server, if its file is there, readable and its process alive."""
    try:
        record = json.loads(server_file().read_text())
        server = LocalServer(str(record["url"]), int(record["pid"]), Path(record["data_dir"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return server if _alive(server.pid) else None


def remove_server_file(pid: int) -> None:
    """Remove the file if it still names ``pid`` (a newer server's stays)."""
    path = server_file()
    try:
        if int(json.loads(path.read_text())["pid"]) == pid:
            path.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        pass  # gone already or not ours to remove


def locate(env: Mapping[str, str] | None = None) -> tuple[str, Path]:
    """The local server's URL and data dir: ``$TRACE_URL`` and the address and data
    settings win; else the running server that announced itself; else the defaults."""
    env = os.environ if env is None else env
    found = read_server_file()
    if found is not None and env.get("TRACE_DATA_DIR") and found.data_dir != data_dir(env):
        found = None  # another server than the one asked for
    chosen = env.get("TRACE_URL") or (
        server_url(env) if any(env.get(name) for name in _ADDRESS) else None
    )
    if found is None:
        return chosen or server_url(env), data_dir(env)
    return chosen or found.url, data_dir(env) if env.get("TRACE_DATA_DIR") else found.data_dir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return pid > 0


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only (0600), never briefly wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
