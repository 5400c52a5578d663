"""A hosted session's worktree: changed files in io, checkpoints, restore, fork, merge, archive."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import flet as ft

from tests.app.headless import Headless
from tests.conftest import eventually
from tests.hosting.conftest import Hosting, IoView
from tests.support.git import commit_all, git, write
from trace_app.ui.shell import Origin
from trace_sync.docs.layouts import SESSION
from trace_sync.docs.typed import root_of


async def idle_session(hosting: Hosting, **options: object) -> str:
    sid = await hosting.start(**options)
    await hosting.status(sid, "idle")
    return sid


async def seen_after(io: IoView, path: str, status: str) -> float:
    """Seconds until io ``files`` shows ``path`` with ``status`` after the change was made."""
    began = time.monotonic()
    await eventually(lambda: io.files().get(path, {}).get("status") == status, within=20)
    return time.monotonic() - began


async def test_each_kind_of_change_shows_in_files(hosting: Hosting) -> None:
    checkout = Path(hosting.bed.repo.path)
    write(checkout, {"old.txt": "keep me\n" * 20, "gone.txt": "bye\n"})
    commit_all(checkout, "more files")
    sid = await idle_session(hosting)
    tree = hosting.worktree(sid)
    delays = {}
    async with hosting.io(sid) as io:
        await eventually(lambda: io.runtime().get("worktree") is not None)
        (tree / "README.md").write_text("hello\nedited\n")
        delays["edit"] = await seen_after(io, "README.md", "modified")
        (tree / "new.txt").write_text("brand new\n")
        delays["add"] = await seen_after(io, "new.txt", "untracked")
        (tree / "gone.txt").unlink()
        delays["delete"] = await seen_after(io, "gone.txt", "deleted")
        (tree / "old.txt").rename(tree / "renamed.txt")
        delays["rename"] = await seen_after(io, "renamed.txt", "renamed")
        (tree / "blob.bin").write_bytes(bytes(range(256)) * 4)
        delays["binary"] = await seen_after(io, "blob.bin", "untracked")
        files = io.files()
    assert "+edited" in files["README.md"]["diff"]
    assert files["renamed.txt"]["old_path"] == "old.txt"
    assert files["blob.bin"]["binary"] and "diff" not in files["blob.bin"]
    assert "old.txt" not in files
    shown = ", ".join(f"{kind} {delay * 1000:.0f} ms" for kind, delay in delays.items())
    print(f"\nworktree change -> io files: {shown}")


async def test_checkpoint_edit_restore_brings_the_files_back(hosting: Hosting) -> None:
    sid = await idle_session(hosting)
    tree = hosting.worktree(sid)
    (tree / "notes.txt").write_text("first\n")
    made = await hosting.api("POST", f"/api/sessions/{sid}/checkpoints", label="first notes")
    assert made.status_code == 200
    n = made.json()["n"]
    assert made.json()["label"] == "first notes"
    (tree / "notes.txt").write_text("second\n")
    (tree / "extra.txt").write_text("later\n")
    restored = await hosting.api("POST", f"/api/sessions/{sid}/checkpoints/{n}/restore")
    assert restored.status_code == 200
    saved = restored.json()["saved"]
    # The shell keeps no conversation, and the answer says so instead of claiming one.
    assert (restored.json()["files"], restored.json()["conversation"]) == (True, "none")
    assert "only files were restored" in restored.json()["why"]
    assert (tree / "notes.txt").read_text() == "first\n" and not (tree / "extra.txt").exists()
    async with hosting.io(sid) as io:
        await eventually(lambda: [c["n"] for c in io.checkpoints()] == [n, saved])
        assert io.checkpoints()[-1]["label"] == f"Before restoring checkpoint {n}"
        await eventually(lambda: set(io.files()) == {"notes.txt"})
    await eventually(lambda: registered(hosting, sid, [n, saved]))
    assert "checkpoint.restored" in await hosting.bed.timeline(sid)


async def test_the_app_says_what_a_restore_did_to_the_conversation(hosting: Hosting) -> None:
    sid = await idle_session(hosting)
    tree = hosting.worktree(sid)
    (tree / "notes.txt").write_text("first\n")
    n = (await hosting.api("POST", f"/api/sessions/{sid}/checkpoints")).json()["n"]
    (tree / "notes.txt").write_text("second\n")
    said = (
        f"restore checkpoint {n}: "
        "the tool keeps no conversation between turns: only files were restored"
    )
    origin = Origin(hosting.bed.live.url, hosting.bed.owner.token)
    async with Headless(origin, route=f"/session/{sid}/checkpoints") as app:
        await eventually(lambda: "Restore" in app.text(), within=30)
        await app.click(app.find(ft.TextButton, "Restore"))
        await eventually(lambda: said in app.texts(), within=30)
        assert (tree / "notes.txt").read_text() == "first\n"
        await app.click(app.tagged("said").content.controls[1])  # Dismiss
        await eventually(lambda: said not in app.texts())


async def registered(hosting: Hosting, sid: str, numbers: list[int]) -> bool:
    async with hosting.bed.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
        return [c["n"] for c in root_of(doc, SESSION, "checkpoints")] == numbers


async def test_a_fork_from_a_checkpoint_has_its_files_and_lineage(hosting: Hosting) -> None:
    sid = await idle_session(hosting)
    tree = hosting.worktree(sid)
    (tree / "plan.md").write_text("step one\n")
    n = (await hosting.api("POST", f"/api/sessions/{sid}/checkpoints")).json()["n"]
    await eventually(lambda: registered(hosting, sid, [n]))
    (tree / "plan.md").write_text("step two\n")
    forked = await hosting.api("POST", f"/api/sessions/{sid}/fork", checkpoint=n, title="Other way")
    assert forked.status_code == 201
    child = forked.json()
    assert child["parent_id"] == sid and child["parent_checkpoint"] == n
    await hosting.status(child["id"], "idle")
    child_tree = hosting.worktree(child["id"])
    assert (child_tree / "plan.md").read_text() == "step one\n"
    assert (tree / "plan.md").read_text() == "step two\n"
    log = git(child_tree, "log", "-1", "--format=%B")
    assert f"Trace-Forked-From: {sid}" in log and f"Trace-Checkpoint: {n}" in log


async def test_merges_apply_clean_work_and_report_conflicts(hosting: Hosting) -> None:
    checkout = Path(hosting.bed.repo.path)
    clean = await idle_session(hosting)
    (hosting.worktree(clean) / "feature.txt").write_text("done\n")
    merged = await hosting.api("POST", f"/api/sessions/{clean}/merge")
    assert merged.status_code == 200 and merged.json()["merged"] is True
    assert git(checkout, "show", "main:feature.txt") == "done"
    assert (checkout / "feature.txt").read_text() == "done\n"  # the checkout followed
    clashing = await idle_session(hosting)
    (hosting.worktree(clashing) / "README.md").write_text("theirs\n")
    write(checkout, {"README.md": "ours\n"})
    commit_all(checkout, "meanwhile on main")
    refused = await hosting.api("POST", f"/api/sessions/{clashing}/merge")
    assert refused.json() == {
        "merged": False,
        "commit": None,
        "conflicts": ["README.md"],
        "session_commit": None,
        "strategy": "merge",
    }
    assert (checkout / "README.md").read_text() == "ours\n"
    assert (hosting.worktree(clashing) / "README.md").read_text() == "theirs\n"
    assert "session.merge_failed" in await hosting.bed.timeline(clashing)


async def test_a_session_pushes_updates_and_hands_conflicts_to_its_tool(
    hosting: Hosting, tmp_path: Path
) -> None:
    checkout = Path(hosting.bed.repo.path)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(checkout, "remote", "add", "origin", remote.as_uri())
    sid = await idle_session(hosting)
    tree = hosting.worktree(sid)
    (tree / "README.md").write_text("the session's readme\n")
    pushed = await hosting.api("POST", f"/api/sessions/{sid}/push")
    assert pushed.status_code == 200, pushed.text
    branch = pushed.json()["branch"]
    assert git(remote, "rev-parse", f"refs/heads/{branch}") == pushed.json()["commit"]
    write(checkout, {"README.md": "main's readme\n"})
    commit_all(checkout, "meanwhile on main")
    async with hosting.io(sid) as io:
        await eventually(lambda: dict(io.root("branch")).get("pushed") is True)
        updated = await hosting.api("POST", f"/api/sessions/{sid}/update", hand_off=True)
        assert updated.json()["conflicts"] == ["README.md"], updated.text
        await eventually(lambda: list(io.root("branch").get("conflicts") or []) == ["README.md"])
        status = dict(io.root("branch"))
    assert (status["ahead_remote"], status["behind_base"]) == (0, 1)
    assert "<<<<<<<" in (tree / "README.md").read_text()
    async with hosting.bed.live.ctx.sync.rooms.document(f"session/{sid}") as doc:
        asked = [p["text"] for p in root_of(doc, SESSION, "prompts")]
    assert "README.md" in asked[-1] and "git commit --no-edit" in asked[-1]
    timeline = await hosting.bed.timeline(sid)
    assert "session.pushed" in timeline and "session.update_failed" in timeline


async def test_update_follows_the_repos_choice_of_rebase(hosting: Hosting) -> None:
    checkout, bed = Path(hosting.bed.repo.path), hosting.bed
    setup = f"/api/workspaces/{bed.workspace_id}/repos/{bed.repo.id}/setup"
    chosen = await hosting.api("PUT", setup, copy_files=[], update_mode="rebase")
    assert chosen.json()["setup"]["update_mode"] == "rebase", chosen.text
    sid = await idle_session(hosting)
    tree = hosting.worktree(sid)
    (tree / "feature.txt").write_text("done\n")
    write(checkout, {"theirs.txt": "meanwhile\n"})
    base = commit_all(checkout, "meanwhile on main")
    updated = await hosting.api("POST", f"/api/sessions/{sid}/update")
    assert (updated.json()["mode"], updated.json()["updated"]) == ("rebase", True)
    assert git(tree, "rev-parse", "HEAD~1") == base  # replayed on main: no merge commit
    assert (tree / "theirs.txt").read_text() == "meanwhile\n"


def trace_cli(hosting: Hosting, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TRACE_URL=hosting.bed.live.url, TRACE_TOKEN=hosting.bed.owner.token)
    script = str(Path(sys.executable).parent / "trace")
    return subprocess.run([script, *args], env=env, capture_output=True, text=True, timeout=60)


async def test_the_cli_squashes_a_session_into_main_and_lists_conflicts(hosting: Hosting) -> None:
    checkout = Path(hosting.bed.repo.path)
    sid = await idle_session(hosting)
    (hosting.worktree(sid) / "feature.txt").write_text("done\n")
    before = git(checkout, "rev-parse", "main")
    done = await asyncio.to_thread(trace_cli, hosting, "session", "merge", sid, "--squash")
    assert done.returncode == 0 and "merged" in done.stdout, done.stderr
    assert git(checkout, "rev-parse", "main^@") == before  # one commit, one parent
    assert git(checkout, "show", "main:feature.txt") == "done"
    clashing = await idle_session(hosting)
    (hosting.worktree(clashing) / "README.md").write_text("theirs\n")
    write(checkout, {"README.md": "ours\n"})
    commit_all(checkout, "meanwhile on main")
    refused = await asyncio.to_thread(trace_cli, hosting, "session", "update", clashing)
    assert refused.returncode == 1 and "README.md" in refused.stderr
    assert "Traceback" not in refused.stderr


async def test_archive_removes_the_worktree_and_a_restored_session_gets_its_work_back(
    hosting: Hosting,
) -> None:
    sid = await idle_session(hosting)
    tree = hosting.worktree(sid)
    (tree / "unsaved.txt").write_text("not committed\n")
    for command in ("stop", "archive"):
        assert (await hosting.api("POST", f"/api/sessions/{sid}/{command}")).status_code == 200
    await eventually(lambda: not tree.exists())
    async with hosting.io(sid) as io:
        await eventually(lambda: io.runtime().get("status") == "archived")
        assert io.checkpoints()[-1]["label"] == "archived"
    for command in ("restore", "resume"):
        assert (await hosting.api("POST", f"/api/sessions/{sid}/{command}")).status_code == 200
    await hosting.status(sid, "idle")
    assert (tree / "unsaved.txt").read_text() == "not committed\n"


async def test_a_new_worktree_gets_the_repos_setup(hosting: Hosting) -> None:
    bed = hosting.bed
    checkout = Path(bed.repo.path)
    write(checkout, {".gitignore": ".env\n"})
    commit_all(checkout, "ignore .env")
    write(checkout, {".env": "SECRET=local\n"})
    path = f"/api/workspaces/{bed.workspace_id}/repos/{bed.repo.id}/setup"
    setup = {"copy_files": [".env"], "command": "cp .env copied-by-setup.txt"}
    assert (await hosting.api("PUT", path, **setup)).status_code == 200
    sid = await idle_session(hosting)
    tree = hosting.worktree(sid)
    assert (tree / ".env").read_text() == "SECRET=local\n"
    assert (tree / "copied-by-setup.txt").read_text() == "SECRET=local\n"
    failing = {"copy_files": [], "command": "echo broken >&2; exit 3"}
    assert (await hosting.api("PUT", path, **failing)).status_code == 200
    other = await idle_session(hosting)
    async with hosting.io(other) as io:
        [note] = [e for e in io.transcript() if e["kind"] == "error"]
    assert "exited with code 3" in note["message"] and "broken" in note["message"]
