"""Cluster soak: 3 processes x 200 documents, terminal-like output at 200 updates/s.

    python bench/cluster_soak.py [--seconds 60] [--documents 200] [--rate 200]
                                 [--processes 3] [--crowd 1]

Three ``server.py`` processes form a cluster (a fresh PostgreSQL schema, a
private ``redis-server``). Every document has one writer, connected to
process ``d % 3``, and one receiver on each process, so every process holds
every document and two of each document's three receivers get its updates
through Redis. The writers take turns, one update at a time, ``--rate``
updates/s in all (so at the defaults each document gets a line a second): a
line of build-log-like output with ANSI colours appended to the document's
Text, as a terminal would. Each line carries a marker (``#000042#``, the
document's line number); the writer notes when it sent it, the receivers
(``bench/crowd.py``, processes of their own) when it arrived.

Reported: latency p50/p99 over every (receiver, line) pair, apart for
receivers on the writer's process and on the others; updates missing at the
end; Redis ``used_memory`` before and after (and its peak, sampled each
second); each server's CPU (and Redis's) over the run, % of one core; rows
appended to the PostgreSQL update log (it should be one per update: each is
stored once, by the process it entered through). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
from pycrdt import Doc, Text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cluster_setup import Cluster, cluster  # noqa: E402
from bench.crowd import NOT_SEEN, OP_BINARY, Crowd, client_frame, connect  # noqa: E402
from bench.harness import Usage, paced, percentile  # noqa: E402
from tests.conftest import _raw_postgres  # noqa: E402
from trace_sync.contract import sync_protocol as p  # noqa: E402

WORDS = ["compiling", "linking", "src/main.rs", "tests", "passed", "warning", "✓", "→"]
COLOURS = ["\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[1;34m", "\x1b[2m"]


def output_frames(lines: int, document: int) -> list[bytes]:
    """A document's updates: ``lines`` lines appended one by one, framed to send."""
    doc: Doc[Any] = Doc()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    text = doc.get("out", type=Text)
    for k in range(lines):
        words = " ".join(WORDS[(k + document + j) % len(WORDS)] for j in range(6))
        colour = COLOURS[k % len(COLOURS)]
        text += f"{colour}[{k:5}]\x1b[0m {words} ({document}/{k}) #{k:06d}#\r\n"
    return [client_frame(OP_BINARY, p.update_message(u)) for u in updates]


async def writers(cl: Cluster, lines: int) -> list[tuple[Callable[[bytes], object], bytes]]:
    """Every line of every document, in sending order: document ``i % D``'s line ``i // D``."""
    documents = len(cl.documents)
    frames, writes = [], []
    for d in range(documents):
        sock = await connect(cl.url(d % len(cl.servers), d, d), lambda sock, payload: None)
        sock.send(p.sync_step1(b"\x00"))
        assert sock.transport is not None
        writes.append(sock.transport.write)
        frames.append(output_frames(lines, d))
    return [
        (writes[i % documents], frames[i % documents][i // documents])
        for i in range(lines * documents)
    ]


async def rows(cl: Cluster) -> int:
    """Rows in the cluster's update log."""
    conn = await asyncpg.connect(_raw_postgres())
    try:
        return int(await conn.fetchval(f'SELECT count(*) FROM "{cl.target.schema}".updates'))
    finally:
        await conn.close()


async def sample_redis(cl: Cluster, peak: list[int]) -> None:
    while True:
        peak[0] = max(peak[0], await asyncio.to_thread(cl.redis_memory))
        await asyncio.sleep(1)


def latencies(
    answers: list[tuple[Any, ...]],
    where: dict[str, tuple[int, int]],
    sent: array[float],
    cl: Cluster,
) -> tuple[list[float], list[float], list[list[float]], int]:
    """Sorted latencies of receivers on the writer's process and on the others,
    the latter also by sixth of the run (a tail that grows over the run, or a
    stall at its start, shows there), and how many (receiver, line) pairs
    never arrived."""
    documents, processes = len(cl.documents), len(cl.servers)
    local: list[float] = []
    remote: list[float] = []
    sixths: list[list[float]] = [[] for _ in range(6)]
    missing = 0
    for answer in answers:
        for raw, url in zip(answer[1], answer[3], strict=True):
            d, process = where[url]
            for k, got in enumerate(array("d", raw)):
                i = k * documents + d
                if got == NOT_SEEN:
                    missing += 1
                elif process == d % processes:
                    local.append(got - sent[i])
                else:
                    remote.append(got - sent[i])
                    sixths[6 * i // len(sent)].append(got - sent[i])
    return sorted(local), sorted(remote), [sorted(part) for part in sixths], missing


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    lines = max(1, int(args.rate * args.seconds / args.documents))
    async with AsyncExitStack() as stack:
        cl = await stack.enter_async_context(
            cluster(workdir, args.processes, documents=args.documents, tokens=40)
        )
        urls = [
            cl.url(process, d, d * args.processes + process)
            for d in range(args.documents)
            for process in range(args.processes)
        ]
        where = {url: divmod(i, args.processes) for i, url in enumerate(urls)}
        crowd = await stack.enter_async_context(Crowd(urls, args.crowd, p.sync_step1(b"\x00")))
        joined = await crowd.ask("join")
        print(f"  {sum(a[1] for a in joined)} receivers joined", flush=True)
        sends = await writers(cl, lines)
        await crowd.watch(0, lines)
        await asyncio.sleep(1)  # the writers' joins settle
        before = {"redis": cl.redis_memory(), "rows": await rows(cl)}
        peak = [before["redis"]]
        sampler = asyncio.create_task(sample_redis(cl, peak))
        calls = cl.redis_calls()
        usage = Usage([*cl.pids(), cl.redis.process.pid])  # type: ignore[union-attr]
        start = time.perf_counter()
        sent = await paced(sends, args.rate)
        deadline = time.perf_counter() + 10
        while not crowd.complete() and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # polling the crowd's reports under a deadline
        window = time.perf_counter() - start
        cpu = [round(c / window, 3) for c, _ in usage.since()]
        calls = {k: n - calls.get(k, 0) for k, n in cl.redis_calls().items() if n > calls.get(k, 0)}
        sampler.cancel()
        await asyncio.sleep(0.5)  # the last group commit lands
        after = {"redis": cl.redis_memory(), "rows": await rows(cl)}
        local, remote, sixths, missing = latencies(await crowd.ask("results"), where, sent, cl)
    both = sorted(local + remote)
    return {
        "updates": len(sends),
        "offered_rate": args.rate,
        "writer_rate": round(len(sends) / max(sent[-1] - start, 1e-9), 1),
        "pairs_missing": missing,
        "p50_ms": percentile(both, 0.5),
        "p99_ms": percentile(both, 0.99),
        "local_p50_ms": percentile(local, 0.5),
        "local_p99_ms": percentile(local, 0.99),
        "remote_p50_ms": percentile(remote, 0.5),
        "remote_p99_ms": percentile(remote, 0.99),
        "remote_p99_ms_by_sixth": [round(percentile(part, 0.99), 1) for part in sixths],
        "redis_used_memory": [before["redis"], after["redis"], peak[0]],
        "server_cpu": cpu[:-1],
        "redis_cpu": cpu[-1],
        "rows_appended": after["rows"] - before["rows"],
        "redis_calls": calls,
    }


def redis_calls(calls: dict[str, int]) -> str:
    return " / ".join(str(calls.get(name, 0)) for name in ("xadd", "xread", "xinfo|stream", "get"))


def ms(p50: float, p99: float) -> str:
    return f"{p50:.1f} / {p99:.1f} ms"


def report(r: dict[str, Any], args: argparse.Namespace, load: float) -> None:
    mb = [f"{m / 2**20:.1f}" for m in r["redis_used_memory"]]
    cpu = " / ".join(f"{100 * c:.0f}%" for c in r["server_cpu"])
    table = [
        (
            f"updates sent (writer kept {r['writer_rate']:.0f}/s of {r['offered_rate']}/s)",
            r["updates"],
        ),
        ("(receiver, update) pairs missing at the end", r["pairs_missing"]),
        ("latency p50 / p99, all receivers", ms(r["p50_ms"], r["p99_ms"])),
        ("receivers on the writer's process", ms(r["local_p50_ms"], r["local_p99_ms"])),
        ("receivers on the others (through Redis)", ms(r["remote_p50_ms"], r["remote_p99_ms"])),
        (
            "their p99 in each sixth of the run, ms",
            " / ".join(map(str, r["remote_p99_ms_by_sixth"])),
        ),
        ("Redis used_memory before / after / peak", f"{' / '.join(mb)} MB"),
        ("server CPU, % of a core, each process", cpu),
        ("redis-server CPU", f"{100 * r['redis_cpu']:.0f}%"),
        ("PostgreSQL rows appended", r["rows_appended"]),
        ("Redis calls: XADD / XREAD / XINFO / GET", redis_calls(r["redis_calls"])),
    ]
    print("\n| measure | value |\n|---|---|", flush=True)
    for name, value in table:
        print(f"| {name} | {value} |", flush=True)
    head: dict[str, Any] = {
        "bench": "cluster_soak",
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
    }
    head |= {"load": [round(load, 1), round(os.getloadavg()[0], 1)], "seconds": args.seconds}
    head |= {"documents": args.documents, "processes": args.processes}
    print(json.dumps(head | {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the writers write")
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--rate", type=int, default=200, help="updates/s over all documents")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--crowd", type=int, default=1, help="receiver processes")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"cluster soak, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load average"
        f" {load:.1f} at start: {args.processes} processes x {args.documents} documents,"
        f" {args.rate} updates/s for {args.seconds:.0f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as workdir:
        result = await run(args, Path(workdir))
    report(result, args, load)


if __name__ == "__main__":
    asyncio.run(main())
