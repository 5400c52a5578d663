"""The docker host's disk limit (``TRACE_DOCKER_DISK``): a watch that holds on every
engine, and a hard cap on the container's own layer where the engine has one.

What a session writes lands in its directory, a bind mount of the server's disk
(session_dir.py: clone, worktree, ``HOME``), which no storage driver limits. So
the host measures that directory itself, every ``TRACE_DOCKER_DISK_CHECK_S``,
from the server's side: code in the container can neither hide what it wrote
nor stop the count (it could do both to a bridge that counted for it, as the
same user). A session over its limit is reported to the host's ``on_limit``
hook, and the session service pauses it as at a budget: its tool stops, its
files and output stay, and it can be resumed once space is freed (a resume
while still over is paused again at the next look). A soft limit: a fast
writer gets one interval's worth past it.

``--storage-opt size=`` caps the container's writable layer, only on engines
that have per-container quotas (:func:`layer_quota`); the image is mounted
read-only anyway, so it matters only to run options that make it writable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from adapters.hosts.session_dir import SessionDir
from trace_sync.bridge.git.worktrees import disk_usage
from trace_sync.bridge.hosts import LimitReached, OnLimit
from trace_sync.contract.errors import NotFound, TraceError

log = logging.getLogger(__name__)

#: What ``docker run`` says when the engine cannot honour ``--storage-opt size=``
#: (overlay2 on xfs without ``pquota``, btrfs without quotas, ...).
REFUSED = ("storage-opt", "storage opt", "quota")


def layer_quota(info: Mapping[str, Any]) -> bool:
    """Whether ``docker info`` names a storage driver with per-container size quotas:
    btrfs, zfs, or overlay2 on xfs (which also needs the ``pquota`` mount option, not
    shown there: a refused run is started again without, see :data:`REFUSED`)."""
    driver = info.get("Driver")
    if driver == "overlay2":
        status = {str(pair[0]): str(pair[1]) for pair in info.get("DriverStatus") or []}
        return status.get("Backing Filesystem") == "xfs"
    return driver in ("btrfs", "zfs")


def refused(message: str) -> bool:
    """Whether a failed ``docker run`` failed on its ``--storage-opt``."""
    return any(word in message.lower() for word in REFUSED)


def reason(used: int, limit: int) -> str:
    """What people read on the paused session."""
    return (
        f"disk limit of {size_text(limit)} reached (it uses {size_text(used)}): "
        "free space or raise TRACE_DOCKER_DISK"
    )


def size_text(count: int) -> str:
    """``10 GiB``, ``5.5 MiB``: binary units, as the setting reads them."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.1f}".removesuffix(".0") + f" {unit}"
    return f"{count} B"


async def over(root: Path, session_id: str, limit: int) -> LimitReached | None:
    """The session's directory measured against ``limit``; None if within it (or gone)."""
    try:
        used = await disk_usage(SessionDir(root, session_id).base)
    except NotFound:
        return None
    return LimitReached(session_id, reason(used, limit)) if used > limit else None


async def watch(
    root: Path,
    sessions: Callable[[], Collection[str]],
    limit: int,
    every_s: float,
    on_limit: OnLimit,
) -> None:
    """Every ``every_s``, each of ``sessions()`` over ``limit`` goes to ``on_limit``."""
    while True:
        await asyncio.sleep(every_s)
        for session_id in sorted(sessions()):
            reached = await over(root, session_id, limit)
            if reached is None:
                continue
            try:
                await on_limit(reached)
            except TraceError as exc:  # the store may be briefly unavailable: next look
                log.warning("a disk limit was not acted on: %s", exc,
                            extra={"session": session_id})  # fmt: skip
