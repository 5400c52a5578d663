"""A loop over Redis calls stops when its task is cancelled, whatever redis-py does.

redis-py (8.1) sometimes returns normally from a command cancelled midway
(redis/redis-py#2028's class of bug): the cancellation is swallowed, and a
loop that goes back to waiting (a queue, the next read) would wait forever,
hanging the server's shutdown. Every such loop calls :func:`stop_if_cancelled`
at the top of each turn.
"""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Raise ``CancelledError`` if this task was asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
