"""The fan-out bench's clients: a light websocket client, and a crowd of them
running in their own processes.

Receivers must cost far less than the server they measure, or the bench
measures itself. ``websockets`` spends tens of µs per frame in Python; this
client parses frame headers by hand (server frames are unmasked and, with
compression off, hold the update bytes as sent), answers pings, and finds
markers like ``#000123#`` in binary payloads (Yjs keeps inserted text raw,
also in merged or folded updates). The crowd lives in processes of its own,
so the writer's clock is not held up by it and its CPU can be measured apart
from the writer's: :class:`Crowd` reports how busy each process was, and a
step where a crowd process was near one full core is flagged harness-bound.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import re
import time
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, cast
from urllib.parse import urlsplit

MARKER = re.compile(rb"#(\d{6})#")
SYNC_STEP2 = b"\x00\x01"
OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x2, 0x8, 0x9, 0xA
NOT_SEEN = float("inf")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame. The key is random; masking is an XOR by ints."""
    size = len(payload)
    if size < 126:
        header = bytes([0x80 | opcode, 0x80 | size])
    elif size < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    key = os.urandom(4)
    stream = (key * (size // 4 + 1))[:size]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")
    return header + key + masked.to_bytes(size, "big")


class BenchSocket(asyncio.Protocol):
    """One websocket client; ``on_binary(self, payload)`` sees each binary message."""

    def __init__(self, url: str, on_binary: Callable[[BenchSocket, bytes], None]) -> None:
        self.url = urlsplit(url)
        self.on_binary = on_binary
        self.transport: asyncio.Transport | None = None
        self.upgraded = asyncio.get_running_loop().create_future()
        self.closed = False
        self._buffer = b""
        self._open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        key = base64.b64encode(os.urandom(16)).decode()
        target = self.url.path + (f"?{self.url.query}" if self.url.query else "")
        self.transport.write(
            f"GET {target} HTTP/1.1\r\nHost: {self.url.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def send(self, payload: bytes, opcode: int = OP_BINARY) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(client_frame(opcode, payload))

    def data_received(self, data: bytes) -> None:
        data = self._buffer + data if self._buffer else data
        if not self._open:
            head, sep, data = data.partition(b"\r\n\r\n")
            if not sep:
                self._buffer = head
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self._fail(head.split(b"\r\n")[0].decode(errors="replace"))
                return
            self._open = True
            self.upgraded.set_result(None)
        self._buffer = self._frames(data)

    def _frames(self, data: bytes) -> bytes:
        """Handle every whole frame in ``data``; return the incomplete rest."""
        pos, end = 0, len(data)
        while end - pos >= 2:
            opcode, size = data[pos] & 0x0F, data[pos + 1] & 0x7F
            start = pos + 2
            if size == 126:
                size, start = int.from_bytes(data[start : start + 2], "big"), start + 2
            elif size == 127:
                size, start = int.from_bytes(data[start : start + 8], "big"), start + 8
            if start + size > end:
                break
            self._frame(opcode, data[start : start + size])
            pos = start + size
        return data[pos:]

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_BINARY:
            self.on_binary(self, payload)
        elif opcode == OP_PING:
            self.send(payload, OP_PONG)
        elif opcode == OP_CLOSE:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def _fail(self, why: str) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"connection lost: {exc}"))


async def connect(url: str, on_binary: Callable[[BenchSocket, bytes], None]) -> BenchSocket:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, sock = await loop.create_connection(
        lambda: BenchSocket(url, on_binary), parts.hostname, parts.port
    )
    await sock.upgraded
    return sock


class Arrivals:
    """When each watched marker (index ``0 .. count - 1``) first reached one receiver.

    A frame holds a run of consecutive markers (the merged or folded updates
    of one writer), so it is noted as one ``(first, last, time)`` run, and
    spread out per marker only for the results: noting each marker in Python
    would cost the crowd more than the server spends sending at N=1000.
    """

    __slots__ = ("count", "runs", "seen_through", "gaps")

    def __init__(self, count: int) -> None:
        self.count = count
        self.runs: list[tuple[int, int, float]] = []
        #: Every marker up to this index has arrived.
        self.seen_through = -1
        self.gaps = False

    def note(self, lo: int, hi: int, now: float) -> bool:
        """Note markers ``lo .. hi``; True when this completes the receiver."""
        lo, hi = max(lo, 0), min(hi, self.count - 1)
        if hi <= self.seen_through or lo > hi:
            return False  # nothing new (or nothing watched)
        self.runs.append((lo, hi, now))
        if lo <= self.seen_through + 1 and not self.gaps:
            self.seen_through = hi
        else:  # out of order: rare, recount from every run
            self.gaps = True
            for run_lo, run_hi, _ in sorted(self.runs):
                if run_lo > self.seen_through + 1:
                    break
                self.seen_through = max(self.seen_through, run_hi)
        return self.seen_through == self.count - 1

    def times(self) -> array[float]:
        """Per marker, when it first arrived (``NOT_SEEN`` if it never did)."""
        times = array("d", [NOT_SEEN]) * self.count
        top = -1
        for lo, hi, at in self.runs:
            for i in range(lo, min(hi, top) + 1):  # overlaps what came before
                if times[i] == NOT_SEEN:
                    times[i] = at
            if hi > top:
                start = max(lo, top + 1)
                times[start : hi + 1] = array("d", [at]) * (hi + 1 - start)
                top = hi
        return times


class Receivers:
    """The crowd inside one process: records when each marker reached each receiver."""

    def __init__(self, report: Callable[[tuple[Any, ...]], None]) -> None:
        self.report = report
        self.sockets: list[BenchSocket] = []
        self.arrivals: dict[BenchSocket, Arrivals] = {}
        self.joined: dict[BenchSocket, asyncio.Future[None]] = {}
        self.first, self.waiting = 0, 0

    async def join(self, urls: list[str], step1: bytes) -> tuple[Any, ...]:
        """Connect every receiver; each is ready once the server answered its step 1."""
        started = time.perf_counter()
        for chunk in range(0, len(urls), 50):  # a burst of 1000 SYNs overflows accept queues
            await asyncio.gather(*(self._join(url, step1) for url in urls[chunk : chunk + 50]))
        return ("joined", len(self.sockets), time.perf_counter() - started)

    async def _join(self, url: str, step1: bytes) -> None:
        loop = asyncio.get_running_loop()
        sock = await connect(url, self.on_binary)
        self.sockets.append(sock)
        self.joined[sock] = loop.create_future()
        sock.send(step1)
        await asyncio.wait_for(self.joined[sock], 120)

    def watch(self, first: int, count: int) -> tuple[Any, ...]:
        self.first, self.waiting = first, len(self.sockets)
        self.arrivals = {sock: Arrivals(count) for sock in self.sockets}
        return ("watching",)

    def on_binary(self, sock: BenchSocket, payload: bytes) -> None:
        now = time.perf_counter()
        joined = self.joined.get(sock)
        if joined is not None and not joined.done() and payload.startswith(SYNC_STEP2):
            joined.set_result(None)
        arrivals = self.arrivals.get(sock)
        if arrivals is None or not (found := MARKER.findall(payload)):
            return
        lo, hi = int(found[0]) - self.first, int(found[-1]) - self.first
        # One frame never holds a marker twice, so k markers spanning exactly
        # k numbers are the whole run; anything else is noted one by one.
        runs = (
            [(lo, hi)] if hi - lo + 1 == len(found) else [(int(m) - self.first,) * 2 for m in found]
        )
        if any([arrivals.note(a, b, now) for a, b in runs]):
            self.waiting -= 1
            if not self.waiting:
                self.report(("complete", self.first, now))

    def results(self) -> tuple[Any, ...]:
        closed = sum(sock.closed for sock in self.sockets)
        times = [self.arrivals[sock].times().tobytes() for sock in self.sockets]
        urls = [sock.url.geturl() for sock in self.sockets]  # which row is whose
        return ("results", times, closed, urls)


def crowd_main(conn: Connection, urls: list[str], step1: bytes) -> None:
    """The body of one crowd process: obey commands from the bench until "quit"."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(conn, urls, step1))


async def _serve(conn: Connection, urls: list[str], step1: bytes) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    os.set_blocking(conn.fileno(), True)  # uvloop made it non-blocking; results are large
    crowd = Receivers(conn.send)
    while (command := await commands.get())[0] != "quit":
        try:
            if command[0] == "join":
                conn.send(await crowd.join(urls, step1))
            elif command[0] == "watch":
                conn.send(crowd.watch(*command[1:]))
            elif command[0] == "results":
                conn.send(crowd.results())
        except Exception as exc:  # the bench shows it; the crowd must not hang
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    for sock in crowd.sockets:
        if sock.transport is not None:
            sock.transport.close()


class Crowd:
    """``async with Crowd(urls, procs, step1)``: receivers spread over ``procs`` processes."""

    def __init__(self, urls: list[str], procs: int, step1: bytes) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self.processes = []
        for k in range(procs):
            mine, theirs = context.Pipe()
            process = context.Process(target=crowd_main, args=(theirs, urls[k::procs], step1))
            self._pipes.append(mine)
            self.processes.append(process)
        self._inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.completed: list[float] = []
        self.watched = -1

    async def __aenter__(self) -> Crowd:
        loop = asyncio.get_running_loop()
        for process, pipe in zip(self.processes, self._pipes, strict=True):
            process.start()
            loop.add_reader(pipe.fileno(), self._receive, pipe)
            os.set_blocking(pipe.fileno(), True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for process, pipe in zip(self.processes, self._pipes, strict=True):
            loop.remove_reader(pipe.fileno())
            with contextlib.suppress(OSError):
                pipe.send(("quit",))
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.kill()

    def _receive(self, pipe: Connection) -> None:
        try:
            message = pipe.recv()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(pipe.fileno())
            self._inbox.put_nowait(("error", "a crowd process died"))
            return
        if message[0] == "complete":
            if message[1] == self.watched:  # not a late report of an earlier step
                self.completed.append(message[2])
        else:
            self._inbox.put_nowait(message)

    async def ask(self, *command: Any, timeout: float = 300) -> list[tuple[Any, ...]]:
        """Send ``command`` to every crowd process and collect their answers."""
        for pipe in self._pipes:
            pipe.send(command)
        answers = [await asyncio.wait_for(self._inbox.get(), timeout) for _ in self._pipes]
        for answer in answers:
            if answer[0] == "error":
                raise RuntimeError(f"crowd process failed: {answer[1]}")
        return answers

    async def watch(self, first: int, count: int) -> None:
        """Record arrivals of markers ``first`` .. ``first + count - 1`` from now on."""
        self.watched, self.completed = first, []
        await self.ask("watch", first, count)

    def complete(self) -> bool:
        """Every receiver in every process holds every watched marker."""
        return len(self.completed) == len(self._pipes)
