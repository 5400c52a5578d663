"""Tool settings of a bridge: providers from a file and variables, keys kept out of sight."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from trace_sync.bridge.tools.settings import BridgeTools
from trace_sync.contract.errors import InvalidInput


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
    asking = tools.context("claude_code", tmp_path, permission_mode="accept_edits")
    assert asking.permission_mode == "accept_edits" and "IS_SANDBOX" not in asking.env
    assert ("IS_SANDBOX" in bypass.env) == (os.geteuid() == 0)
    assert "IS_SANDBOX" not in tools.context("codex", tmp_path, permission_mode="bypass").env
    with pytest.raises(InvalidInput, match="permission mode"):
        tools.context("claude_code", tmp_path, permission_mode="yolo")


def test_a_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "tools.toml").write_text("[claude_code\n")
    with pytest.raises(InvalidInput, match="tools.toml"):
        BridgeTools(tmp_path, {})


def test_a_changed_file_is_read_again_and_a_broken_one_keeps_the_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "tools.toml"
    config.write_text('[shell]\ncommand = "bash"\n[shell.env]\nGREETING = "first"\n')
    tools = BridgeTools(tmp_path, {})
    assert tools.context("shell", tmp_path).env == {"GREETING": "first"}
    config.write_text('[shell]\ncommand = "zsh"\n[shell.env]\nGREETING = "second-one"\n')
    assert tools.context("shell", tmp_path).env == {"GREETING": "second-one"}
    assert tools.options()["shell"] == {"command": "zsh"}
    config.write_text("[shell\n")
    with caplog.at_level("ERROR"):
        assert tools.context("shell", tmp_path).env == {"GREETING": "second-one"}
        assert tools.context("shell", tmp_path).env == {"GREETING": "second-one"}
    broken = [r for r in caplog.records if "keeping the last good" in r.getMessage()]
    assert len(broken) == 1 and "tools.toml" in broken[0].getMessage()
    config.write_text('[shell.env]\nGREETING = "third"\n')
    assert tools.reload() and tools.context("shell", tmp_path).env == {"GREETING": "third"}
