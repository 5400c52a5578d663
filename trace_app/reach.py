"""What the Settings and Usage views show and change, without any UI: the
person's notification destinations, the workspace's usage totals and budget.

None of it is in a document (destinations are secrets; totals are computed):
it comes from the API when a view opens, and again after each change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from trace_sync.client.api import ApiClient

Grouping = Literal["day", "member", "tool"]
DESTINATIONS = "/api/me/notify"


@dataclass(frozen=True)
class UsageBar:
    """One bar of the usage chart."""

    label: str
    cost_usd: float
    tokens: int
    estimated: bool


@dataclass
class Reach:
    """``await reach.load(workspace_id)`` then read; commands reload what they change."""

    api: ApiClient
    destinations: list[dict[str, Any]] = field(default_factory=list)
    usage: list[UsageBar] = field(default_factory=list)
    budget: dict[str, Any] = field(default_factory=dict)
    #: Which ``load_usage`` call is the latest; an older one answering later is dropped.
    _asked: int = 0

    async def load_destinations(self) -> None:
        self.destinations = (await self.api.get(DESTINATIONS))["items"]

    async def add_destination(
        self, url: str, events: list[str], quiet: str | None, timezone: str = "UTC"
    ) -> None:
        body = {"url": url, "events": events, "quiet": quiet or None, "timezone": timezone}
        await self.api.post(DESTINATIONS, body)
        await self.load_destinations()

    async def remove_destination(self, destination_id: str) -> None:
        await self.api.delete(f"{DESTINATIONS}/{destination_id}")
        await self.load_destinations()

    async def test_destination(self, destination_id: str) -> None:
        """Raises what the destination said when it did not take the test."""
        await self.api.post(f"{DESTINATIONS}/{destination_id}/test")

    async def load_usage(self, workspace_id: str, by: Grouping) -> None:
        """Usage and budget change together, so a redraw between the two answers
        never shows one without the other, nor a grouping that was left."""
        self._asked += 1
        asked = self._asked
        totals = await self.api.all(f"/api/workspaces/{workspace_id}/usage", by=by)
        budget = await self.api.get(f"/api/workspaces/{workspace_id}/budget")
        if asked != self._asked:
            return
        bars = [
            UsageBar(
                t["label"], t["cost_usd"], t["input_tokens"] + t["output_tokens"], t["estimated"]
            )
            for t in totals
        ]
        # Days read left to right, oldest first; the rest biggest first.
        self.usage = list(reversed(bars)) if by == "day" else bars
        self.budget = budget

    async def set_budget(
        self, workspace_id: str, usd: float | None, tokens: int | None, *, default: bool = False
    ) -> None:
        path = f"/api/workspaces/{workspace_id}/budget" + ("/default" if default else "")
        self.budget = await self.api.put(path, {"usd": usd, "tokens": tokens})
