"""Tool names to adapters, by import path: the bridge never imports a vendor module.

adapter = registry.adapter("codex", binary="/opt/codex/bin/codex")
registry.report()  # {"claude_code": ToolReport(available=True, ...), ...} for the bridge hello
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trace_sync.bridge.tools.interface import Capabilities, ToolAdapter
from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.contract.tools import Tool

#: A tool's name (:data:`trace_sync.contract.tools.TOOLS`) -> "module:factory"; the
#: factory takes the tool's options as keywords.
ADAPTERS: dict[Tool, str] = {
    "claude_code": "adapters.claude_code:ClaudeCodeAdapter",
    "codex": "adapters.codex:CodexAdapter",
    "acp": "adapters.acp:AcpAdapter",
    "shell": "adapters.shell:ShellAdapter",
}


@dataclass(frozen=True)
class ToolReport:
    """What the bridge tells the server about one tool on this machine."""

    name: str
    available: bool
    capabilities: Capabilities | None = None
    binary: str | None = None
    problem: str | None = None


def adapter(name: str, **options: Any) -> ToolAdapter:
    """A configured adapter for tool ``name`` (options: ``binary=``, ``command=``, ...)."""
    target = next((path for tool, path in ADAPTERS.items() if tool == name), None)
    if target is None:
        raise NotFound(f"no coding tool named {name!r}; known: {', '.join(sorted(ADAPTERS))}")
    module_name, _, factory_name = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as exc:
        raise NotFound(f"the adapter for {name} cannot be loaded: {exc}") from exc
    try:
        made: ToolAdapter = factory(**options)
    except TypeError as exc:
        raise InvalidInput(f"bad options for {name}: {exc}") from exc
    return made


def report(options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, ToolReport]:
    """Which tools are usable here, each with its configured ``options``."""
    options = options or {}
    return {name: _report(name, options.get(name, {})) for name in ADAPTERS}


def _report(name: str, options: Mapping[str, Any]) -> ToolReport:
    try:
        tool = adapter(name, **options)
    except (NotFound, InvalidInput) as exc:
        return ToolReport(name, False, problem=str(exc))
    binary = tool.binary()
    problem = None if tool.available() else "not found: set its path or put it on PATH"
    return ToolReport(
        name, problem is None, tool.capabilities, str(binary) if binary else None, problem
    )
