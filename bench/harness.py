"""Parts the fan-out benches share: the marker writer, CPU readings of server
processes, and the delivery/latency summary of a step.

Latency is end to end: the writer notes when it sent marker ``#000123#``
(``time.perf_counter``, the machine's monotonic clock, which every process
on it shares) and a receiver notes when that marker first reached it.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import Callable
from typing import Any

import psutil
from pycrdt import Doc, Text

from bench.crowd import NOT_SEEN, OP_BINARY, BenchSocket, client_frame, connect
from trace_sync.contract import sync_protocol as p

NAN = float("nan")


class Writer:
    """One pycrdt document appending markers, sent over a light client."""

    def __init__(self) -> None:
        self.doc: Doc[Any] = Doc()
        self._updates: list[bytes] = []
        self.doc.observe(lambda event: self._updates.append(event.update))
        self.sock: BenchSocket | None = None

    async def connect(self, url: str) -> None:
        self.sock = await connect(url, lambda sock, payload: None)
        self.sock.send(p.sync_step1(b"\x00"))

    def prepare(self, first: int, count: int) -> list[bytes]:
        """The step's updates, made and framed before the clock starts, so the
        send loop costs one write per update."""
        # A Text of its own per step: pycrdt's cost of appending to one Text
        # grows with its length (Yrs squashes the appends into one item), and
        # this bench measures fan-out, not that (see the README).
        text = self.doc.get(f"t{first}", type=Text)
        for i in range(count):
            text += f"#{first + i:06d}#"
        updates, self._updates = self._updates, []
        return [client_frame(OP_BINARY, p.update_message(u)) for u in updates]

    async def run(self, frames: list[bytes], rate: int) -> array[float]:
        """Send ``frames`` on schedule; return when each was sent."""
        assert self.sock is not None and self.sock.transport is not None
        write = self.sock.transport.write
        return await paced([(write, frame) for frame in frames], rate)


async def paced(sends: list[tuple[Callable[[bytes], object], bytes]], rate: int) -> array[float]:
    """Write each ``(write, frame)`` at ``rate`` per second; return when each was sent."""
    sent = array("d", [0.0]) * len(sends)
    start = time.perf_counter()
    i = 0
    while i < len(sends):
        # Everything due by now goes out in one go: a late wake-up is caught up at once.
        due = min(len(sends), int((time.perf_counter() - start) * rate) + 1)
        now = time.perf_counter()
        while i < due:
            write, frame = sends[i]
            write(frame)
            sent[i] = now
            i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
    return sent


class Usage:
    """CPU seconds of a set of processes between two readings."""

    def __init__(self, pids: list[int]) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.before = self.read()

    def read(self) -> list[tuple[float, float]]:
        return [tuple(proc.cpu_times()[:2]) for proc in self.processes]  # type: ignore[misc]

    def since(self) -> list[tuple[float, float]]:
        """(user + system, system) seconds per process."""
        pairs = zip(self.read(), self.before, strict=True)
        return [(u + k - u0 - k0, k - k0) for (u, k), (u0, k0) in pairs]


def summarise(
    sent: array[float], times: list[array[float]], rate: int, seconds: float, start: float
) -> dict[str, Any]:
    """Delivery and latency over every (receiver, marker) pair."""
    pairs = (zip(row, sent, strict=True) for row in times)
    latencies = sorted(got - at for pair in pairs for got, at in pair if got != NOT_SEEN)
    reached_all = [max(row[i] for row in times) for i in range(len(sent))]
    everyone = [t for t in reached_all if t != NOT_SEEN]
    elapsed = max(max(everyone, default=start) - start, seconds)
    return {
        "delivered": len(everyone) / elapsed,
        "complete": len(everyone) / max(len(sent), 1),
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else NAN,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else NAN,
    }


def percentile(ordered: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of sorted values, in ms (NaN when empty)."""
    return 1000 * ordered[int(fraction * (len(ordered) - 1))] if ordered else NAN
