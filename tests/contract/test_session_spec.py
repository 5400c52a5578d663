"""A session's spec: made and checked once, then trusted; refusals name the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trace_sync.contract import tools
from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.session_spec import SessionSpec


def spec(**changes: object) -> SessionSpec:
    return SessionSpec.of(**({"repo_id": "r_1", "tool": "claude_code"} | changes))


def test_a_spec_holds_what_was_chosen_and_cannot_be_changed_in_place() -> None:
    chosen = spec(model=" claude-sonnet-4-5 ", permission_mode="bypass", title="  Fix   login ")
    assert (chosen.tool, chosen.model, chosen.permission_mode) == (
        "claude_code",
        "claude-sonnet-4-5",
        "bypass",
    )
    assert chosen.title == "Fix login" and chosen.location == "local" and not chosen.private
    with pytest.raises(ValidationError, match="frozen"):
        chosen.model = "other"  # type: ignore[misc]
    child = chosen.changed(permission_mode="ask")
    assert (child.permission_mode, child.model, chosen.permission_mode) == (
        "ask",
        "claude-sonnet-4-5",
        "bypass",
    )


@pytest.mark.parametrize("field", ["title", "prompt", "model", "base_branch", "repo_id"])
def test_a_nul_character_is_refused_naming_the_field(field: str) -> None:
    with pytest.raises(InvalidInput, match=f"{field} may not contain a NUL character"):
        spec(**{field: "main\x00rm -rf"})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tool": "vim"}, "tool: unknown tool 'vim'; use one of claude_code, codex, acp, shell"),
        ({"permission_mode": "yolo"}, "permission_mode: permission mode is one of"),
        ({"location": "mars"}, "location: a session runs 'local' or 'cloud'"),
        ({"base_branch": "../../etc"}, "base_branch: not a usable branch name"),
        ({"title": "x" * 201}, "title: a title is 1-200 characters"),
        ({"title": "   "}, "title: a title is 1-200 characters"),
        ({"model": "m" * 101}, "model: a model name is 1-100 characters"),
        ({"prompt": "p" * 100_001}, "prompt: a prompt is at most 100000 characters"),
        ({"repo_id": "../r_1"}, "repo_id: "),
        ({"sandbox": True}, "sandbox: Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_refused_naming_the_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        spec(**changes)
    assert str(refused.value).startswith(message)


def test_the_hyphenated_permission_mode_is_taken_on_a_command_line_only() -> None:
    assert tools.permission_mode("accept-edits") == "accept_edits"
    with pytest.raises(InvalidInput, match="permission mode is one of ask, accept_edits, bypass"):
        spec(permission_mode="accept-edits")
    with pytest.raises(InvalidInput, match="not 'yolo'"):
        tools.permission_mode("yolo")


def test_every_tool_has_a_label() -> None:
    assert set(tools.TOOL_LABELS) == set(tools.TOOLS)
    assert tools.TOOL_LABELS["acp"] == "ACP agent"
