"""Usage: cost per day, member or tool as a bar chart (Flet's charts), the
totals beside it, and the workspace's budget (admins change it)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import flet as ft
import flet_charts as fc

from trace_app.client import TraceClient
from trace_app.reach import Grouping, Reach, UsageBar
from trace_app.ui import widgets as w
from trace_app.ui.navigator import Navigator
from trace_sync.contract.errors import TraceError

GROUPINGS: tuple[Grouping, ...] = ("day", "member", "tool")
#: Bars shown at most (the newest days, the biggest spenders).
MAX_BARS = 31


class UsageView:
    def __init__(self, nav: Navigator) -> None:
        self.nav = nav
        self.by: Grouping = "day"
        self.reach = Reach(self.client.api)
        self.chart = fc.BarChart(expand=True, interactive=True, max_y=1.0)
        self.totals = ft.Column(spacing=2)
        self.budget = ft.Column(spacing=6)
        self.cap_usd = ft.TextField(label="Workspace cap, USD", width=180, dense=True)
        self.default_usd = ft.TextField(label="New sessions' cap, USD", width=200, dense=True)
        self.said = ""
        self.chips = {
            by: ft.Chip(label=ft.Text(f"per {by}"), on_select=lambda _e, by=by: self._group(by))
            for by in GROUPINGS
        }
        nav.page.run_task(self._load)

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    def build(self, phone: bool) -> ft.Control:
        chips = ft.Row(
            [w.tag(f"usage-by-{by}", chip) for by, chip in self.chips.items()], wrap=True
        )
        chart = w.tag("usage-chart", ft.Container(self.chart, height=240))
        column = ft.Column(
            [w.heading("Usage and budgets"), chips, chart, self.totals, self.budget],
            expand=True,
            spacing=10,
            scroll=ft.ScrollMode.AUTO,
        )
        return ft.Container(column, padding=12, expand=True)

    def refresh(self) -> None:
        for by, chip in self.chips.items():
            chip.selected = by == self.by
        bars = self.reach.usage[-MAX_BARS:] if self.by == "day" else self.reach.usage[:MAX_BARS]
        self.chart.groups = [_group(i, bar) for i, bar in enumerate(bars)]
        self.chart.max_y = max([b.cost_usd for b in bars] + [0.01]) * 1.1
        labels = [
            fc.ChartAxisLabel(value=i, label=ft.Text(_short(b.label), size=10))
            for i, b in enumerate(bars)
        ]
        self.chart.bottom_axis = fc.ChartAxis(labels=labels)
        # Newest day first, or as charted (biggest first).
        totals: list[ft.Control] = [_total(b) for b in (bars[::-1] if self.by == "day" else bars)]
        self.totals.controls = totals or [w.muted("No usage yet.", 14)]
        self.budget.controls = self._budget()

    def _budget(self) -> list[ft.Control]:
        budget = self.reach.budget
        if not budget:
            return []
        spent = f"Workspace: {_cap(budget['cap'])}, spent ${budget['spent_usd']:.2f}"
        rows: list[ft.Control] = [
            w.tag("budget-workspace", ft.Text(spent)),
            ft.Text(f"New sessions start with: {_cap(budget['session_default'])}"),
        ]
        if self.client.role in ("owner", "admin"):
            save = w.button("Save caps", self._save)
            rows.append(ft.Row([self.cap_usd, self.default_usd, save], wrap=True))
        if self.said:
            rows.append(ft.Text(self.said, size=13))
        return rows

    def _group(self, by: Grouping) -> None:
        self.by = by
        self.nav.page.run_task(self._load)

    async def _load(self) -> None:
        await self._doing(self.reach.load_usage(self.client.workspace_id, self.by))

    async def _save(self, _e: object) -> None:
        wid = self.client.workspace_id
        for field, default in ((self.cap_usd, False), (self.default_usd, True)):
            text = (field.value or "").strip()
            if text:
                usd = None if text == "none" else float(text)
                await self._doing(self.reach.set_budget(wid, usd, None, default=default))

    async def _doing(self, work: Awaitable[Any]) -> None:
        try:
            await work
            self.said = ""
        except (TraceError, ValueError) as exc:
            self.said = f"Not done: {exc}"
        if self.nav.client is not None:  # not signed out (or closed) meanwhile
            self.nav.redraw()


def _group(x: int, bar: UsageBar) -> fc.BarChartGroup:
    colour = ft.Colors.AMBER_400 if bar.estimated else ft.Colors.BLUE_400
    tip = f"{bar.label}: ${bar.cost_usd:.2f}"
    rod = fc.BarChartRod(from_y=0, to_y=bar.cost_usd, width=14, color=colour, tooltip=tip)
    return fc.BarChartGroup(x=x, rods=[rod])


def _total(bar: UsageBar) -> ft.Control:
    said = f"{bar.label}: {w.cost(bar.cost_usd, bar.estimated)} · {bar.tokens:,} tokens"
    return w.tag(f"usage-{bar.label}", w.muted(said, 13))


def _short(label: str) -> str:
    """``2026-12-03`` -> ``12-03``; names cut to fit under a bar."""
    return label[5:] if len(label) == 10 and label[4] == "-" else label[:8]


def _cap(cap: dict[str, Any]) -> str:
    parts = [f"${cap['usd']:.2f}"] if cap["usd"] is not None else []
    parts += [f"{cap['tokens']:,} tokens"] if cap["tokens"] is not None else []
    return " or ".join(parts) or "no cap"
