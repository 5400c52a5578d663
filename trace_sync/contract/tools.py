"""The coding tools a session can run, how they ask before acting, and where they run.

One list each, named once: the CLI's choices, the app's form, the API's body,
the bridge's adapter registry and the documents all derive from here.

>>> TOOL_LABELS["claude_code"]
'Claude Code'
>>> permission_mode("accept-edits")
'accept_edits'
"""

from __future__ import annotations

from typing import Literal, get_args

from trace_sync.contract.errors import InvalidInput

#: The coding tools a session can run (their adapters live in ``adapters/``).
Tool = Literal["claude_code", "codex", "acp", "shell"]
TOOLS: tuple[Tool, ...] = get_args(Tool)
TOOL_LABELS: dict[Tool, str] = {
    "claude_code": "Claude Code",
    "codex": "Codex",
    "acp": "ACP agent",
    "shell": "Shell",
}

#: How a session's tool asks before acting: every time, not for file edits,
#: or never (bypass: an explicit choice, shown wherever the session is).
#: The canonical spelling has underscores; only a command line also takes the
#: hyphenated one people type there (``accept-edits``), through :func:`permission_mode`.
PermissionMode = Literal["ask", "accept_edits", "bypass"]
PERMISSION_MODES: tuple[PermissionMode, ...] = get_args(PermissionMode)
PERMISSION_LABELS: dict[PermissionMode, str] = {
    "ask": "Ask: a person approves what the tool asks",
    "accept_edits": "Accept edits: file edits need no approval",
    "bypass": "Bypass: nothing is asked (shown on the session)",
}

#: Where a session runs: on its starter's own bridge, or on the server's cloud host.
Location = Literal["local", "cloud"]
LOCATIONS: tuple[Location, ...] = get_args(Location)


def tool(name: str) -> Tool:
    """``name`` as a :data:`Tool`; ``InvalidInput`` names the known ones."""
    for known in TOOLS:
        if known == name:
            return known
    raise InvalidInput(f"unknown tool {name!r}; use one of {', '.join(TOOLS)}")


def permission_mode(value: str) -> PermissionMode:
    """``value`` as typed on a command line (either spelling) as a :data:`PermissionMode`."""
    wanted = value.replace("-", "_")
    for mode in PERMISSION_MODES:
        if mode == wanted:
            return mode
    raise InvalidInput(f"permission mode is one of {', '.join(PERMISSION_MODES)}, not {value!r}")


def location(value: str) -> Location:
    for known in LOCATIONS:
        if known == value:
            return known
    raise InvalidInput(f"a session runs 'local' or 'cloud', not {value!r}")
