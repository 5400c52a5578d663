"""The session branch at the top of the files pane: where it stands against its
base and the remote (and when the remote was last looked at), and the buttons
that push, check the remote, update and merge it."""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from trace_app import commands
from trace_app.ui import widgets as w
from trace_app.workspace_state import ago
from trace_sync.docs import entries as e

#: Fetches the session branch and its base: the figures above as the remote has them now.
CHECK = "Check the remote"
MERGES = (
    ("merge", "Merge into base"),
    ("squash", "Squash and merge"),
    ("rebase", "Rebase and merge"),
)


def standing(status: e.BranchStatus | None) -> str:
    """One line a person reads: ``trace/x · 2 ahead, 1 behind main · origin: 1 to
    push, 0 to pull · checked 3 min ago``."""
    if status is None:
        return "Branch status comes after the first push, update, merge or turn."
    parts = [status.branch]
    if status.ahead_base is not None and status.behind_base is not None:
        parts.append(f"{status.ahead_base} ahead, {status.behind_base} behind {status.base}")
    if status.remote is None:
        parts.append("no remote")
    elif not status.pushed:
        parts.append(f"not pushed to {status.remote}")
    else:
        parts.append(
            f"{status.remote}: {status.ahead_remote} to push, {status.behind_remote} to pull"
        )
    if status.checked_at is not None:
        parts.append(f"checked {ago(status.checked_at.isoformat())}")
    return " · ".join(parts)


def pull_line(pr: e.PullRequestEntry | None) -> str:
    """``Pull request #3 open · 1 approved · checks: 2 passed, 1 pending``."""
    if pr is None:
        return "No pull request."
    approved = sum(1 for r in pr.reviews if r.get("state") == "approved")
    asked = sum(1 for r in pr.reviews if r.get("state") == "changes_requested")
    parts = [f"Pull request #{pr.number} {pr.state}"]
    if approved or asked:
        parts.append(f"{approved} approved" + (f", {asked} asking for changes" if asked else ""))
    if pr.checks:
        states = [c.get("state") for c in pr.checks]
        counts = {s: states.count(s) for s in ("success", "failure", "pending") if s in states}
        named = {"success": "passed", "failure": "failed", "pending": "pending"}
        parts.append("checks: " + ", ".join(f"{n} {named[s]}" for s, n in counts.items()))
    return " · ".join(parts)


#: How each branch event reads.
SAID = {
    "session.pushed": "Pushed",
    "session.updated": "Updated from base",
    "session.update_failed": "Update stopped",
    "session.merged": "Merged into base",
    "session.merge_failed": "Merge stopped",
}


def outcome(event: e.TimelineEvent | None) -> str | None:
    """What the last push, update or merge did, conflicts named."""
    if event is None or event.kind not in SAID:
        return None
    conflicts = [str(p) for p in event.payload.get("conflicts") or []]
    if conflicts:
        return f"{SAID[event.kind]}: conflicts in {', '.join(conflicts)}"
    return SAID[event.kind]


class BranchBar:
    """On a desktop, a button per action; on a phone, where every row pushes the diff
    further down, one menu holds them all and the pull request line shows only once
    there is one."""

    def __init__(self, sid: str, send: Callable[[commands.ApiCommand], object]) -> None:
        self.sid = sid
        self.send = send
        self.line = w.muted("", 13)
        self.last = w.muted("", 13)
        self.pull = w.muted("", 13)
        self.pull_button = ft.OutlinedButton(content="Open pull request", on_click=self._pull)
        self._has_pull = False
        self.buttons = ft.Row(
            [
                ft.OutlinedButton(content="Push", on_click=self._push),
                ft.OutlinedButton(content=CHECK, on_click=self._fetch),
                ft.OutlinedButton(content="Update from base", on_click=self._update),
                ft.PopupMenuButton(
                    content=w.menu_label("Merge"),
                    items=[self._merge_item(how, label) for how, label in MERGES],
                ),
                self.pull_button,
            ],
            wrap=True,
        )
        self.pull_item = ft.PopupMenuItem(content=ft.Text("Open pull request"), on_click=self._pull)
        self.menu = ft.PopupMenuButton(
            content=w.menu_label("Branch"),
            items=[
                ft.PopupMenuItem(content=ft.Text("Push"), on_click=self._push),
                ft.PopupMenuItem(content=ft.Text(CHECK), on_click=self._fetch),
                ft.PopupMenuItem(content=ft.Text("Update from base"), on_click=self._update),
                *[self._merge_item(how, label) for how, label in MERGES],
                self.pull_item,
            ],
        )
        column: list[ft.Control] = [self.line, self.last, self.pull, self.buttons, self.menu]
        self.box = w.tag("branch", ft.Column(column, spacing=4))

    def refresh(
        self,
        status: e.BranchStatus | None,
        event: e.TimelineEvent | None,
        pull: e.PullRequestEntry | None,
        may_write: bool,
        phone: bool = False,
    ) -> None:
        self.line.value = standing(status)
        self.pull.value = pull_line(pull)
        self.pull.visible = pull is not None or not phone
        self._has_pull = pull is not None
        pull_action = "Merge pull request" if pull is not None else "Open pull request"
        self.pull_button.content = pull_action
        self.pull_item.content = ft.Text(pull_action)
        self.pull_button.disabled = self.pull_item.disabled = (
            pull is not None and pull.state != "open"
        )
        said = outcome(event)
        if status is not None and status.conflicts:
            said = f"left for the tool to resolve: {', '.join(status.conflicts)}"
        self.last.value = said or ""
        self.last.visible = bool(said)
        self.buttons.visible = may_write and not phone
        self.menu.visible = may_write and phone

    def _push(self, _e: object) -> None:
        self.send(commands.push(self.sid))

    def _fetch(self, _e: object) -> None:
        self.send(commands.fetch(self.sid))

    def _update(self, _e: object) -> None:
        self.send(commands.update(self.sid))

    def _pull(self, _e: object) -> None:
        if self._has_pull:
            self.send(commands.merge_pull_request(self.sid))
        else:
            self.send(commands.open_pull_request(self.sid))

    def _merge_item(self, how: str, label: str) -> ft.PopupMenuItem:
        def chosen(_e: object) -> None:
            self.send(commands.merge(self.sid, how))

        return ft.PopupMenuItem(content=ft.Text(label), on_click=chosen)
