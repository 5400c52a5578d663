"""The workspace's sessions: a row each (tool, repo, diff, cost, last activity,
status), filter chips, and search that reaches transcripts and terminal output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

import flet as ft

from trace_app.keymap import step
from trace_app.ui import widgets as w
from trace_app.ui.kept import Kept
from trace_app.ui.navigator import Navigator, ViewPlace
from trace_app.workspace_state import (
    FILTERS,
    SessionListRow,
    ago,
    diff_stat,
    pull_chip,
    repos,
    select,
    total_cost,
)
from trace_sync.contract.errors import TraceError
from trace_sync.contract.tools import TOOL_LABELS

#: A pull request's chip: green while open, purple once merged, grey when closed.
PR_COLOURS = {"open": ft.Colors.GREEN_100, "merged": ft.Colors.PURPLE_100}
#: One icon per coding tool, so a list of sessions reads at a glance.
TOOL_ICONS = {
    "claude_code": ft.Icons.AUTO_AWESOME,
    "codex": ft.Icons.DATA_OBJECT,
    "acp": ft.Icons.HUB,
    "shell": ft.Icons.TERMINAL,
}
TOOL_NAMES: dict[str, str] = {tool: label for tool, label in TOOL_LABELS.items()}
#: Where a search matched, as a person reads it.
MATCHED_IN = {
    "title": "title",
    "prompt": "prompt",
    "transcript": "transcript",
    "tool_output": "tool output",
    "terminal": "terminal",
}
_MARKED = re.compile(r"\[([^\[\]]*)\]")
#: How much of a snippet is kept before its first match (a phone's row is narrow).
LEAD = {False: 40, True: 12}


@dataclass(frozen=True)
class Match:
    """A server search hit: where in the session it matched, and the text around it."""

    kind: str
    snippet: str


class SessionsView:
    def __init__(self, nav: Navigator) -> None:
        self.nav = nav
        self.filter = "all"
        self.search = nav.watch(
            ft.TextField(
                hint_text="Search sessions",
                helper="Enter searches transcripts and output too",
                prefix_icon=ft.Icons.SEARCH,
                on_change=self._searched,
                on_submit=self._search_server,
                dense=True,
            )
        )
        # One row that scrolls sideways: wrapped chips took a phone's second line.
        #: The filter chips, made once and updated in place: a chip drawn anew on each
        #: live redraw would take the keyboard focus (Tab from the search) with it.
        self.chip_for = {name: self._chip(name) for name in FILTERS}
        self.chips = ft.Row(
            [w.tag(f"filter-{n}", c) for n, c in self.chip_for.items()],
            spacing=6,
            scroll=ft.ScrollMode.AUTO,
            wrap=False,
        )
        self.total = ft.Text("")
        self.rows = ft.ListView(expand=True, spacing=4)
        #: Sessions the server found for the search, with where they matched.
        self.found: dict[str, Match] | None = None
        self.phone = False
        #: The session the keyboard has highlighted (Enter opens it).
        left = nav.came_from
        self.highlighted: str | None = left.sid if left is not None else None
        self.shown: list[SessionListRow] = []
        #: An unchanged row stays the same control: a tap across a live redraw is not lost.
        self.kept = Kept()

    def build(self, phone: bool) -> ft.Control:
        self.phone = phone
        return ft.Container(
            content=ft.Column(
                [w.heading("Sessions"), self.search, self.chips, self.total, self.rows],
                expand=True,
            ),
            padding=12,
            expand=True,
        )

    def refresh(self) -> None:
        client = self.nav.client
        assert client is not None
        everything = client.sessions()
        shown = select(everything, self.filter, self.search.value or "")
        if self.found is not None and self.search.value:
            by_id = {r.id: r for r in everything}
            shown += [by_id[s] for s in self.found if s in by_id and by_id[s] not in shown]
        self.repo_names = {r.id: r.name for r in repos(client.workspace.doc)}
        for name, chip in self.chip_for.items():
            chip.label = f"{name} ({len(select(everything, name))})"
            chip.selected = self.filter == name
        usd, estimated = total_cost(shown)
        self.total.value = f"{len(shown)} sessions · {w.cost(usd, estimated)}"
        self.shown = shown
        self.rows.controls = [self._kept_row(r) for r in shown] or [
            w.muted("No sessions here.", 14)
        ]
        self.kept.drawn()

    def on_key(self, action: str, pressed: str) -> bool:
        ids = [r.id for r in self.shown]
        if action == "search":
            self.nav.page.run_task(self.search.focus)
        elif action in ("next_session", "previous_session") and ids:
            self.highlighted = step(ids, self.highlighted, 1 if action == "next_session" else -1)
        elif action == "open" and self.highlighted in ids:
            self.nav.go(ViewPlace("session", self.highlighted))
        else:
            return False
        return True

    def _chip(self, name: str) -> ft.Chip:
        def choose(_e: object) -> None:
            self.filter = name
            self.nav.redraw()

        return ft.Chip(label=name, on_select=choose)

    def _kept_row(self, row: SessionListRow) -> ft.Control:
        match = self._match(row)
        # The detail line holds "3 min ago": drawn anew when that text changes.
        drawn_from = (row, row.id == self.highlighted, self.phone, match, self._detail(row))
        # A running session's row changes often; refilled, it stays the tile a tap aims at.
        fill = partial(self._fill, row)
        tile: ft.Semantics = self.kept.control(row.id, drawn_from, partial(self._row, row), fill)
        return tile

    def _row(self, row: SessionListRow) -> ft.Semantics:
        sid = row.id
        tile = ft.ListTile(
            on_click=lambda _e: self.nav.go(ViewPlace("session", sid)),
            selected_tile_color=ft.Colors.SECONDARY_CONTAINER,
        )
        tagged = w.tag(f"session-{sid}", tile)
        self._fill(row, tagged)
        return tagged

    def _fill(self, row: SessionListRow, tagged: ft.Semantics) -> None:
        """Draw ``row`` into its tagged tile."""
        subtitle: list[ft.Control] = [ft.Text(self._detail(row), size=12)]
        if row.permission_mode == "bypass":
            subtitle.append(_badge("bypass", ft.Colors.RED_100, f"bypass-{row.id}"))
        if row.private:
            subtitle.append(ft.Icon(ft.Icons.LOCK, size=14, tooltip="private"))
        if row.pr_number is not None:
            colour = PR_COLOURS.get(row.pr_state or "", ft.Colors.GREY_300)
            subtitle.append(_badge(pull_chip(row), colour, f"pr-{row.id}"))
        if row.waiting_for_runtime:
            subtitle.append(w.muted(f"waiting for a runtime: {row.waiting_reason}"))
        match = self._match(row)
        if match is not None:
            subtitle.append(_snippet(match, f"match-{row.id}", LEAD[self.phone]))
        tool = TOOL_NAMES.get(row.tool, row.tool)
        icon = ft.Icon(TOOL_ICONS.get(row.tool, ft.Icons.TERMINAL), tooltip=tool)
        status = (
            w.status_chip(row.status, f"status-{row.id}", label="waiting for a runtime")
            if row.waiting_for_runtime
            else w.status_chip(row.status, f"status-{row.id}")
        )
        tile = tagged.content
        assert isinstance(tile, ft.ListTile)
        tile.title = ft.Text(row.title, weight=ft.FontWeight.W_500)
        tile.subtitle = ft.Row(subtitle, spacing=6, wrap=True, run_spacing=2)
        tile.leading = w.tag(f"tool-{row.id}", icon, label=tool)
        tile.trailing = status
        tile.min_height = 64 if self.phone else 56
        tile.selected = row.id == self.highlighted

    def _match(self, row: SessionListRow) -> Match | None:
        """Where the server's search found the query in ``row``'s session, if searching."""
        return (self.found or {}).get(row.id) if self.search.value else None

    def _detail(self, row: SessionListRow) -> str:
        """Tool, repo, branch, +/− lines, cost, last activity: what the row says in one line."""
        facts = (
            TOOL_NAMES.get(row.tool, row.tool),
            self.repo_names.get(row.repo_id, ""),
            "" if self.phone else row.branch or "",  # a phone has no room for branch names
            diff_stat(row),
            w.cost(row.cost_usd, row.cost_estimated),
            ago(row.last_activity),
        )
        return " · ".join(x for x in facts if x)

    def _searched(self, _event: object) -> None:
        self.nav.redraw()  # the field's value is already the newest the browser sent

    async def _search_server(self, _e: object) -> None:
        client = self.nav.client
        assert client is not None
        query = (self.search.value or "").strip()
        try:
            hits = await client.api.search(client.workspace_id, query) if query else []
            self.found = {h["session"]["id"]: Match(h["kind"], h["snippet"]) for h in hits}
        except TraceError:
            self.found = None  # offline: the list still filters locally
        self.nav.redraw()


def _badge(text: str, colour: str, identifier: str) -> ft.Control:
    chip = ft.Container(
        content=ft.Text(text, size=11, color=ft.Colors.BLACK),
        bgcolor=colour,
        border_radius=8,
        padding=ft.Padding.symmetric(horizontal=6, vertical=1),
    )
    return w.tag(identifier, chip, label=text)


def _near_match(snippet: str, lead: int) -> str:
    """``snippet`` on one line, starting shortly before its first match (two lines of
    a phone must show the matched word, not the terminal prompt before it)."""
    text = " ".join(snippet.split())
    first = text.find("[")
    if first > lead:
        # From a word's start if one is near, else mid-word: paths are long words.
        space = text.rfind(" ", max(first - 2 * lead, 0), first - lead)
        text = "…" + text[space + 1 if space >= 0 else first - lead :]
    return text


def _snippet(match: Match, identifier: str, lead: int) -> ft.Control:
    """The server's snippet, its [bracketed] words in bold, after where it matched."""
    where = MATCHED_IN.get(match.kind, match.kind)
    spans = [ft.TextSpan(f"{where}: ", ft.TextStyle(italic=True))]
    for n, part in enumerate(_MARKED.split(_near_match(match.snippet, lead))):
        if part:
            bold = ft.TextStyle(weight=ft.FontWeight.BOLD) if n % 2 else None
            spans.append(ft.TextSpan(part, bold))
    text = ft.Text(spans=spans, size=12, max_lines=2, overflow=ft.TextOverflow.ELLIPSIS)
    return w.tag(identifier, text, label=f"matched in {where}")
