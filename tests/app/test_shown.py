"""What a session shows is written for people: no JSON dumps, reprs, absolute
worktree paths or half-parsed diff headers (headless, against a real server)."""

from __future__ import annotations

from typing import Any

import flet as ft
from pycrdt import Text

from tests.app import seed
from tests.app.conftest import World
from tests.app.headless import Headless
from tests.app.test_boundary import choose, session_view
from tests.conftest import eventually
from trace_app import diffs
from trace_app.ui.shell import Origin, ViewPlace
from trace_sync.contract.session_status import SessionStatus
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.services.sessions import SessionService

WORKTREE = "/home/ada/.trace/worktrees/s_flaky"
ASKED = {
    "questions": [
        {
            "question": "Which database should the migration target?",
            "header": "Database",
            "options": [
                {"label": "PostgreSQL", "description": "what production runs"},
                {"label": "SQLite", "description": "the embedded default"},
            ],
            "multiSelect": False,
        }
    ]
}
DELETED = (
    "diff --git a/old.py b/old.py\ndeleted file mode 100644\nindex 3b18e51..0000000\n"
    "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-print('old')\n"
)


def _io(doc: Any) -> None:
    """What a Claude Code and a Codex session write that used to show raw."""
    add = lambda entry: typed.append(doc, SESSION_IO, "transcript", entry, origin=seed.ORIGIN)  # noqa: E731
    put = lambda root, key, entry: typed.put(doc, SESSION_IO, root, key, entry, origin=seed.ORIGIN)  # noqa: E731
    with doc.transaction(origin=seed.ORIGIN):
        typed.root_of(doc, SESSION_IO, "runtime").update(
            {"worktree": WORKTREE, "status": "waiting_input"}
        )
        add(
            e.ToolCall(
                id="2",
                at=seed.NOW,
                call_id="c2",
                name="Read",
                input={"file_path": f"{WORKTREE}/tests/test_flaky.py"},
                status="done",
            )
        )
        add(e.ToolCall(id="3", at=seed.NOW, call_id="c3", name="AskUserQuestion", input=ASKED))
        add(
            e.ErrorNote(
                id="4",
                at=seed.NOW,
                message="[ede_diagnostic] result_type=user last_content_type=n/a",
            )
        )
        add(
            e.RawEvent(
                id="5",
                at=seed.NOW,
                source="codex",
                data={"method": "warning", "params": {"message": "model is deprecated"}},
            )
        )
        put(
            "approvals",
            "req-q",
            e.ApprovalRequest(
                id="req-q",
                kind="question",
                tool="AskUserQuestion",
                title="Claude asks",
                input=ASKED,
                options=["PostgreSQL", "SQLite"],
                at=seed.NOW,
            ),
        )
        put(
            "files",
            "old.py",
            e.FileChange(path="old.py", status="deleted", removed=1, diff=DELETED),
        )
        put(
            "files",
            "new.py",
            e.FileChange(
                path="new.py", status="untracked", added=1, diff="@@ -0,0 +1 @@\n+print('new')\n"
            ),
        )
        put("terminals", "t9", e.TerminalInfo(id="t9", title="codex", kind="tool", state="exited"))
        typed.root_of(doc, SESSION_IO, "output")["t9"] = Text("bye\r\n")


async def test_a_session_shows_words_not_internals(world: World) -> None:
    sid = world.seeded.sessions["Fix flaky CI"]
    async with (
        seed.hosted_without_terminal(world.live.url, world.live.ctx.store, world.seeded, sid) as io,
        Headless(Origin(world.live.url, world.live.token)) as app,
    ):
        _io(io.doc)
        await io.flush()
        app.shell.go(ViewPlace("session", sid))
        await eventually(lambda: "Claude asks" in app.text())
        text = app.text()
        assert "tests/test_flaky.py" in app.texts()  # the subtitle: relative to the worktree
        assert not any(t.startswith(WORKTREE) for t in app.texts())
        assert "Which database should the migration target?" in app.texts()  # not a repr
        assert "{'question'" not in text and '"questions"' not in text  # nor JSON
        assert "• PostgreSQL: what production runs" in app.texts()  # the options as text
        assert "Error: [ede_diagnostic]" not in text
        assert "Diagnostic from the tool: result_type=user last_content_type=n/a" in text
        assert "codex: model is deprecated" in app.texts()
        await choose(app, "files")
        assert "A new.py  +1 −0" in app.texts() and "D old.py  +0 −1" in app.texts()
        session_view(app).panes.files.chosen = "old.py"
        app.shell.redraw()
        assert any(t.endswith("deleted file mode 100644") for t in app.texts())
        assert not any("eleted file mode" in t and "deleted" not in t for t in app.texts())
        await choose(app, "terminal")
        await eventually(lambda: session_view(app).panes.terminal.access == "yours")
        app.shell.redraw()
        field = app.find(ft.TextField, "Type into this terminal (Enter sends)")
        assert not field.visible  # the terminal exited: nothing would read what is typed


def test_diff_headers_stay_whole_and_line_numbers_start_at_the_hunk() -> None:
    lines = diffs.parse(DELETED)
    assert [line.kind for line in lines] == ["meta"] * 5 + ["hunk", "removed"]
    assert lines[1].text == "deleted file mode 100644"
    assert (lines[-1].text, lines[-1].old) == ("print('old')", 1)


async def test_a_failed_session_offers_no_live_answer_buttons(world: World) -> None:
    sid = world.seeded.sessions["Fix flaky CI"]
    async with (
        seed.hosted_without_terminal(world.live.url, world.live.ctx.store, world.seeded, sid) as io,
        Headless(Origin(world.live.url, world.live.token)) as app,
    ):
        asked = e.Question(id="q", at=seed.NOW, request_id="req-q", text="Which one?",
                           options=["PostgreSQL", "SQLite"])  # fmt: skip
        typed.append(io.doc, SESSION_IO, "transcript", asked, origin=seed.ORIGIN)
        await io.flush()
        app.shell.go(ViewPlace("session", sid))
        await eventually(lambda: "Which one?" in app.text())
        # running: it may be answered (once the app has the session's status too)
        await eventually(lambda: not app.find(ft.Button, "SQLite").disabled)
        sessions = SessionService(world.live.ctx.store, world.live.ctx.sync.rooms)
        await sessions.report_status(sid, SessionStatus.FAILED)
        await eventually(lambda: "nothing can take an answer now" in app.text())
        assert app.find(ft.Button, "SQLite").disabled
