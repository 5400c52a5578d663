"""What the files pane says about the session branch and its pull request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import flet as ft

from tests.app import seed
from tests.app.conftest import World
from tests.app.headless import Headless
from tests.app.test_headless import opened, origin
from tests.conftest import eventually
from trace_app.ui.branch_bar import outcome, pull_line, standing
from trace_sync.docs import entries as e
from trace_sync.docs import typed
from trace_sync.docs.layouts import SESSION_IO


def test_a_branch_never_pushed_and_one_with_no_remote_say_so() -> None:
    status = e.BranchStatus(branch="trace/x", base="main", ahead_base=2, behind_base=0)
    assert standing(status) == "trace/x · 2 ahead, 0 behind main · no remote"
    pushed = status.model_copy(update={"remote": "origin"})
    assert standing(pushed).endswith("not pushed to origin")


def test_a_pull_request_shows_its_reviews_and_checks() -> None:
    pr = e.PullRequestEntry(
        forge="github",
        number=3,
        url="https://github.com/acme/shop/pull/3",
        state="open",
        reviews=[
            {"author": "rita", "state": "approved"},
            {"author": "sam", "state": "changes_requested"},
        ],
        checks=[{"name": "ci", "state": "success"}, {"name": "lint", "state": "pending"}],
    )
    shown = "Pull request #3 open · 1 approved, 1 asking for changes · checks: 1 passed, 1 pending"
    assert pull_line(pr) == shown


def test_a_merge_that_stopped_names_its_conflicts() -> None:
    stopped = e.TimelineEvent(
        id="ev1", at=datetime.now(UTC), actor_id="u1", kind="session.merge_failed",
        payload={"conflicts": ["a.py", "b.py"]},
    )  # fmt: skip
    assert outcome(stopped) == "Merge stopped: conflicts in a.py, b.py"


async def test_the_bar_shows_what_the_remote_had_when_checked_and_checks_again(
    world: World,
) -> None:
    async with Headless(origin(world)) as app:
        await opened(app, world)
        await app.click(app.find(ft.Chip, "files (2)"), "select")
        checked = datetime.now(UTC) - timedelta(minutes=3, seconds=5)
        fetched = seed.BRANCH.model_copy(
            update={"ahead_remote": 0, "behind_remote": 2, "checked_at": checked}
        )
        typed.put_fields(world.runtime.io.doc, SESSION_IO, "branch", fetched, origin=seed.ORIGIN)
        await world.runtime.flush()
        shown = "3 ahead, 1 behind main · origin: 0 to push, 2 to pull · checked 3 min ago"
        await eventually(lambda: shown in app.text())
        await app.click(app.find(ft.OutlinedButton, "Check the remote"))
        # The scripted runtime answers no git requests: the server's refusal comes back.
        await eventually(lambda: "check the remote failed" in app.text())
