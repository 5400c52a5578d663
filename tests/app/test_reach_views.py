"""Settings' notification destinations and the Usage view, headless against a real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import flet as ft
import flet_charts as fc

from tests.app.conftest import World
from tests.app.headless import Headless
from tests.conftest import eventually
from tests.support.receiver import receiving
from trace_app.reach import Reach
from trace_app.ui.shell import Origin, ViewPlace


def origin(world: World) -> Origin:
    return Origin(world.live.url, world.live.token)


async def test_a_destination_is_added_tested_and_removed_in_settings(world: World) -> None:
    with receiving() as receiver:
        async with Headless(origin(world)) as app:
            app.shell.go(ViewPlace("settings"))
            url = f"json://hook:t0ken@127.0.0.1:{receiver.port}/app"
            field = app.find(ft.TextField, "Apprise URL (ntfys://ntfy.sh/topic, slack://…)")
            await app.type_into(field, url)
            await app.type_into(app.find(ft.TextField, "Events (empty: all)"), "approval,failed")
            await app.click(app.tagged("notify-add").content)
            await eventually(lambda: f"127.0.0.1:{receiver.port}/app" in app.text())
            assert "t0ken" not in app.text() and field.value == ""
            assert "approval, failed" in app.text()
            await app.click(app.find(ft.TextButton, "Test"))
            await eventually(lambda: len(receiver.received) == 1)
            assert "test notification" in json.loads(receiver.received[0].body)["title"]
            remove = next(
                c for c in app.controls()
                if isinstance(c, ft.IconButton) and c.tooltip == "Stop sending here"
            )  # fmt: skip
            await app.click(remove)
            await eventually(lambda: f"127.0.0.1:{receiver.port}/app" not in app.text())


async def test_usage_is_charted_per_tool_and_the_owner_sets_the_workspace_cap(
    world: World,
) -> None:
    async with Headless(origin(world)) as app:
        app.shell.go(ViewPlace("usage"))
        await app.click(app.find(ft.Chip, "per tool"), "select")
        await eventually(lambda: "claude_code: $0.42 · 1,540 tokens" in app.text())
        chart = next(c for c in app.controls() if isinstance(c, fc.BarChart))
        assert [g.rods[0].to_y for g in chart.groups] == [0.42, 0.0, 0.0]  # biggest first
        await app.type_into(app.find(ft.TextField, "Workspace cap, USD"), "5")
        await app.click(app.find(ft.Button, "Save caps"))
        await eventually(lambda: "Workspace: $5.00, spent $0.42" in app.text())


class _SlowDays:
    """An API whose daily totals answer only when let go; the rest answer at once."""

    def __init__(self) -> None:
        self.days_go = asyncio.Event()

    async def all(self, path: str, by: str) -> list[dict[str, Any]]:
        if by == "day":
            await self.days_go.wait()
        bar = {"label": by, "cost_usd": 1.0, "input_tokens": 1, "output_tokens": 1}
        return [{**bar, "estimated": False}]

    async def get(self, path: str) -> dict[str, Any]:
        return {"cap": {"usd": None, "tokens": None}}


async def test_usage_asked_for_earlier_and_answered_later_does_not_replace_the_newer() -> None:
    api = _SlowDays()
    reach = Reach(api)  # type: ignore[arg-type]
    days = asyncio.create_task(reach.load_usage("w1", "day"))
    await asyncio.sleep(0)
    await reach.load_usage("w1", "tool")
    assert [b.label for b in reach.usage] == ["tool"] and reach.budget
    api.days_go.set()
    await days
    assert [b.label for b in reach.usage] == ["tool"]  # the person's last choice stays
