"""Changed files of a worktree against its base, and publishing them into ``io``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pycrdt import Doc

from tests.support.git import commit_all, git, write
from trace_sync.bridge.git.changes import ChangeSet, apply_changes, collect_changes
from trace_sync.bridge.git.watcher import watch_changes
from trace_sync.bridge.git.worktrees import Worktree
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import read_map


def edit_every_way(root: Path) -> None:
    lines = (root / "src" / "app.py").read_text().splitlines(keepends=True)
    lines[4] = "line five, changed\n"
    write(root, {"src/app.py": "".join(lines), "src/new.py": "print('new')\n"})
    (root / "notes.txt").unlink()
    (root / "old_name.txt").rename(root / "new_name.txt")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + os.urandom(64))


async def test_each_kind_of_change_shows_with_its_diff(tree: Worktree) -> None:
    edit_every_way(tree.path)
    changes = await collect_changes(tree)
    assert {path: c.status for path, c in changes.items()} == {
        "src/app.py": "modified",
        "src/new.py": "untracked",
        "notes.txt": "deleted",
        "new_name.txt": "renamed",
        "logo.png": "untracked",
    }
    app = changes["src/app.py"]
    assert (app.added, app.removed) == (1, 1)
    assert app.diff is not None and "-line 5\n+line five, changed\n" in app.diff
    assert changes["src/new.py"].diff is not None
    assert "+print('new')" in changes["src/new.py"].diff
    assert (changes["notes.txt"].removed, changes["notes.txt"].diff is not None) == (1, True)
    moved = changes["new_name.txt"]
    assert (moved.old_path, moved.added, moved.removed) == ("old_name.txt", 0, 0)
    logo = changes["logo.png"]
    assert logo.binary and logo.diff is None and logo.summary == "binary file, 74 bytes"


async def test_staged_and_committed_work_counts_as_added(tree: Worktree) -> None:
    write(tree.path, {"staged.txt": "a\n", "committed.txt": "b\n"})
    git(tree.path, "add", "staged.txt")
    git(
        tree.path,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qm",
        "c",
        "--",
        "staged.txt",
    )
    write(tree.path, {"committed.txt": "b\n"})
    git(tree.path, "add", "committed.txt")
    changes = await collect_changes(tree)
    assert changes["staged.txt"].status == "added"
    assert changes["committed.txt"].status == "added"


async def test_ignored_and_touched_files_are_not_changes(tree: Worktree) -> None:
    write(tree.path, {"build/out.js": "x\n", ".env": "S=1\n"})
    os.utime(tree.path / "notes.txt", (1, 1))
    assert await collect_changes(tree) == {}


async def test_the_base_moving_on_does_not_show_as_a_change(tree: Worktree, checkout: Path) -> None:
    write(tree.path, {"mine.txt": "mine\n"})
    write(checkout, {"theirs.txt": "theirs\n"})
    commit_all(checkout, "base moves on")
    assert set(await collect_changes(tree)) == {"mine.txt"}


async def test_big_diffs_are_summarized_not_inlined(tree: Worktree) -> None:
    write(
        tree.path,
        {
            "many.txt": "".join(f"{i}\n" for i in range(6000)),
            "wide.txt": "x" * 300_000 + "\n",
            "small.txt": "small\n",
        },
    )
    changes = await collect_changes(tree)
    assert changes["many.txt"].diff is None and changes["many.txt"].added == 6000
    assert "over 5000 lines" in (changes["many.txt"].summary or "")
    assert changes["wide.txt"].diff is None and "KiB" in (changes["wide.txt"].summary or "")
    assert changes["small.txt"].diff is not None and changes["small.txt"].summary is None


async def test_odd_file_names_keep_their_diffs(tree: Worktree) -> None:
    names = ["with space.txt", 'quote"d.txt', "tab\there.txt", "ünï.txt", "*.txt"]
    write(tree.path, {name: f"{name}\n" for name in names})
    changes = await collect_changes(tree)
    assert set(changes) == set(names)
    assert all(changes[name].diff for name in names)


def updates_of(doc: Doc[Any]) -> list[bytes]:
    seen: list[bytes] = []
    doc.observe(lambda event: seen.append(event.update))
    return seen


async def test_applying_changes_touches_only_changed_keys(tree: Worktree) -> None:
    doc: Doc[Any] = Doc()
    edit_every_way(tree.path)
    assert apply_changes(doc, await collect_changes(tree), origin="bridge") == 5
    assert apply_changes(doc, await collect_changes(tree), origin="bridge") == 0
    updates = updates_of(doc)
    write(tree.path, {"src/new.py": "print('newer')\n"})
    assert apply_changes(doc, await collect_changes(tree), origin="bridge") == 1
    (tree.path / "logo.png").unlink()
    assert apply_changes(doc, await collect_changes(tree), origin="bridge") == 1
    stored = read_map(doc, SESSION_IO, "files")
    assert set(stored) == {"src/app.py", "src/new.py", "notes.txt", "new_name.txt"}
    assert len(updates) == 2 and all(len(update) < 400 for update in updates)


async def next_set(change_sets: AsyncIterator[ChangeSet]) -> ChangeSet:
    """The next change set, under a generous deadline (the watcher's rescan is off)."""
    return await asyncio.wait_for(anext(change_sets), timeout=20)


async def test_the_watcher_yields_fresh_changes_after_an_edit(tree: Worktree) -> None:
    async with watch_changes(tree, rescan=3600) as change_sets:
        assert await next_set(change_sets) == {}
        write(tree.path, {"notes.txt": "edited\n"})
        assert (await next_set(change_sets))["notes.txt"].status == "modified"
        (tree.path / "notes.txt").unlink()
        assert (await next_set(change_sets))["notes.txt"].status == "deleted"


async def test_the_polling_watcher_yields_fresh_changes_too(tree: Worktree) -> None:
    async with watch_changes(tree, poll=0.1) as change_sets:
        assert await next_set(change_sets) == {}
        write(tree.path, {"notes.txt": "edited\n"})
        assert (await next_set(change_sets))["notes.txt"].status == "modified"


async def test_the_watcher_sees_a_commit_without_file_events(tree: Worktree) -> None:
    write(tree.path, {"fresh.txt": "x\n"})
    async with watch_changes(tree, rescan=3600) as change_sets:
        assert (await next_set(change_sets))["fresh.txt"].status == "untracked"
        commit_all(tree.path, "tool commits")
        assert (await next_set(change_sets))["fresh.txt"].status == "added"


async def test_the_watcher_stays_quiet_when_only_ignored_files_change(tree: Worktree) -> None:
    async with watch_changes(tree, rescan=3600) as change_sets:
        assert await next_set(change_sets) == {}
        write(tree.path, {"build/out.js": "ignored\n", "debug.log": "ignored\n"})
        write(tree.path, {"notes.txt": "edited\n"})
        # The first set after the ignored writes is the edit: nothing was yielded for them.
        assert set(await next_set(change_sets)) == {"notes.txt"}


async def test_the_watcher_outlasts_files_that_vanish_while_git_reads_them(tree: Worktree) -> None:
    """A restore or a build deletes files between git listing them and reading them."""

    def churn() -> None:
        for round_ in range(300):
            for n in range(20):
                (tree.path / f"tmp{n}.txt").write_text(f"{round_}\n")
            for n in range(20):
                (tree.path / f"tmp{n}.txt").unlink()

    async def until_the_edit_shows(change_sets: AsyncIterator[ChangeSet]) -> None:
        async for changes in change_sets:
            if set(changes) == {"notes.txt"}:
                return

    async with watch_changes(tree, poll=0.001) as change_sets:
        assert await next_set(change_sets) == {}
        watching = asyncio.create_task(until_the_edit_shows(change_sets))
        await asyncio.to_thread(churn)
        write(tree.path, {"notes.txt": "edited\n"})
        await asyncio.wait_for(watching, timeout=20)
