"""Forking a session: a new worktree and branch starting from another's state.

The fork's branch grows from the source session's history (which grows from
the base branch), so it can be merged into the base later. When the state
forked from differs from that history's head, the fork starts with one
commit holding it, naming where it came from.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from trace_sync.bridge.git.checkpoints import checkpoint_commit, snapshot
from trace_sync.bridge.git.gitexec import commit_tree, resolve
from trace_sync.bridge.git.worktrees import Worktree, create_worktree


async def fork_worktree(
    source: Worktree, data_dir: Path, sid: str, slug: str, *, checkpoint: int | None = None
) -> Worktree:
    """A worktree for session ``sid`` with the files of ``checkpoint`` (default: the
    source worktree as it is now), on branch ``trace/<slug>`` with the same base."""
    start = await asyncio.to_thread(_start, source, sid, checkpoint)
    return await create_worktree(source.checkout, data_dir, sid, slug, source.base, start=start)


def _start(source: Worktree, sid: str, checkpoint: int | None) -> str:
    if checkpoint is None:
        state, parent = snapshot(source.path), resolve(source.path, "HEAD")
        origin = f"the state of session {source.sid}"
    else:
        commit = checkpoint_commit(source.checkout, source.sid, checkpoint)
        state, parent = (
            resolve(source.checkout, commit + "^{tree}"),
            resolve(source.checkout, commit + "^"),
        )
        origin = f"checkpoint {checkpoint} of session {source.sid}"
    if state == resolve(source.checkout, parent + "^{tree}"):
        return parent
    trailers = [f"Trace-Session: {sid}", f"Trace-Forked-From: {source.sid}"]
    if checkpoint is not None:
        trailers.append(f"Trace-Checkpoint: {checkpoint}")
    message = f"Fork of {origin}\n\n" + "\n".join(trailers) + "\n"
    return commit_tree(source.checkout, state, [parent], message)
