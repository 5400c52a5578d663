"""Per-tool settings of a bridge: the model provider, the program, extra variables.

For each tool (the names in :data:`trace_sync.contract.tools.TOOLS`), later sources win:

1. ``<data dir>/tools.toml``, a table per tool::

       [claude_code]
       base_url = "https://llm.example/anthropic"   # the provider's base URL
       api_key_env = "MY_ANTHROPIC_KEY"             # the variable holding the key
       model = "claude-sonnet-4-5"                  # default model
       binary = "/opt/claude/bin/claude"            # adapter options: binary, command, ...
       approval_timeout = 900                       # seconds a request waits for a person
       [claude_code.env]                            # plain variables for the tool (no secrets)
       CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"

2. environment variables ``TRACE_TOOL_<TOOL>_<FIELD>``: ``BASE_URL``,
   ``API_KEY_ENV``, ``MODEL``, ``BINARY``, ``COMMAND`` (e.g.
   ``TRACE_TOOL_CLAUDE_CODE_BASE_URL``, ``TRACE_TOOL_SHELL_COMMAND=aider``).

The key itself is never in a file of settings: it is read from the variable
named by ``api_key_env``, else from a secret kept by ``trace bridge key TOOL``
in ``<data dir>/secrets/<tool>.key`` (mode 0600; refused when others may read
it). It goes only into the tool's process environment. A session's own model
wins over the default; bypass sets ``IS_SANDBOX=1`` for Claude Code only when
running as root (Claude refuses bypass for root otherwise) and only in bypass.

Settings change without a restart: before each use the file's signature
(mtime, size, inode) is compared with the one last read, and :meth:`BridgeTools.reload`
(the bridge calls it on SIGHUP) reads it again at once. The next tool run sees
the change; runs already going keep what they started with. A broken file at
start is an error; a broken file later keeps the last good settings and logs
one line per broken version.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from trace_sync.bridge.registration import write_private
from trace_sync.bridge.tools.interface import Provider, ToolContext
from trace_sync.bridge.tools.registry import ADAPTERS
from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.contract.tools import PermissionMode

log = logging.getLogger(__name__)

CONFIG_FILE = "tools.toml"
SECRETS_DIR = "secrets"
#: Keys of a tool's table that are handed to its adapter as options.
ADAPTER_OPTIONS = ("binary", "command", "base_url_variable", "api_key_variable", "quiet_s")
_ENV_FIELDS = ("base_url", "api_key_env", "model", "binary", "command")
MAX_KEY = 4096


@dataclass(frozen=True)
class ToolSettings:
    base_url: str | None = None
    api_key_env: str | None = None
    model: str | None = None
    approval_timeout: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


class BridgeTools:
    """The settings of every tool on this bridge, from ``data_dir`` (kept current), ``environ``."""

    def __init__(self, data_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self._data_dir = data_dir
        self._environ = dict(os.environ if environ is None else environ)
        self._path = data_dir / CONFIG_FILE
        self._seen = _signature(self._path)
        self._file = _read_config(self._path)

    def reload(self) -> bool:
        """Read ``tools.toml`` again; on a broken file keep the last good settings (False)."""
        self._seen = _signature(self._path)
        try:
            self._file = _read_config(self._path)
        except InvalidInput as exc:
            log.error("%s; keeping the last good tool settings", exc)
            return False
        log.info("tool settings read from %s", self._path)
        return True

    def _current(self) -> dict[str, dict[str, Any]]:
        if _signature(self._path) != self._seen:
            self.reload()
        return self._file

    def settings(self, tool: str) -> ToolSettings:
        table = dict(self._current().get(tool, {}))
        prefix = f"TRACE_TOOL_{tool.upper()}_"
        for name in _ENV_FIELDS:
            value = self._environ.get(prefix + name.upper())
            if value:
                table[name] = value
        env = table.pop("env", {})
        timeout = table.get("approval_timeout")
        return ToolSettings(
            base_url=_text(table.get("base_url")),
            api_key_env=_text(table.get("api_key_env")),
            model=_text(table.get("model")),
            approval_timeout=float(timeout) if timeout is not None else None,
            options={k: table[k] for k in ADAPTER_OPTIONS if k in table},
            env=env,
        )

    def options(self) -> dict[str, Mapping[str, Any]]:
        """Adapter options per tool (for :func:`registry.adapter` / :func:`registry.report`)."""
        return {name: self.settings(name).options for name in set(ADAPTERS) | set(self._current())}

    def context(
        self,
        tool: str,
        cwd: Path,
        *,
        model: str | None = None,
        permission_mode: PermissionMode = "ask",
        resume_id: str | None = None,
        fork: bool = False,
        resume_at: str | None = None,
    ) -> ToolContext:
        """What one run of ``tool`` gets: the session's model over the default."""
        chosen = self.settings(tool)
        env = dict(chosen.env)
        if tool == "claude_code" and permission_mode == "bypass" and os.geteuid() == 0:
            env["IS_SANDBOX"] = "1"  # Claude refuses bypass as root without it
        provider = Provider(
            base_url=chosen.base_url,
            api_key_env=chosen.api_key_env,
            api_key=self._key(tool, chosen),
            model=model or chosen.model,
        )
        return ToolContext(
            cwd=cwd,
            provider=provider,
            permission_mode=permission_mode,
            resume_id=resume_id,
            fork=fork and resume_id is not None,
            resume_at=resume_at if resume_id is not None else None,
            env=env,
            approval_timeout=chosen.approval_timeout,
        )

    def store_key(self, tool: str, key: str) -> Path:
        """Keep ``key`` as the stored secret of ``tool`` (0600)."""
        key = key.strip()
        if not key or len(key) > MAX_KEY or any(c.isspace() for c in key):
            raise InvalidInput(f"an API key is 1-{MAX_KEY} characters without spaces")
        directory = self._data_dir / SECRETS_DIR
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / f"{_tool_name(tool)}.key"
        write_private(path, key + "\n")
        return path

    def _key(self, tool: str, chosen: ToolSettings) -> SecretStr | None:
        if chosen.api_key_env and self._environ.get(chosen.api_key_env):
            return SecretStr(self._environ[chosen.api_key_env])
        path = self._data_dir / SECRETS_DIR / f"{_tool_name(tool)}.key"
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InvalidInput(f"{path} may be read by others: chmod 600 it")
        return SecretStr(path.read_text().strip())


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _read_config(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    if not all(isinstance(table, dict) for table in data.values()):
        raise InvalidInput(f"{path}: each tool is a table, e.g. [claude_code]")
    for tool, table in data.items():
        env = table.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise InvalidInput(f"{path}: [{tool}.env] holds strings only")
    return data


def _tool_name(tool: str) -> str:
    if not tool.replace("_", "").isalnum():
        raise NotFound(f"no tool named {tool!r}")
    return tool


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
