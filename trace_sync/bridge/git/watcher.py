"""Watching a worktree: a fresh change set whenever what changed is different.

File events come from ``watchfiles`` (inotify/FSEvents through a Rust
watcher) on the worktree and on the worktree's git dir (``HEAD`` and
``index``: commits and branch moves). Events inside ``.git`` directories of
the tree are ignored. A burst of events is one refresh; a quiet period of
``rescan`` seconds triggers one too, which catches what no event announces
(the base branch moving). Where file events are unavailable (the watch
limit reached, a file system without them) or when asked (``poll``), the
change set is recomputed every ``poll`` seconds instead: a git status is
cheap, and only a different result is yielded.

>>> async with watch_changes(tree) as change_sets:  # doctest: +SKIP
...     async for changes in change_sets:
...         apply_changes(io_doc, changes, origin="bridge")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from watchfiles import Change, awatch

from trace_sync.bridge.git.changes import ChangeSet, collect_changes
from trace_sync.bridge.git.gitexec import GitFailed, out
from trace_sync.bridge.git.worktrees import Worktree

log = logging.getLogger(__name__)

#: Seconds between refreshes when file events are unavailable.
FALLBACK_POLL = 0.5
#: Git dir files whose change can change the change set.
_GIT_FILES = frozenset({"HEAD", "index", "ORIG_HEAD"})


@asynccontextmanager
async def watch_changes(
    tree: Worktree, *, rescan: float = 30.0, poll: float | None = None
) -> AsyncIterator[AsyncIterator[ChangeSet]]:
    """An iterator of change sets: the current one first, then each that differs.

    A failure of the file watcher is raised by the iterator (or on exit).
    """
    worktree, gitdir = await asyncio.to_thread(_watched, tree.path)
    dirty, stop = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(_listen(worktree, gitdir, dirty, stop, rescan, poll))
    await asyncio.sleep(0)  # the listener's first step starts watching: no edit slips by
    sets = _change_sets(tree, dirty, listener)
    try:
        yield sets
    finally:
        stop.set()
        await sets.aclose()
        await asyncio.wait({listener})
        failure = None if listener.cancelled() else listener.exception()
    if failure is not None:
        raise failure


async def _listen(
    worktree: Path,
    gitdir: Path,
    dirty: asyncio.Event,
    stop: asyncio.Event,
    rescan: float,
    poll: float | None,
) -> None:
    if poll is None:
        try:
            await _watch(worktree, gitdir, dirty, stop, rescan)
            return
        except OSError as exc:
            log.warning(
                "no file events for a worktree; polling git instead",
                extra={"worktree": str(worktree), "error": str(exc), "every": FALLBACK_POLL},
            )
            poll = FALLBACK_POLL
    while not stop.is_set():
        dirty.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll)


async def _watch(
    worktree: Path, gitdir: Path, dirty: asyncio.Event, stop: asyncio.Event, rescan: float
) -> None:
    async for _ in awatch(
        worktree,
        gitdir,
        watch_filter=_Filter(worktree, gitdir),
        debounce=400,
        step=30,
        stop_event=stop,
        rust_timeout=int(rescan * 1000),
        yield_on_timeout=True,  # a quiet period is a rescan too
    ):
        dirty.set()


async def _change_sets(
    tree: Worktree, dirty: asyncio.Event, listener: asyncio.Task[None]
) -> AsyncGenerator[ChangeSet, None]:
    last: ChangeSet | None = None
    while True:
        fresh = await _read(tree)
        if fresh is not None and fresh != last:
            last = fresh
            yield fresh
        if not await _signalled(dirty, listener):
            return
        dirty.clear()


async def _read(tree: Worktree) -> ChangeSet | None:
    """The change set, or None when git failed to read a tree that changed under it
    (a file listed, then gone): that change is an event too, so it is read again."""
    try:
        return await collect_changes(tree)
    except GitFailed as exc:
        log.info("the worktree changed while git read it", extra={"error": str(exc)})
        return None


async def _signalled(dirty: asyncio.Event, listener: asyncio.Task[None]) -> bool:
    """Wait for an event; False once the listener has stopped (its error raised)."""
    waiter = asyncio.ensure_future(dirty.wait())
    try:
        await asyncio.wait({waiter, listener}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if listener.done():
        listener.result()
        return False
    return True


class _Filter:
    def __init__(self, worktree: Path, gitdir: Path) -> None:
        self.worktree = worktree
        self.gitdir = gitdir

    def __call__(self, change: Change, raw: str) -> bool:
        path = Path(raw)
        if path.is_relative_to(self.gitdir):
            return path.name in _GIT_FILES
        if path.is_relative_to(self.worktree):
            parts = path.relative_to(self.worktree).parts
            return bool(parts) and ".git" not in parts
        return False


def _watched(worktree: Path) -> tuple[Path, Path]:
    gitdir = out(worktree, "rev-parse", "--path-format=absolute", "--git-dir")
    return worktree.resolve(), Path(gitdir).resolve()
