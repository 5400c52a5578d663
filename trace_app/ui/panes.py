"""The panes of a session: transcript, shared draft, approvals, checkpoints, notes.

Input fields are made once and kept (so typing and focus survive redraws);
everything else is redrawn from the session state on each refresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import flet as ft

from trace_app import commands, notes
from trace_app.client import TraceClient
from trace_app.keymap import step
from trace_app.session_state import AskedQuestion, Item, SessionState, questions
from trace_app.ui import widgets as w
from trace_app.ui.boundary import Boundary
from trace_app.ui.code_panes import FilesPane, diff_view
from trace_app.ui.kept import Kept
from trace_app.ui.navigator import Navigator
from trace_app.ui.shared_text import SharedText
from trace_app.ui.terminal_pane import TerminalPane
from trace_app.workspace_state import members
from trace_sync.docs import entries as e

DECIDED = {
    "allow": "Approved",
    "allow_always": "Allowed for this session",
    "deny": "Denied",
    "answer": "Answered",
}
#: Request shortcuts (trace_app.keymap) -> the decision they make.
KEYED: dict[str, commands.Behavior] = {
    "approve": "allow",
    "allow_always": "allow_always",
    "deny": "deny",
}
#: Statuses in which the tool is there to take an answer (failed, stopped... are not).
LIVE = ("starting", "running", "waiting_approval", "waiting_input", "idle")
NOT_LIVE = "The session is not running: nothing can take an answer now."


class Panes:
    def __init__(self, nav: Navigator, sid: str) -> None:
        self.nav = nav
        self.sid = sid
        self.transcript = ft.ListView(expand=True, spacing=6, auto_scroll=True)
        self.draft = nav.watch(
            ft.TextField(
                label="Shared prompt draft",
                multiline=True,
                min_lines=2,
                max_lines=6,
                on_selection_change=self._moved,
            )
        )
        self.shared_draft = self._shared(self.draft, "draft")
        self.viewers = ft.Row(spacing=6, scroll=ft.ScrollMode.AUTO)  # one line, however many
        self.notes = nav.watch(ft.TextField(label="Notes (shared)", multiline=True, min_lines=6))
        self.shared_notes = self._shared(self.notes, "notes")
        self.approvals = ft.ListView(expand=True, spacing=8)
        self.checkpoints = ft.ListView(expand=True, spacing=4)
        self.terminal = TerminalPane(nav, sid)
        typed = getattr(self.terminal, "input", None)  # the terminal's own field, if it has one
        if isinstance(typed, ft.TextField):
            nav.watch(typed)
        self.files = FilesPane(nav, sid)
        self.answers: dict[str, ft.TextField] = {}
        #: An unchanged approval card is the same control on the next redraw, so a tap
        #: on its button between press and release is not lost to a new button (the
        #: pane redraws as the transcript streams).
        self.cards = Kept()
        #: Transcript items are made again only when what they show changes, so a tap
        #: on a button or an opened tool call survives the redraws of everything else.
        self.kept = Kept()
        self.decisions: dict[str, e.Decision] = {}
        #: Requests the tool still waits on (a decision on one has not reached it yet).
        self.open_requests: set[str] = set()
        #: Requests still waiting for a decision, and the one the keyboard acts on.
        self.pending: list[e.ApprovalRequest] = []
        self.focused: str | None = None
        self.live = True
        #: Each pane draws inside its own boundary: one failing pane leaves the others working.
        self.boundaries = {
            "transcript": self._boundary("transcript", ft.Container(self.transcript, expand=True)),
            "draft": self._boundary("draft", self._draft_column(), expand=False),
            "approvals": self._boundary("approvals", ft.Container(self.approvals, expand=True)),
            "terminal": self._boundary("terminal", self.terminal.box),
            "files": self._boundary("files", self.files.box),
            "checkpoints": self._boundary(
                "checkpoints", ft.Container(self.checkpoints, expand=True)
            ),
            "notes": self._boundary("notes", ft.Container(self.notes, expand=True)),
        }
        self.transcript_box = self.boundaries["transcript"].box
        self.draft_box = self.boundaries["draft"].box

    def _boundary(self, name: str, content: ft.Control, expand: bool = True) -> Boundary:
        if name not in ("terminal", "files"):  # those two panes tag themselves
            content = w.tag(name, content)
        return Boundary(f"{name} pane", self.sid, content, expand)

    def _draft_column(self) -> ft.Control:
        self.send_buttons: list[ft.Control] = [
            w.button("Send", lambda _e: self.send("queue")),
            ft.OutlinedButton(
                content="Interrupt with it", on_click=lambda _e: self.send("interrupt")
            ),
        ]
        return ft.Column(
            [self.viewers, self.draft, ft.Row(self.send_buttons, wrap=True)],
            spacing=6,
            horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
        )

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    def box(self, name: str) -> ft.Control:
        return self.boundaries[name].box

    def refresh(self, state: SessionState, phone: bool) -> None:
        self.decisions = state.decisions
        self.open_requests = {a.id for a in state.approvals}
        self.live = state.header.status in LIVE
        drawers: dict[str, Callable[[], object]] = {
            "transcript": lambda: self._draw_transcript(state),
            "draft": lambda: self._draw_draft(state),
            "notes": lambda: self._draw_notes(state),
            "approvals": lambda: self._draw_approvals(state),
            "checkpoints": lambda: self._draw_checkpoints(state),
            "terminal": lambda: self.terminal.refresh(state.terminals, state.header.runtime),
            "files": lambda: self._draw_files(state, phone),
        }
        for name, draw in drawers.items():
            self.boundaries[name].draw(draw)

    def _draw_files(self, state: SessionState, phone: bool) -> None:
        bar = self.files.branch
        may_write = self._may_write()
        bar.refresh(state.branch, state.branch_event, state.pull_request, may_write, phone)
        self.files.refresh(state.files, state.comments, phone)

    def _draw_transcript(self, state: SessionState) -> None:
        controls: list[ft.Control] = []
        for item in state.items:
            rid = item.request_id
            decision = self.decisions.get(rid) if rid else None
            shows = (item, decision, rid in self.open_requests, self.live, self._may_write())
            controls.append(self.kept.control(item.id, shows, partial(self._item, item)))
        self.kept.drawn()
        self.transcript.controls = controls or [w.muted("Nothing in the transcript yet.", 14)]

    def _draw_draft(self, state: SessionState) -> None:
        self.shared_draft.show(state.draft)
        self.draft.read_only = not self._may_write()  # a viewer's edits would never be accepted
        for button in self.send_buttons:  # nor their prompts
            button.disabled = not self._may_write()
        self.viewers.controls = self._viewers()

    def _draw_notes(self, state: SessionState) -> None:
        self.shared_notes.show(state.notes)
        self.notes.read_only = not self._may_write()

    def _draw_approvals(self, state: SessionState) -> None:
        self.pending = [a for a in state.approvals if a.id not in self.decisions]
        if self.focused not in {a.id for a in self.pending}:
            self.focused = self.pending[0].id if self.pending else None
        self.approvals.controls = [self._card(a) for a in state.approvals] or [
            w.muted("No pending approvals.", 14)
        ]
        self.cards.drawn()

    def _draw_checkpoints(self, state: SessionState) -> None:
        self.checkpoints.controls = [self._checkpoint(c) for c in reversed(state.checkpoints)] or [
            w.muted("No checkpoints yet.", 14)
        ]

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
        if item.kind == "diagnostic":
            return w.muted(f"Diagnostic from the tool: {item.text}"[:600])
        if item.kind == "note":  # a raw event that says something (a warning): its words
            return w.muted(f"{item.title}: {item.text}"[:600], 13)
        if item.kind in ("usage", "file_change"):
            prefix = "Changed " if item.kind == "file_change" else ""
            return w.muted(prefix + item.text)
        return ft.ExpansionTile(  # raw, flagged, or a kind this app does not know
            title=w.muted(item.title or f"{item.kind} event", 13),
            controls=[w.mono(json.dumps(item.raw, indent=1, default=str)[:4000], 12)],
        )

    def _tool_call(self, item: Item) -> ft.Control:
        icon = {"done": "✓", "failed": "✗", "denied": "⊘", "pending": "…"}.get(item.status, "▶")
        tool_input = item.raw.get("input", {})
        asked = questions(tool_input)
        body: list[ft.Control] = [_asked(q) for q in asked] or [
            w.mono(json.dumps(tool_input, indent=1)[:4000], 12)
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
            buttons = self._unless_gone(self._choices(item, rid))
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

    def _card(self, a: e.ApprovalRequest) -> ft.Control:
        decision, still_open = self.decisions.get(a.id), a.id in self.open_requests
        shows = (a, decision, still_open, a.id == self.focused, self.live, self._may_write())
        return self.cards.control(a.id, shows, partial(self._approval, a))

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
            rows.append(diff_view(d.diff, d.path))
        asked = questions(a.input)
        if asked:
            rows += [_asked(q) for q in asked]
        elif a.input and not (d.command or d.path or d.diff):
            rows.append(_code(json.dumps(a.input, indent=1)[:4000]))
        decision = self.decisions.get(a.id)
        if decision is not None:
            rows.append(self._decided(decision))
        elif self._may_write():
            rows.append(ft.Row(self._unless_gone(self._answers(a)), wrap=True, spacing=8))
        else:
            rows.append(w.muted("Viewers cannot answer.", 13))
        card = ft.Container(
            ft.Column(rows, spacing=6),
            padding=10,
            border_radius=8,
            bgcolor=ft.Colors.AMBER_50,
            # the request the keys act on (a, d, 1-9), when there is a choice
            border=ft.Border.all(2, ft.Colors.PRIMARY) if a.id == self.focused else None,
        )
        return w.tag(f"approval-{a.id}", card)

    def _answers(self, a: e.ApprovalRequest) -> list[ft.Control]:
        if a.kind == "question":
            if a.id not in self.answers:
                self.answers[a.id] = self.nav.watch(ft.TextField(label="Answer", dense=True))
            field = self.answers[a.id]
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

    def on_key(self, action: str, pressed: str) -> bool:
        """A request shortcut on the focused request; False if there is nothing to act on."""
        ids = [a.id for a in self.pending]
        if not ids:
            return False
        if action in ("next_request", "previous_request"):
            by = 1 if action == "next_request" else -1
            self.focused = step(ids, self.focused, by)
            return True
        a = next((a for a in self.pending if a.id == self.focused), self.pending[0])
        if not self.live or not self._may_write():
            return False
        if a.kind == "question":
            return self._key_answer(a, action, pressed)
        if action in KEYED:
            self._decide(a.id, KEYED[action])
            return True
        return False

    def _key_answer(self, a: e.ApprovalRequest, action: str, pressed: str) -> bool:
        if action == "option" and int(pressed) <= len(a.options):
            self._answer(a.id, a.options[int(pressed) - 1])
        elif action == "reply" and a.id in self.answers:
            self.nav.page.run_task(self.answers[a.id].focus)
        else:
            return False
        return True

    def _unless_gone(self, controls: list[ft.Control]) -> list[ft.Control]:
        """``controls`` as they are while the tool can take an answer; disabled, with why, after."""
        if self.live:
            return controls
        for control in controls:
            control.disabled = True
        return [*controls, w.muted(NOT_LIVE, 13)]

    def _may_write(self) -> bool:
        """Answer requests, edit the draft and notes: any role but viewer."""
        return self.client.role != "viewer"

    def _decided(self, d: e.Decision) -> ft.Control:
        """A decision, and whether the tool has taken it yet (the first decision wins:
        no buttons). Decisions stay in the session's record; the request leaves the
        runtime's list once its tool has the answer."""
        what = DECIDED[d.behavior] + (f": {d.answer}" if d.answer else "")
        who = members(self.client.workspace.doc).get(d.by)
        by = who.name if who is not None else d.by
        waiting = ", waiting for the tool…" if d.request_id in self.open_requests else ""
        text = ft.Text(f"{what} by {by}{waiting}", size=13, italic=True)
        return w.tag(f"decided-{d.request_id}", text)

    def _decide(self, rid: str, behavior: commands.Behavior) -> None:
        self.client.send(commands.decide(self.sid, rid, behavior))
        self.nav.redraw()

    def _answer(self, rid: str, text: str) -> None:
        if text.strip():
            self.client.send(commands.decide(self.sid, rid, "answer", answer=text.strip()))
            self.nav.redraw()

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
            field, lambda: self.client.notes_of(self.sid).doc, root, self.nav.redraw_after
        )

    def _moved(self, event: Any) -> None:
        selection = getattr(event, "selection", None)
        cursor = getattr(selection, "extent_offset", None)
        client = self.client
        notes.look_at(client.notes_of(self.sid), client.user_id, client.user_name, cursor)

    def send(self, mode: commands.Mode) -> None:
        """Send the draft as a prompt (queued, or interrupting the agent)."""
        text = (self.draft.value or "").strip()
        if not text:
            return
        self.client.send(commands.prompt(self.sid, text, mode))
        self.shared_draft.replace("")
        self.nav.redraw()

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


def _asked(q: AskedQuestion) -> ft.Control:
    """A question the tool asks, as text, with its options one to a line."""
    rows: list[ft.Control] = [ft.Text(q.text)]
    rows += [ft.Text(f"• {option}", size=13) for option in q.options]
    return ft.Column(rows, spacing=2)


def _code(text: str) -> ft.Control:
    return ft.Container(
        w.mono(text, 13, ft.Colors.WHITE),
        bgcolor="#1e1e1e",
        padding=8,
        border_radius=6,
    )
