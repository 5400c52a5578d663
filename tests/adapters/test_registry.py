"""The registry, price table and tool context: what the bridge relies on before a run."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from trace_sync.bridge.tools import registry
from trace_sync.bridge.tools.interface import Provider, ToolContext
from trace_sync.bridge.tools.pricing import PriceTable
from trace_sync.contract.errors import InvalidInput, NotFound
from trace_sync.contract.tools import TOOLS


def test_the_registry_reports_the_tools_found_here(tools_bin: Path, tmp_path: Path) -> None:
    report = registry.report(
        {
            "claude_code": {"binary": str(tools_bin / "claude")},
            "codex": {"binary": str(tmp_path / "no-such-codex")},
            "acp": {"command": f"{tools_bin / 'claude-code-acp'} --verbose"},
        }
    )
    assert report["claude_code"].available and report["claude_code"].capabilities is not None
    assert report["claude_code"].capabilities.cost
    assert not report["codex"].available and "not found" in str(report["codex"].problem)
    assert report["acp"].binary == str(tools_bin / "claude-code-acp")


def test_unknown_tools_and_bad_options_are_refused() -> None:
    with pytest.raises(NotFound, match="no coding tool named 'vim'"):
        registry.adapter("vim")
    with pytest.raises(InvalidInput, match="bad options for codex"):
        registry.adapter("codex", colour="blue")


def test_a_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    tool = registry.adapter("claude_code", binary=str(tmp_path / "claude"))
    with pytest.raises(NotFound, match="claude not found"):
        tool.run(ToolContext(cwd=tmp_path))


def test_estimates_use_the_longest_matching_price_and_overrides() -> None:
    table = PriceTable.from_env({"TRACE_PRICES": '{"gpt-5-codex": [2, 20]}'})
    usage = table.estimate("gpt-5-codex-high", 1_000_000, 100_000)
    assert usage.estimated and usage.cost_usd == pytest.approx(4.0)
    assert table.estimate("some-new-model", 1_000_000, 0).cost_usd == pytest.approx(3.0)
    with pytest.raises(InvalidInput):
        PriceTable.from_env({"TRACE_PRICES": "cheap"})


def test_a_context_refuses_what_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="fork needs"):
        ToolContext(cwd=tmp_path, fork=True)
    with pytest.raises(InvalidInput, match="permission mode"):
        ToolContext(cwd=tmp_path, permission_mode="yolo")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="does not exist"):
        ToolContext(cwd=tmp_path / "gone")


def test_the_api_key_stays_out_of_argv_and_reprs(tools_bin: Path, tmp_path: Path) -> None:
    secret = "sk-very-secret"
    provider = Provider(base_url="http://127.0.0.1:9", api_key=SecretStr(secret))
    context = ToolContext(cwd=tmp_path, provider=provider)
    for name, options in (
        ("claude_code", {"binary": str(tools_bin / "claude")}),
        ("codex", {"binary": str(tools_bin / "codex")}),
    ):
        run = registry.adapter(name, **options).run(context)
        process = run.process  # type: ignore[attr-defined]
        assert secret not in " ".join(process.argv)
        assert secret in process.env.values()
    assert secret not in repr(context)


def test_the_registry_covers_exactly_the_contracts_tools() -> None:
    assert set(registry.ADAPTERS) == set(TOOLS)
    assert set(registry.report()) == set(TOOLS)
