"""The new-session form: everything ``trace session start`` takes, as a
:class:`SessionSpec`, sent as a start-session command."""

from __future__ import annotations

import flet as ft

from trace_app import commands
from trace_app.ui import widgets as w
from trace_app.ui.navigator import Navigator
from trace_app.workspace_state import repos
from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.session_spec import SessionSpec
from trace_sync.contract.tools import LOCATIONS, PERMISSION_LABELS, TOOL_LABELS, TOOLS

LOCATION_LABELS = {
    "local": "My bridge (this computer's desktop bridge)",
    "cloud": "Cloud (a container on the server's host)",
}
VIEWERS_CANNOT = "Viewers cannot start sessions: ask an admin for the member role."
#: Widths on a desktop; a phone gives every field the screen's width.
FIELD_WIDTH = 420
PROMPT_WIDTH = 600
#: The form's padding on each side (a phone's field is the page less twice this).
PADDING = 12


class NewSessionView:
    """Repo, branch, tool, model, permission mode, title, private, where it runs
    and the first prompt -> a :class:`SessionSpec` -> a start-session command."""

    def __init__(self, nav: Navigator) -> None:
        self.nav = nav
        self.repo = ft.Dropdown(label="Repository")
        self.branch = nav.watch(ft.TextField(label="Base branch (default: the repo's)"))
        self.tool = ft.Dropdown(
            label="Tool",
            value=TOOLS[0],
            options=[ft.DropdownOption(key=t, text=TOOL_LABELS[t]) for t in TOOLS],
        )
        self.model = nav.watch(ft.TextField(label="Model (optional)"))
        self.permission_mode = ft.Dropdown(
            label="Permissions",
            value="ask",
            options=[ft.DropdownOption(key=m, text=t) for m, t in PERMISSION_LABELS.items()],
        )
        self.location = ft.Dropdown(
            label="Runs on",
            value="local",
            options=[ft.DropdownOption(key=k, text=LOCATION_LABELS[k]) for k in LOCATIONS],
        )
        self.title = nav.watch(ft.TextField(label="Title (default: the prompt's first line)"))
        self.private = ft.Switch(label="Private (only you and admins see it)")
        self.prompt = nav.watch(ft.TextField(label="Prompt", multiline=True, min_lines=3))
        self.result = ft.Text("")
        self.start = w.button("Start session", self._start, big=True)

    def build(self, phone: bool) -> ft.Control:
        self._size(phone)
        return ft.Container(
            content=ft.Column(
                [
                    w.heading("New session"),
                    w.tag("field-repo", self.repo),
                    self.branch,
                    w.tag("field-tool", self.tool),
                    self.model,
                    w.tag("field-permissions", self.permission_mode),
                    w.tag("field-location", self.location),
                    self.title,
                    self.private,
                    self.prompt,
                    self.start,
                    self.result,
                ],
                scroll=ft.ScrollMode.AUTO,
                spacing=12,
                horizontal_alignment=(
                    ft.CrossAxisAlignment.STRETCH if phone else ft.CrossAxisAlignment.START
                ),
            ),
            padding=PADDING,
            expand=True,
        )

    def _size(self, phone: bool) -> None:
        """A dropdown is as wide as its longest option unless told: on a phone,
        the page's width (stretching the column does not reach inside it)."""
        full = max(int(self.nav.page.width or 0) - 2 * PADDING, 200) if phone else None
        for field in (self.repo, self.tool, self.permission_mode, self.location):
            field.width = full or FIELD_WIDTH
        for text in (self.branch, self.model, self.title):
            text.width = full or FIELD_WIDTH
        self.prompt.width = full or PROMPT_WIDTH

    def refresh(self) -> None:
        client = self.nav.client
        assert client is not None
        self.repo.options = [
            ft.DropdownOption(key=r.id, text=r.name) for r in repos(client.workspace.doc)
        ]
        if self.repo.value is None and self.repo.options:
            self.repo.value = self.repo.options[0].key
        viewer = client.role == "viewer"  # the server would refuse: said before, not after
        self.start.disabled = viewer
        if viewer:
            self.result.value = VIEWERS_CANNOT
        elif self.result.value == VIEWERS_CANNOT:  # made a member meanwhile
            self.result.value = ""

    def _start(self, _e: object) -> None:
        client = self.nav.client
        assert client is not None
        if not self.repo.value:
            self.result.value = "Add a repository first (Repos)."
            return
        try:
            spec = SessionSpec.of(
                repo_id=self.repo.value,
                tool=self.tool.value,
                base_branch=self.branch.value or None,
                model=self.model.value or None,
                permission_mode=self.permission_mode.value,
                location=self.location.value,
                title=(self.title.value or "").strip() or None,
                private=bool(self.private.value),
                prompt=self.prompt.value or None,
            )
        except InvalidInput as exc:
            self.result.value = str(exc)  # said here, before anything is sent
            return
        client.send(commands.start_session(client.workspace_id, spec))
        self.result.value = "Starting… it appears in Sessions once the server has it."
        self.prompt.value = ""
        self.title.value = ""
