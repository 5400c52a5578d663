"""Reconnect storm: N clients on busy documents lose their connections and all
come back at once with edits of their own, Trace beside the Node reference.

    python bench/reconnect_storm.py [--n 1000] [--docs 1 10] [--rate 10]
                                    [--only trace|reference] [--rounds 3]

Both servers run as subprocesses on 127.0.0.1 and get the same harness
(``bench/fanout.py`` starts them; Trace's clients present tokens, the
reference checks none). Client ``i`` works on document ``i % docs``; a writer
per document appends markers like ``#000123#`` at ``--rate`` updates/s
throughout. For each number of documents:

* join: every client connects at once and sends sync step 1; it is synced
  once the server's step 2 arrives. Reported: joins/s (N over the time
  until the last one synced) and p50/p99/max time to synced.
* storm: every connection is cut at the same instant (the clients abort
  their sockets, as a network blip or a restarted proxy does), and every
  client reconnects at once, sending its step 1 and an edit it made while
  offline (``@000042@``, under its own Yjs client id). Reported: time from
  the cut until each client is synced again (p50/p99/max), joins/s, the
  server's CPU (user + system) in that window and its peak RSS.
* check: a fresh client loads each document: every writer marker sent and
  every client's edit must be there exactly once (nothing lost, nothing
  duplicated).

Then the Trace/reference ratios: joins/s (target >= 0.7) and storm p99 time
to synced (target <= 1.5), for each of ``--rounds`` rounds (fresh servers each,
who goes first alternating) and their median: join rates on a shared 2-core
machine moved by 2x between single runs (the reference's own too). Light
clients run in a process of their own (``bench/crowd.py``'s socket), so the
bench does not measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
import websockets
from pycrdt import Doc, Text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.crowd import SYNC_STEP2, BenchSocket, connect  # noqa: E402
from bench.fanout import Target, Usage, Writer, start_reference, start_trace  # noqa: E402
from trace_sync.contract import sync_protocol as p  # noqa: E402

WRITER_MARK = re.compile(r"#(\d{6})#")
CLIENT_MARK = re.compile(r"@(\d{6})@")
STEP1 = p.sync_step1(b"\x00")


# -- the clients' process ---------------------------------------------------------


class Clients:
    """Every client in the crowd process: its URL, its socket, when it synced."""

    def __init__(self, urls: list[str], edits: list[bytes]) -> None:
        self.urls, self.edits = urls, edits
        self.sockets: list[BenchSocket | None] = [None] * len(urls)
        self.synced: list[asyncio.Future[float]] = []

    async def join(self, with_edits: bool) -> list[float]:
        """Connect every client at once; return when each synced (perf_counter)."""
        loop = asyncio.get_running_loop()
        self.synced = [loop.create_future() for _ in self.urls]
        await asyncio.gather(*(self._join(i, with_edits) for i in range(len(self.urls))))
        return [f.result() for f in self.synced]

    async def _join(self, i: int, with_edits: bool) -> None:
        for _ in range(20):  # a refused or dropped connection is tried again, as clients do
            try:
                sock = await connect(self.urls[i], lambda s, m: self._on_binary(i, m))
                break
            except (ConnectionError, OSError):
                await asyncio.sleep(0.1)
        else:
            raise ConnectionError(f"client {i} could not reconnect")
        self.sockets[i] = sock
        sock.send(STEP1)
        if with_edits:
            sock.send(p.update_message(self.edits[i]))
        await asyncio.wait_for(self.synced[i], 120)

    def _on_binary(self, i: int, payload: bytes) -> None:
        if payload.startswith(SYNC_STEP2) and not self.synced[i].done():
            self.synced[i].set_result(time.perf_counter())

    def cut(self) -> float:
        """Abort every connection at once (no close handshake)."""
        for sock in self.sockets:
            if sock is not None and sock.transport is not None:
                sock.transport.abort()
        return time.perf_counter()

    def close(self) -> None:
        for sock in self.sockets:
            if sock is not None and sock.transport is not None:
                sock.transport.close()


def clients_main(conn: Connection, urls: list[str], edits: list[bytes]) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(conn, urls, edits))


async def _serve(conn: Connection, urls: list[str], edits: list[bytes]) -> None:
    clients = Clients(urls, edits)
    loop = asyncio.get_running_loop()
    while (command := await loop.run_in_executor(None, conn.recv)) != "quit":
        try:
            if command == "join":
                started = time.perf_counter()
                conn.send((started, await clients.join(with_edits=False)))
            elif command == "storm":
                started = clients.cut()
                await asyncio.sleep(0.1)  # y-websocket's first reconnect is after 100 ms
                conn.send((started, await clients.join(with_edits=True)))
        except Exception as exc:  # the bench reports it; the clients must not hang
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    clients.close()


# -- the bench ----------------------------------------------------------------------


@dataclass
class Phase:
    """One wave of joins: when it began and when each client synced."""

    name: str
    seconds: list[float]
    server_cpu_s: float = 0.0
    rss_mb: float = 0.0

    @property
    def joins_per_s(self) -> float:
        return len(self.seconds) / max(self.seconds)

    def pct(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return 1000 * ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]

    def line(self, target: str, n: int, docs: int) -> str:
        return (
            f"  {target:9} N={n:<5} docs={docs:<3} {self.name:5} {self.joins_per_s:7.0f} joins/s"
            f"  synced p50 {self.pct(0.5):7.0f} ms  p99 {self.pct(0.99):7.0f} ms"
            f"  max {self.pct(1.0):7.0f} ms  server cpu {self.server_cpu_s:5.2f} s"
            f"  rss {self.rss_mb:5.0f} MB"
        )


def client_edit(index: int) -> bytes:
    """What client ``index`` typed while offline, as a Yjs update of its own."""
    doc: Doc[Any] = Doc(client_id=1_000_000 + index)
    text = doc.get("clients", type=Text)
    text += f"@{index:06d}@"
    return doc.get_update()


def doc_url(target: Target, index: int, doc: int) -> str:
    """The URL client ``index`` uses for document ``doc`` (Trace: its own token)."""
    base = target.receiver_url(index)
    if target.name == "reference":
        return f"{base}-{doc}"
    path, _, query = base.partition("?")
    return f"{target.documents[doc]}?{query}"


async def ask(pipe: Connection, command: str) -> tuple[float, list[float]]:
    pipe.send(command)
    answer = await asyncio.to_thread(pipe.recv)
    if answer[0] == "error":
        raise RuntimeError(f"clients failed: {answer[1]}")
    return answer  # type: ignore[no-any-return]


async def phase(target: Target, pipe: Connection, command: str) -> Phase:
    server = psutil.Process(target.pid)
    usage, rss = Usage([target.pid]), server.memory_info().rss
    waiting = asyncio.create_task(ask(pipe, command))
    while not waiting.done():
        rss = max(rss, server.memory_info().rss)
        await asyncio.sleep(0.02)  # sampling memory until the clients answer
    started, synced = waiting.result()
    name = "join" if command == "join" else "storm"
    return Phase(name, [t - started for t in synced], usage.since()[0][0], rss / 2**20)


async def writing(writers: list[Writer], rate: int, stop: asyncio.Event) -> int:
    """Every writer appends a marker ``rate`` times a second until ``stop``."""
    sent = 0
    while not stop.is_set():
        for writer in writers:
            frames = writer.prepare(sent, 1)
            assert writer.sock is not None and writer.sock.transport is not None
            writer.sock.transport.write(frames[0])
        sent += 1
        await asyncio.sleep(1 / rate)
    return sent


async def check(target: Target, docs: int, n: int, sent: int) -> str:
    """Whether every document holds every marker exactly once."""
    problems = []
    for d in range(docs):
        text = await load_text(target, d)
        writes = Counter(int(m) for m in WRITER_MARK.findall(text))
        edits = Counter(int(m) for m in CLIENT_MARK.findall(text))
        want_edits = set(range(d, n, docs))
        if set(writes) != set(range(sent)) or set(writes.values()) != {1}:
            problems.append(f"doc {d}: {len(writes)}/{sent} writer updates")
        if set(edits) != want_edits or set(edits.values()) != {1}:
            problems.append(f"doc {d}: {len(edits)}/{len(want_edits)} client edits")
    return "nothing lost or duplicated" if not problems else "; ".join(problems)


async def load_text(target: Target, d: int) -> str:
    doc: Doc[Any] = Doc()
    async with websockets.connect(doc_url(target, 0, d), max_size=None) as ws:
        await ws.send(STEP1)
        while True:
            message = p.decode(await asyncio.wait_for(ws.recv(), 60))  # type: ignore[arg-type]
            if isinstance(message, p.SyncStep2):
                doc.apply_update(message.update)
                break
    return "".join(str(doc.get(name, type=Text)) for name in doc)


async def measure(target: Target, n: int, docs: int, rate: int) -> list[Phase]:
    urls = [doc_url(target, i, i % docs) for i in range(n)]
    edits = [client_edit(i) for i in range(n)]
    mine, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=clients_main, args=(theirs, urls, edits)
    )
    process.start()
    writers = [Writer() for _ in range(docs)]
    for d, writer in enumerate(writers):
        await writer.connect(doc_url(target, 0, d))
    stop = asyncio.Event()
    writes = asyncio.create_task(writing(writers, rate, stop))
    try:
        phases = [await phase(target, mine, "join"), await phase(target, mine, "storm")]
        for item in phases:
            print(item.line(target.name, n, docs), flush=True)
    finally:
        stop.set()
        sent = await writes
        mine.send("quit")
        await asyncio.to_thread(process.join, 30)
    await asyncio.sleep(1)  # the last writes reach the server
    print(
        f"  {target.name:9} N={n:<5} docs={docs:<3} check: {await check(target, docs, n, sent)}",
        flush=True,
    )
    return phases


async def start(name: str, workdir: Path, docs: int, n: int) -> Target:
    if name == "reference":
        return await start_reference(workdir)
    target = await start_trace(workdir, documents=docs, tokens=max(20, n // 20))
    return target


async def run(args: argparse.Namespace, workdir: Path) -> None:
    for docs in args.docs:
        ratios: list[tuple[float, float]] = []
        for r in range(args.rounds):
            # Alternating who goes first: a machine that slows down or speeds up
            # during the run favours neither server.
            order = ["reference", "trace"] if r % 2 == 0 else ["trace", "reference"]
            results: dict[str, list[Phase]] = {}
            for name in [n for n in order if not args.only or n in args.only]:
                target = await start(name, workdir / f"{name}-{docs}-{r}", docs, args.n)
                try:
                    results[name] = await measure(target, args.n, docs, args.rate)
                finally:
                    target.stop()
            if len(results) == 2:
                ratios.append(_ratios(results, args.n, docs, r))
        if ratios:
            joins, storms = sorted(j for j, _ in ratios), sorted(s for _, s in ratios)
            print(
                f"N={args.n} docs={docs}, median of {len(ratios)} rounds: joins/s with "
                f"authentication {joins[len(joins) // 2]:.2f}x the reference (target >= 0.7; "
                f"rounds {', '.join(f'{j:.2f}' for j in joins)}); storm p99 time to synced "
                f"{storms[len(storms) // 2]:.2f}x (target <= 1.5; rounds "
                f"{', '.join(f'{s:.2f}' for s in storms)})",
                flush=True,
            )


def _ratios(results: dict[str, list[Phase]], n: int, docs: int, r: int) -> tuple[float, float]:
    """This round's Trace/reference ratios: joins/s, and storm p99 time to synced."""
    (ours_join, ours_storm), (ref_join, ref_storm) = results["trace"], results["reference"]
    joins = ours_join.joins_per_s / ref_join.joins_per_s
    storm = ours_storm.pct(0.99) / ref_storm.pct(0.99)
    print(
        f"N={n} docs={docs} round {r + 1}: joins/s with authentication {joins:.2f}x the "
        f"reference (storm {ours_storm.joins_per_s / ref_storm.joins_per_s:.2f}x); "
        f"storm p99 time to synced {storm:.2f}x",
        flush=True,
    )
    return joins, storm


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--docs", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--rate", type=int, default=10, help="writer updates/s per document")
    parser.add_argument("--only", nargs="+", choices=["trace", "reference"])
    parser.add_argument(
        "--rounds", type=int, default=3, help="fresh server pairs per --docs, order alternating"
    )
    args = parser.parse_args()
    print(f"reconnect storm, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        await run(args, Path(workdir))


if __name__ == "__main__":
    asyncio.run(main())
