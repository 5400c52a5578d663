"""``trace inbox`` and ``trace notify`` against the real server, as a person types them."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.api.conftest import Team
from tests.api.test_notify import asked, settled
from tests.support.receiver import receiving
from trace_sync.cli import main


async def trace(team: Team, who: str, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    connection = ["--server", team.live.url, "--token", team.tokens[who]]
    await asyncio.to_thread(main, [*argv, *connection])
    return capsys.readouterr().out


async def test_inbox_lists_what_needs_you_and_marks_it_read(
    team: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = await asked(team)
    listed = await trace(team, "member", capsys, "inbox")
    assert sid in listed and "approval" in listed and "1 unread" in listed
    [item] = json.loads(await trace(team, "member", capsys, "inbox", "--json"))
    assert "marked 1 read; 0 unread" in await trace(team, "member", capsys, "inbox", "read")
    assert "0 unread" in await trace(team, "member", capsys, "inbox", "list", "--unread")
    assert item["request_id"] == "a1"


async def test_notify_add_list_test_remove(team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    with receiving() as receiver:
        url = f"json://me:tok3n@127.0.0.1:{receiver.port}/hook"
        added = await trace(team, "member", capsys, "notify", "add", url, "--events", "approval")
        assert "tok3n" not in added and "approval" in added
        [found] = json.loads(await trace(team, "member", capsys, "notify", "list", "--json"))
        assert "tok3n" not in json.dumps(found)
        await trace(team, "member", capsys, "notify", "test", found["id"])
        await asked(team)
        await settled(team)
        assert [r.path for r in receiver.received] == ["/hook", "/hook"]
        await trace(team, "member", capsys, "notify", "remove", found["id"])
        assert json.loads(await trace(team, "member", capsys, "notify", "list", "--json")) == []


async def test_budget_set_and_show(team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    sid = (await team.start("member"))["id"]
    capped = await trace(team, "member", capsys, "budget", "set", "--session", sid, "--usd", "3")
    assert "cap    $3.00" in capped and "spent  $0.00, 0 tokens" in capped
    await trace(team, "owner", capsys, "budget", "set", "--default", "--tokens", "90000")
    shown = await trace(team, "owner", capsys, "budget", "show")
    assert "new sessions  90,000 tokens" in shown and "cap           none" in shown
