"""What merging, updating and pushing a session branch share (blocking; callers
run them in a thread): its state as a commit, ancestry, a merge computed in the
object store, and a rebase done in the session's own worktree.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from trace_sync.bridge.git.checkpoints import snapshot
from trace_sync.bridge.git.gitexec import commit_tree, git, identity, nul_split, resolve
from trace_sync.bridge.git.worktrees import Worktree


def state_commit(tree: Worktree, message: str) -> tuple[str, str]:
    """``(head, tip)``: the branch head, and a commit of the worktree's state on it
    (``tip == head`` when the worktree is clean). No ref moves."""
    head = resolve(tree.path, "HEAD")
    state = snapshot(tree.path)
    if state == resolve(tree.path, "HEAD^{tree}"):
        return head, head
    return head, commit_tree(tree.path, state, [head], message)


def commit_state(tree: Worktree, message: str) -> str:
    """The worktree's state committed on the session branch (if it differs); its new head."""
    head, tip = state_commit(tree, message)
    if tip != head:
        advance_session(tree, tip, head)
    return tip


def advance_session(tree: Worktree, tip: str, head: str) -> None:
    # Compare-and-swap: a commit the tool made meanwhile is never dropped.
    git(
        tree.path,
        "update-ref",
        "-m",
        "trace: commit the session's work",
        f"refs/heads/{tree.branch}",
        tip,
        head,
    )
    git(tree.path, "reset", "--quiet")  # the session's index now matches its new head


def is_ancestor(cwd: Path, older: str, newer: str) -> bool:
    return git(cwd, "merge-base", "--is-ancestor", older, newer, ok=(0, 1)).status == 0


def merge_tree(cwd: Path, ours: str, theirs: str) -> tuple[str, list[str]]:
    """The merged tree of two commits and the paths in conflict (none: it is clean)."""
    args = ("merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs)
    result = git(cwd, *args, ok=(0, 1))
    tree, *paths = nul_split(result.out)
    return tree, sorted(set(paths)) if result.status == 1 else []


def counts(cwd: Path, ours: str, theirs: str) -> tuple[int, int]:
    """``(ahead, behind)``: commits of ``ours`` not in ``theirs``, and the reverse."""
    text = git(cwd, "rev-list", "--left-right", "--count", f"{ours}...{theirs}").text
    ahead, behind = text.split()
    return int(ahead), int(behind)


def rebase_onto(tree: Worktree, onto: str, *, keep_conflicts: bool) -> list[str]:
    """Replay the session branch's own commits onto ``onto`` in its (clean) worktree.
    On conflicts returns the paths; the rebase is then aborted unless
    ``keep_conflicts``, which leaves it stopped for someone to resolve."""
    env = identity(tree.path) | {"GIT_EDITOR": "true"}
    done = git(tree.path, "rebase", "--quiet", "--no-autostash", onto, env=env, ok=(0, 1))
    if done.status == 0:
        return []
    found = unmerged(tree.path)
    if not keep_conflicts:
        git(tree.path, "rebase", "--abort")
    return found


def replay(checkout: Path, onto: str, tip: str) -> tuple[str | None, list[str]]:
    """``tip``'s own commits replayed onto ``onto`` in a scratch worktree (no branch
    moves): ``(new tip, [])``, or ``(None, conflicting paths)``."""
    with tempfile.TemporaryDirectory(prefix="trace-replay-") as scratch:
        path = Path(scratch) / "replay"
        git(checkout, "worktree", "add", "--quiet", "--detach", str(path), tip)
        try:
            env = identity(checkout) | {"GIT_EDITOR": "true"}
            done = git(path, "rebase", "--quiet", "--no-autostash", onto, env=env, ok=(0, 1))
            if done.status == 0:
                return resolve(path, "HEAD"), []
            found = unmerged(path)
            git(path, "rebase", "--abort")
            return None, found
        finally:
            git(checkout, "worktree", "remove", "--force", str(path))


def unmerged(worktree: Path) -> list[str]:
    """The paths git left in conflict in ``worktree``."""
    listed = git(worktree, "diff", "--name-only", "--diff-filter=U", "-z").out
    return sorted(set(nul_split(listed)))


def in_progress(tree: Worktree) -> str | None:
    """``merge`` or ``rebase`` while one is stopped on conflicts in the worktree."""
    if rev_path(tree.path, "MERGE_HEAD").exists():
        return "merge"
    if rev_path(tree.path, "rebase-merge").exists() or rev_path(tree.path, "rebase-apply").exists():
        return "rebase"
    return None


def rev_path(worktree: Path, name: str) -> Path:
    return Path(git(worktree, "rev-parse", "--path-format=absolute", "--git-path", name).text)
