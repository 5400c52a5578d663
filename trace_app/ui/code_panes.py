"""Changed files with highlighted diffs, "viewed" marks, and line comments that become
one review prompt."""

from __future__ import annotations

import flet as ft

from trace_app import diffs, notes
from trace_app.client import TraceClient
from trace_app.keymap import step
from trace_app.ui import widgets as w
from trace_app.ui.branch_bar import BranchBar
from trace_app.ui.diff_table import DiffTable
from trace_app.ui.navigator import Navigator
from trace_sync.docs import entries as e

#: Height of a row of the file tree: a comfortable tap target on a phone.
ROW = 44
#: Longest diff drawn line by line; longer ones are cut with a note (a phone must cope).
MAX_DIFF_LINES = 2000
#: Share of the window's width the files pane has on a desktop (the session view gives it 3/5).
DESKTOP_SHARE = 0.55


class FilesPane:
    def __init__(self, nav: Navigator, sid: str) -> None:
        self.nav = nav
        self.sid = sid
        self.chosen: str | None = None
        self.commenting: int | None = None
        #: Folds opened in the chosen file (by the row they start at).
        self.opened: set[int] = set()
        self.comment = nav.watch(
            ft.TextField(label="Comment on this line", dense=True, on_submit=self._add)
        )
        self.tree = ft.ListView(spacing=0)
        self.diff = ft.ListView(expand=True, spacing=0)
        self.review = ft.Row(wrap=True)
        #: What the diff was last drawn from: (file, its open comments, the line commented on...).
        self.shown: tuple[object, ...] | None = None
        self.tree_shown: tuple[object, ...] | None = None
        self.counted = 0
        self.phone = False
        self.files: list[e.FileChange] = []
        self.comment_row = ft.Row([self.comment, ft.TextButton(content="Add", on_click=self._add)])
        self.branch = BranchBar(sid, lambda command: self.client.send(command))
        column = [self.branch.box, ft.Divider(), self.review, self.tree, ft.Divider(), self.diff]
        self.box = w.tag("files", ft.Column(column, expand=True))

    @property
    def client(self) -> TraceClient:
        assert self.nav.client is not None
        return self.nav.client

    def refresh(
        self, files: list[e.FileChange], comments: list[e.ReviewComment], phone: bool
    ) -> None:
        self.phone = phone
        self.files = files
        by_path = {f.path: f for f in files}
        if self.chosen not in by_path:
            self.chosen = files[0].path if files else None
        seen = tuple(self._viewed(f) for f in files)
        tree = (tuple(files), self.chosen, phone, seen)
        if tree != self.tree_shown:  # as the diff below: a tap on a row redrawn anew is lost
            self.tree_shown = tree
            nodes = diffs.tree(list(by_path))
            self.tree.controls = [self._node(n, by_path) for n in nodes] or [
                w.muted("No changed files.", 14)
            ]
            self.tree.height = min(ROW * len(self.tree.controls), 200 if phone else 260)
        open_comments = [c for c in comments if not c.resolved]
        if not self.review.controls or self.counted != len(open_comments):
            self.counted = len(open_comments)
            self.review.controls = [
                w.muted(f"{len(open_comments)} review comments"),
                ft.Button(
                    content="Send review to the agent",
                    disabled=not open_comments,
                    on_click=lambda _e: self._send_review(),
                ),
            ]
        self._refresh_diff(by_path, open_comments)

    def choose(self, path: str) -> None:
        """Show ``path``'s diff."""
        if path != self.chosen:
            self.chosen = path
            self.commenting = None
            self.opened = set()
        self.nav.redraw()

    def step(self, by: int) -> None:
        """Show the next (``by`` 1) or previous (-1) file of the tree."""
        paths = [n.path for n in diffs.tree([f.path for f in self.files]) if n.is_file]
        if paths:
            self.choose(step(paths, self.chosen, by))

    def toggle_viewed(self) -> None:
        """Mark the shown file viewed, or not viewed any more."""
        f = next((f for f in self.files if f.path == self.chosen), None)
        if f is not None:
            self.client.mark_viewed(self.sid, f.path, f.diff, not self._viewed(f))

    def _viewed(self, f: e.FileChange) -> bool:
        return self.client.viewed(self.sid, f.path, f.diff)

    def _refresh_diff(
        self, by_path: dict[str, e.FileChange], open_comments: list[e.ReviewComment]
    ) -> None:
        chosen = by_path.get(self.chosen or "")
        # Redrawn only when what it shows changed: each redraw of the diff sends its rows
        # anew, and a row sent anew loses a tap in progress and the keys typed into the
        # comment field that had not reached the server yet (the agent streaming text
        # redraws the page many times a second).
        mine = tuple(c.id for c in open_comments if chosen and c.path == chosen.path)
        viewed = chosen is not None and self._viewed(chosen)
        shown = (chosen, mine, self.commenting, self.phone, viewed, tuple(sorted(self.opened)))
        if shown != self.shown:
            self.shown = shown
            self.diff.controls = self._diff(chosen, open_comments, viewed) if chosen else []

    def _node(self, node: diffs.Node, by_path: dict[str, e.FileChange]) -> ft.Control:
        indent = ft.Container(width=16 * node.depth)
        if not node.is_file:
            folder = ft.Row(
                [indent, ft.Icon(ft.Icons.FOLDER, size=16), ft.Text(node.name, size=13)]
            )
            return ft.Container(folder, height=ROW)
        f = by_path[node.path]
        mark = {"added": "A", "untracked": "A", "deleted": "D", "renamed": "R"}.get(f.status, "M")
        label = ft.Text(
            f"{mark} {node.name}  +{f.added} −{f.removed}",
            size=13,
            weight=ft.FontWeight.BOLD if node.path == self.chosen else None,
        )
        row: list[ft.Control] = [indent, label]
        if self._viewed(f):
            row.append(w.tag(f"viewed-{node.path}", w.muted("✓ viewed"), label="viewed"))
        tile = ft.Container(
            ft.Row(row),
            on_click=lambda _e: self.choose(node.path),
            height=ROW,
            padding=4,
            ink=True,
        )
        return w.tag(f"file-{node.path}", tile)

    def _diff(
        self, f: e.FileChange, comments: list[e.ReviewComment], viewed: bool
    ) -> list[ft.Control]:
        header = ft.Row(
            [
                ft.Text(f.path, weight=ft.FontWeight.BOLD, expand=True),
                w.tag(
                    "viewed",
                    ft.Checkbox(
                        label="Viewed", value=viewed, on_change=lambda _e: self.toggle_viewed()
                    ),
                ),
            ]
        )
        if f.diff is None:
            return [header, w.muted(f.summary or ("binary file" if f.binary else "no diff"), 14)]
        mine = [c for c in comments if c.path == f.path]
        lines = diffs.parse(f.diff)
        table = DiffTable(
            diffs.styled(f.path, lines[:MAX_DIFF_LINES]),
            split=not self.phone,
            room=self._room(),
            opened=self.opened,
            on_line=self._comment_here,
            on_open=self._open,
            under=lambda n: self._under(n, mine),
        )
        rows: list[ft.Control] = [header, table.draw()]
        if len(lines) > MAX_DIFF_LINES:
            rows.append(w.muted(f"… {len(lines) - MAX_DIFF_LINES} more lines not shown"))
        layout = "side by side" if not self.phone else "unified"
        column = ft.Column(rows, spacing=0, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)
        return [w.tag(f"diff-{layout.replace(' ', '-')}", column)]

    def _room(self) -> float:
        width = self.nav.page.width or 1280
        return width - 32 if self.phone else width * DESKTOP_SHARE

    def _under(self, number: int, mine: list[e.ReviewComment]) -> list[ft.Control]:
        rows: list[ft.Control] = [self.comment_row] if number == self.commenting else []
        return rows + [_comment(c) for c in mine if c.line == number]

    def _comment_here(self, number: int) -> None:
        self.commenting = number
        self.nav.redraw()

    def _open(self, start: int) -> None:
        self.opened.add(start)
        self.nav.redraw()

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
        self.nav.redraw()

    def _send_review(self) -> None:
        self.client.send_review(self.sid)
        self.nav.redraw()


def diff_view(diff: str, path: str | None = None) -> ft.Control:
    """A read-only highlighted diff (in an approval request), unified."""
    lines = diffs.styled(path or "", diffs.parse(diff)[:400])
    return DiffTable(lines, split=False, room=0).draw()


def _comment(c: e.ReviewComment) -> ft.Control:
    return ft.Container(
        ft.Text(f"Comment: {c.text}", size=13),
        bgcolor=ft.Colors.YELLOW_50,
        padding=ft.Padding.only(left=40, top=2, bottom=2),
    )
