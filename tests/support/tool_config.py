"""A bridge data dir set up to run the real coding tools against the scripted model server.

Claude Code and the ACP agent are configured through the bridge's ``tools.toml`` with
their keys kept as stored secrets (``trace bridge key``); Codex through
``TRACE_TOOL_CODEX_*`` variables with its key in a variable of the bridge's environment
(returned, for the caller to put in that environment).
"""

from __future__ import annotations

from pathlib import Path

from tests.support.model_server import ModelServer
from trace_sync.bridge.tools.settings import BridgeTools

KEY = "sk-test-never-logged"


def configure_tools(
    data_dir: Path, models: ModelServer, tools_bin: Path, home: Path
) -> dict[str, str]:
    """Write ``tools.toml`` and the keys into ``data_dir``; the variables Codex needs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "tools.toml").write_text(
        f'[claude_code]\nbase_url = "{models.url}"\nbinary = "{tools_bin / "claude"}"\n'
        '[claude_code.env]\nCLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"\n'
        'DISABLE_AUTOUPDATER = "1"\n'
        f'[acp]\nbase_url = "{models.url}"\ncommand = "{tools_bin / "claude-code-acp"}"\n'
        'base_url_variable = "ANTHROPIC_BASE_URL"\napi_key_variable = "ANTHROPIC_API_KEY"\n'
        # claude-code-acp refuses to open a session as root (CI) without IS_SANDBOX.
        '[acp.env]\nCLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"\nIS_SANDBOX = "1"\n'
    )
    BridgeTools(data_dir).store_key("claude_code", KEY)
    BridgeTools(data_dir).store_key("acp", KEY)
    noisy = data_dir.parent / "codex-noisy"
    noisy.write_text(f'#!/bin/sh\necho "not json at all"\nexec {tools_bin / "codex"} "$@"\n')
    noisy.chmod(0o755)
    (home / ".codex").mkdir(exist_ok=True)
    return {
        "CODEX_HOME": str(home / ".codex"),
        "TEST_MODEL_KEY": KEY,
        "TRACE_TOOL_CODEX_BASE_URL": f"{models.url}/v1",
        "TRACE_TOOL_CODEX_MODEL": "gpt-5-codex",
        "TRACE_TOOL_CODEX_API_KEY_ENV": "TEST_MODEL_KEY",
        "TRACE_TOOL_CODEX_BINARY": str(noisy),
    }


def sandbox_tools(models: ModelServer, tools_bin: Path) -> dict[str, str]:
    """Server variables that let the bridges of its sandboxes run Claude Code, Codex and
    the ACP agent against ``models``: the tools shown read-only, their settings passed in."""
    settings = {
        "TRACE_TOOL_CLAUDE_CODE_BASE_URL": models.url,
        "TRACE_TOOL_CLAUDE_CODE_BINARY": str(tools_bin / "claude"),
        "TRACE_TOOL_CLAUDE_CODE_API_KEY_ENV": "TEST_MODEL_KEY",
        "TRACE_TOOL_ACP_COMMAND": str(tools_bin / "claude-code-acp"),
        "TRACE_TOOL_CODEX_BASE_URL": f"{models.url}/v1",
        "TRACE_TOOL_CODEX_MODEL": "gpt-5-codex",
        "TRACE_TOOL_CODEX_API_KEY_ENV": "TEST_MODEL_KEY",
        "TRACE_TOOL_CODEX_BINARY": str(tools_bin / "codex"),
        "TEST_MODEL_KEY": KEY,
        # claude-code-acp reads its provider from these (tools.toml would map them)
        "ANTHROPIC_BASE_URL": models.url,
        "ANTHROPIC_API_KEY": KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    return settings | {
        "TRACE_CLOUD_HOST": "sandbox",
        "TRACE_SANDBOX_READ": str(tools_bin.resolve().parents[1]),
        "TRACE_SANDBOX_PASS_ENV": ",".join(settings),
    }
