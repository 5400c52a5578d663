"""The panes of a session: transcript, shared draft, approvals, checkpoints, notes.

Input fields are made once and kept (so typing and focus survive redraws);
everything else is redrawn from the session state on each refresh.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import flet as ft

from trace_app import commands, notes
from trace_app.client import TraceClient
from trace_app.session_state import Item, SessionState
from trace_app.ui import widgets as w
from trace_app.ui.code_panes import FilesPane, diff_view
from trace_app.ui.shared_text import SharedText
from trace_app.ui.terminal_pane import TerminalPane
from trace_app.workspace_state import members
from trace_sync.docs import entries as e

if TYPE_CHECKING:
    from trace_app.ui.shell import Shell

DECIDED = {
    "allow": "Approved",
    "allow_always": "Allowed for this session",
    "deny": "Denied",
    "answer": "Answered",
}


class Panes:
    def __init__(self, shell: Shell, sid: str) -> None:
        self.shell = shell
        self.sid = sid
        self.transcript = ft.ListView(expand=True, spacing=6, auto_scroll=True)
        self.transcript_box = w.tag("transcript", ft.Container(self.transcript, expand=True))
        self.draft = ft.TextField(
            label="Shared prompt draft",
            multiline=True,
            min_lines=2,
            max_lines=6,
            on_selection_change=self._moved,
        )
        self.shared_draft = self._shared(self.draft, "draft")
        self.viewers = ft.Row(wrap=True, spacing=6)
        self.draft_box = w.tag(
            "draft",
            ft.Column(
                [
                    self.viewers,
                    self.draft,
                    ft.Row(
                        [
                            w.button("Send", lambda _e: self._send("queue")),
                            ft.OutlinedButton(
                                content="Interrupt with it",
                                on_click=lambda _e: self._send("interrupt"),
                            ),
                        ],
                        wrap=True,
                    ),
                ],
                spacing=6,
                horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
            ),
        )
        self.notes = ft.TextField(label="Notes (shared)", multiline=True, min_lines=6)
        self.shared_notes = self._shared(self.notes, "notes")
        self.approvals = ft.ListView(expand=True, spacing=8)
        self.checkpoints = ft.ListView(expand=True, spacing=4)
        self.terminal = TerminalPane(shell, sid)
        self.files = FilesPane(shell, sid)
        self.answers: dict[str, ft.TextField] = {}
        self.decisions: dict[str, e.Decision] = {}

    @property
    def client(self) -> TraceClient:
        assert self.shell.client is not None
        return self.shell.client

    def box(self, name: str) -> ft.Control:
        return {
            "transcript": self.transcript_box,
            "draft": self.draft_box,
            "approvals": w.tag("approvals", ft.Container(self.approvals, expand=True)),
            "terminal": self.terminal.box,
            "files": self.files.box,
            "checkpoints": w.tag("checkpoints", ft.Container(self.checkpoints, expand=True)),
            "notes": ft.Container(self.notes, expand=True),
        }[name]

    def refresh(self, state: SessionState, phone: bool) -> None:
        self.decisions = state.decisions
        self.transcript.controls = [self._item(i) for i in state.items] or [
            w.muted("Nothing in the transcript yet.", 14)
        ]
        self.shared_draft.show(state.draft)
        self.shared_notes.show(state.notes)
        for field in (self.draft, self.notes):  # a viewer's edits would never be accepted
            field.read_only = not self._may_write()
        self.viewers.controls = self._viewers()
        self.approvals.controls = [self._approval(a) for a in state.approvals] or [
            w.muted("No pending approvals.", 14)
        ]
        self.checkpoints.controls = [self._checkpoint(c) for c in reversed(state.checkpoints)] or [
            w.muted("No checkpoints yet.", 14)
        ]
        self.terminal.refresh(state.terminals, state.header.runtime)
        self.files.refresh(state.files, state.comments, phone)

    # -- transcript ----------------------------------------------------------------

    def _item(self, item: Item) -> ft.Control:
        if item.kind == "user_prompt":
            return _bubble("You asked", item.text, ft.Colors.BLUE_50)
        if item.kind == "assistant_text":
            text = item.text + (" …" if item.streaming else "")
            return ft.Container(ft.Markdown(text, selectable=False), padding=4)
        if item.kind == "thinking":
            return ft.ExpansionTile(
                title=w.muted("Thinking…" if item.streaming else "Thinking", 13),
                controls=[ft.Text(item.text, italic=True, size=13)],
                expanded=False,
            )
        if item.kind == "tool_call":
            return self._tool_call(item)
        if item.kind in ("question", "plan"):
            return self._question(item)
        if item.kind == "error":
            return ft.Text(f"Error: {item.text}", color=ft.Colors.ERROR)
        if item.kind in ("usage", "file_change"):
            prefix = "Changed " if item.kind == "file_change" else ""
            return w.muted(prefix + item.text)
        return ft.ExpansionTile(  # raw, flagged, or a kind this app does not know
            title=w.muted(item.title or f"{item.kind} event", 13),
            controls=[w.mono(json.dumps(item.raw, indent=1, default=str)[:4000], 12)],
        )

    def _tool_call(self, item: Item) -> ft.Control:
        icon = {"done": "✓", "failed": "✗", "denied": "⊘", "pending": "…"}.get(item.status, "▶")
        body: list[ft.Control] = [
            w.mono(json.dumps(item.raw.get("input", {}), indent=1)[:4000], 12)
        ]
        if item.result is not None:
            colour = ft.Colors.ERROR if item.is_error else None
            body.append(w.mono(item.result[:8000], 12, colour))
        return ft.ExpansionTile(
            title=ft.Text(f"{icon} {item.title}", font_family=w.MONO, size=13),
            subtitle=w.muted(item.text[:200]),
            controls=body,
            expanded=False,
        )

    def _question(self, item: Item) -> ft.Control:
        rid = item.request_id
        buttons: list[ft.Control] = []
        if rid and rid in self.decisions:
            buttons = [self._decided(self.decisions[rid])]
        elif rid and self._may_write():
            buttons = self._choices(item, rid)
        return ft.Container(
            ft.Column([ft.Markdown(item.text), ft.Row(buttons, wrap=True)]),
            bgcolor=ft.Colors.ORANGE_50,
            padding=8,
            border_radius=8,
        )

    def _choices(self, item: Item, rid: str) -> list[ft.Control]:
        if item.kind == "question":
            return [
                w.button(option, lambda _e, o=option: self._answer(rid, o), big=True)
                for option in item.options
            ]
        return [
            w.button("Approve plan", lambda _e: self._decide(rid, "allow"), big=True),
            ft.OutlinedButton(
                content="Reject", on_click=lambda _e: self._decide(rid, "deny"), height=48
            ),
        ]

    # -- approvals -----------------------------------------------------------------

    def _approval(self, a: e.ApprovalRequest) -> ft.Control:
        d = a.detail
        rows: list[ft.Control] = [
            ft.Text(a.title, weight=ft.FontWeight.BOLD),
            w.muted(f"{a.kind} · {a.tool}"),
        ]
        if d.command:
            rows.append(_code(d.command))
        if d.path:
            rows.append(ft.Text(f"Path: {d.path}", font_family=w.MONO, size=13))
        if d.description:
            rows.append(ft.Text(d.description))
        if d.diff:
            rows.append(diff_view(d.diff))
        if a.input and not (d.command or d.path or d.diff):
            rows.append(_code(json.dumps(a.input, indent=1)[:4000]))
        decision = self.decisions.get(a.id)
        if decision is not None:
            rows.append(self._decided(decision))
        elif self._may_write():
            rows.append(ft.Row(self._answers(a), wrap=True, spacing=8))
        else:
            rows.append(w.muted("Viewers cannot answer.", 13))
        card = ft.Container(
            ft.Column(rows, spacing=6), padding=10, border_radius=8, bgcolor=ft.Colors.AMBER_50
        )
        return w.tag(f"approval-{a.id}", card)

    def _answers(self, a: e.ApprovalRequest) -> list[ft.Control]:
        if a.kind == "question":
            field = self.answers.setdefault(a.id, ft.TextField(label="Answer", dense=True))
            options = [
                w.button(o, lambda _e, o=o: self._answer(a.id, o), big=True) for o in a.options
            ]
            return [
                *options,
                field,
                ft.OutlinedButton(
                    content="Answer", on_click=lambda _e: self._answer(a.id, field.value or "")
                ),
            ]
        return [
            w.button("Approve", lambda _e: self._decide(a.id, "allow"), big=True),
            ft.OutlinedButton(
                content="Allow for this session",
                on_click=lambda _e: self._decide(a.id, "allow_always"),
                height=48,
            ),
            ft.OutlinedButton(
                content="Deny", on_click=lambda _e: self._decide(a.id, "deny"), height=48
            ),
        ]

    def _may_write(self) -> bool:
        """Answer requests, edit the draft and notes: any role but viewer."""
        return self.client.role != "viewer"

    def _decided(self, d: e.Decision) -> ft.Control:
        """A decision the tool has not taken yet (the first decision wins: no buttons)."""
        what = DECIDED[d.behavior] + (f": {d.answer}" if d.answer else "")
        who = members(self.client.workspace.doc).get(d.by)
        by = who.name if who is not None else d.by
        text = ft.Text(f"{what} by {by}, waiting for the tool…", size=13, italic=True)
        return w.tag(f"decided-{d.request_id}", text)

    def _decide(self, rid: str, behavior: commands.Behavior) -> None:
        self.client.send(commands.decide(self.sid, rid, behavior))
        self.shell.redraw()

    def _answer(self, rid: str, text: str) -> None:
        if text.strip():
            self.client.send(commands.decide(self.sid, rid, "answer", answer=text.strip()))
            self.shell.redraw()

    # -- checkpoints ---------------------------------------------------------------

    def _checkpoint(self, c: e.Checkpoint) -> ft.Control:
        when = c.at.strftime("%Y-%m-%d %H:%M")
        return ft.ListTile(
            title=ft.Text(f"#{c.n} {c.label or 'checkpoint'}"),
            subtitle=w.muted(f"{when} · {c.commit[:10]}"),
            trailing=ft.Row(
                [
                    ft.TextButton(
                        content="Restore",
                        on_click=lambda _e: self.client.send(
                            commands.restore_checkpoint(self.sid, c.n)
                        ),
                    ),
                    ft.TextButton(
                        content="Fork from here",
                        on_click=lambda _e: self.client.send(commands.fork(self.sid, c.n)),
                    ),
                ],
                tight=True,
            ),
        )

    # -- draft, notes and presence -------------------------------------------------

    def _shared(self, field: ft.TextField, root: str) -> SharedText:
        return SharedText(
            field, lambda: self.client.notes_of(self.sid).doc, root, self.shell.redraw_after
        )

    def _moved(self, event: Any) -> None:
        selection = getattr(event, "selection", None)
        cursor = getattr(selection, "extent_offset", None)
        client = self.client
        notes.look_at(client.notes_of(self.sid), client.user_id, client.user_name, cursor)

    def _send(self, mode: commands.Mode) -> None:
        text = (self.draft.value or "").strip()
        if not text:
            return
        self.client.send(commands.prompt(self.sid, text, mode))
        self.shared_draft.replace("")
        self.shell.redraw()

    def _viewers(self) -> list[ft.Control]:
        people = notes.viewers(self.client.notes_of(self.sid))
        if not people:
            return [w.muted("Only you are here.")]
        chips: list[ft.Control] = [w.muted("Also here:")]
        for p in people:
            where = f" · cursor {p['cursor']}" if p.get("cursor") is not None else ""
            chips.append(
                w.tag(
                    f"viewer-{p.get('name')}",
                    ft.Container(
                        ft.Text(f"{p.get('name')}{where}", size=12, color=ft.Colors.BLACK),
                        bgcolor=str(p.get("colour") or ft.Colors.GREY_300),
                        border_radius=10,
                        padding=ft.Padding.symmetric(horizontal=8, vertical=2),
                    ),
                )
            )
        return chips


def _bubble(title: str, text: str, colour: str) -> ft.Control:
    return ft.Container(
        ft.Column([w.muted(title), ft.Text(text)], spacing=2),
        bgcolor=colour,
        padding=8,
        border_radius=8,
    )


def _code(text: str) -> ft.Control:
    return ft.Container(
        w.mono(text, 13, ft.Colors.WHITE),
        bgcolor="#1e1e1e",
        padding=8,
        border_radius=6,
    )
