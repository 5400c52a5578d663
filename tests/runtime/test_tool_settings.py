"""Tool settings of a bridge: providers from a file and variables, keys kept out of sight."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from trace_sync.errors import InvalidInput
from trace_sync.runtime.tool_settings import BridgeTools


def test_variables_win_over_the_file_and_the_sessions_model_over_both(tmp_path: Path) -> None:
    (tmp_path / "tools.toml").write_text(
        '[claude_code]\nbase_url = "https://file.example"\nmodel = "from-file"\n'
        'binary = "/opt/claude"\napproval_timeout = 90\n'
        '[claude_code.env]\nDISABLE_AUTOUPDATER = "1"\n'
    )
    env = {"TRACE_TOOL_CLAUDE_CODE_BASE_URL": "http://127.0.0.1:9", "MY_KEY": "sk-1"}
    env["TRACE_TOOL_CLAUDE_CODE_API_KEY_ENV"] = "MY_KEY"
    tools = BridgeTools(tmp_path, env)
    context = tools.context("claude_code", tmp_path)
    assert context.provider.base_url == "http://127.0.0.1:9"
    assert context.provider.model == "from-file" and context.approval_timeout == 90
    assert context.provider.key() == "sk-1" and context.env == {"DISABLE_AUTOUPDATER": "1"}
    assert tools.context("claude_code", tmp_path, model="chosen").provider.model == "chosen"
    assert tools.options()["claude_code"] == {"binary": "/opt/claude"}
    assert "sk-1" not in repr(context)


def test_a_stored_key_is_private_and_refused_once_others_may_read_it(tmp_path: Path) -> None:
    tools = BridgeTools(tmp_path, {})
    path = tools.store_key("codex", "sk-stored\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tools.context("codex", tmp_path).provider.key() == "sk-stored"
    path.chmod(0o644)
    with pytest.raises(InvalidInput, match="chmod 600"):
        tools.context("codex", tmp_path)
    with pytest.raises(InvalidInput):
        tools.store_key("codex", "two words")


def test_bypass_lets_claude_run_as_root_only_in_bypass(tmp_path: Path) -> None:
    tools = BridgeTools(tmp_path, {})
    bypass = tools.context("claude_code", tmp_path, permission_mode="bypass")
    asking = tools.context("claude_code", tmp_path, permission_mode="accept-edits")
    assert asking.permission_mode == "accept_edits" and "IS_SANDBOX" not in asking.env
    assert ("IS_SANDBOX" in bypass.env) == (os.geteuid() == 0)
    assert "IS_SANDBOX" not in tools.context("codex", tmp_path, permission_mode="bypass").env
    with pytest.raises(InvalidInput, match="permission mode"):
        tools.context("claude_code", tmp_path, permission_mode="yolo")


def test_a_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "tools.toml").write_text("[claude_code\n")
    with pytest.raises(InvalidInput, match="tools.toml"):
        BridgeTools(tmp_path, {})
