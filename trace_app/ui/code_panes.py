"""Changed files with coloured diffs and line comments that become one review prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flet as ft

from trace_app import diffs, notes
from trace_app.client import TraceClient
from trace_app.ui import widgets as w
from trace_sync.docs import entries as e

if TYPE_CHECKING:
    from trace_app.ui.shell import Shell

DIFF_COLOURS = {"added": "#e6ffec", "removed": "#ffebe9", "hunk": "#ddf4ff", "meta": "#f6f8fa"}
#: Height of a row of the file tree: a comfortable tap target on a phone.
ROW = 44
#: Longest diff drawn line by line; longer ones are cut with a note (a phone must cope).
MAX_DIFF_LINES = 2000


class FilesPane:
    def __init__(self, shell: Shell, sid: str) -> None:
        self.shell = shell
        self.sid = sid
        self.chosen: str | None = None
        self.commenting: int | None = None
        self.comment = ft.TextField(label="Comment on this line", dense=True, on_submit=self._add)
        self.tree = ft.ListView(spacing=0)
        self.diff = ft.ListView(expand=True, spacing=0)
        self.review = ft.Row(wrap=True)
        self.box = w.tag(
            "files", ft.Column([self.review, self.tree, ft.Divider(), self.diff], expand=True)
        )

    @property
    def client(self) -> TraceClient:
        assert self.shell.client is not None
        return self.shell.client

    def refresh(
        self, files: list[e.FileChange], comments: list[e.ReviewComment], phone: bool
    ) -> None:
        by_path = {f.path: f for f in files}
        if self.chosen not in by_path:
            self.chosen = files[0].path if files else None
        self.tree.controls = [self._node(n, by_path) for n in diffs.tree(list(by_path))] or [
            w.muted("No changed files.", 14)
        ]
        self.tree.height = min(ROW * len(self.tree.controls), 200 if phone else 260)
        open_comments = [c for c in comments if not c.resolved]
        self.review.controls = [
            w.muted(f"{len(open_comments)} review comments"),
            ft.Button(
                content="Send review to the agent",
                disabled=not open_comments,
                on_click=lambda _e: self._send_review(),
            ),
        ]
        chosen = by_path.get(self.chosen or "")
        self.diff.controls = self._diff(chosen, open_comments) if chosen else []

    def _node(self, node: diffs.Node, by_path: dict[str, e.FileChange]) -> ft.Control:
        indent = ft.Container(width=16 * node.depth)
        if not node.is_file:
            folder = ft.Row(
                [indent, ft.Icon(ft.Icons.FOLDER, size=16), ft.Text(node.name, size=13)]
            )
            return ft.Container(folder, height=ROW)
        f = by_path[node.path]
        mark = {"added": "A", "deleted": "D", "renamed": "R", "untracked": "U"}.get(f.status, "M")

        def choose(_e: object) -> None:
            self.chosen = node.path
            self.commenting = None
            self.shell.redraw()

        label = ft.Text(
            f"{mark} {node.name}  +{f.added} −{f.removed}",
            size=13,
            weight=ft.FontWeight.BOLD if node.path == self.chosen else None,
        )
        return ft.Container(
            ft.Row([indent, label]), on_click=choose, height=ROW, padding=4, ink=True
        )

    def _diff(self, f: e.FileChange, comments: list[e.ReviewComment]) -> list[ft.Control]:
        if f.diff is None:
            return [w.muted(f.summary or ("binary file" if f.binary else "no diff"), 14)]
        mine = [c for c in comments if c.path == f.path]
        rows: list[ft.Control] = [ft.Text(f.path, weight=ft.FontWeight.BOLD)]
        lines = diffs.parse(f.diff)
        for line in lines[:MAX_DIFF_LINES]:
            rows.append(self._line(line))
            number = line.new or line.old
            rows += [_comment(c) for c in mine if number is not None and c.line == number]
            if number is not None and number == self.commenting and line.kind != "meta":
                rows.append(
                    ft.Row([self.comment, ft.TextButton(content="Add", on_click=self._add)])
                )
        if len(lines) > MAX_DIFF_LINES:
            rows.append(w.muted(f"… {len(lines) - MAX_DIFF_LINES} more lines not shown"))
        column = ft.Column(rows, spacing=0, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        return [w.tag("diff", column)]

    def _line(self, line: diffs.Line) -> ft.Control:
        numbers = f"{line.old or '':>4} {line.new or '':>4} " if line.kind != "hunk" else ""
        sign = {"added": "+", "removed": "-"}.get(line.kind, " ")
        text = line.text if line.kind in ("hunk", "meta") else f"{sign}{line.text}"
        number = line.new or line.old

        def comment_here(_e: object) -> None:
            self.commenting = number
            self.shell.redraw()

        return ft.Container(
            w.mono(numbers + text, 12),
            bgcolor=DIFF_COLOURS.get(line.kind),
            on_click=comment_here if number is not None else None,
            padding=ft.Padding.symmetric(horizontal=4, vertical=1),
        )

    def _add(self, _e: object) -> None:
        text = (self.comment.value or "").strip()
        if not text or self.chosen is None or self.commenting is None:
            return
        client = self.client
        notes.add_comment(
            client.notes_of(self.sid).doc, client.user_id, self.chosen, self.commenting, text
        )
        self.comment.value = ""
        self.commenting = None
        self.shell.redraw()

    def _send_review(self) -> None:
        self.client.send_review(self.sid)
        self.shell.redraw()


def diff_view(diff: str) -> ft.Control:
    """A read-only coloured diff (in an approval request)."""
    return ft.Column(
        [
            ft.Container(
                w.mono(
                    line.text
                    if line.kind in ("hunk", "meta")
                    else {"added": "+", "removed": "-"}.get(line.kind, " ") + line.text,
                    12,
                ),
                bgcolor=DIFF_COLOURS.get(line.kind),
            )
            for line in diffs.parse(diff)[:400]
        ],
        spacing=0,
    )


def _comment(c: e.ReviewComment) -> ft.Control:
    return ft.Container(
        ft.Text(f"Comment: {c.text}", size=13),
        bgcolor=ft.Colors.YELLOW_50,
        padding=ft.Padding.only(left=40, top=2, bottom=2),
    )
