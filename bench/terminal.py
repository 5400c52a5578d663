"""Terminal output: 50 MB of PTY output -> the ``io`` document -> 10 remote viewers.

    python bench/terminal.py [--mb 50] [--viewers 10] [--runs 3]

The program is ``cat`` of a generated file of build-log-like text with ANSI
colours and some non-ASCII characters. Each run first measures the raw PTY
read throughput of that ``cat`` (our reader, nothing recorded), then runs it
again as a :class:`~trace_sync.bridge.terminals.terminal.Terminal` recorded into
``session/<sid>/io`` of a real server subprocess, through SyncClients with a
runtime token. The viewers (SyncClients in a separate process, as remote
viewers would be) follow ``output``; a viewer has seen the final bytes when
the terminal shows ``exited`` and its ``sealed_chars`` plus its window add up
to the whole output. Viewer-side throughput = output bytes / time until the
last viewer saw them, reported as a ratio to the raw read throughput (target
>= 0.5). Afterwards a fresh client reports the ``io`` document size (bounded
by the live window), and the segments plus the window are checked to be
exactly the output. Every loop is bounded; all traffic stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from pycrdt import Map

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server_process import ServerProcess  # noqa: E402
from trace_sync.bridge.sessions.log_segments import SyncLogSegments, entries  # noqa: E402
from trace_sync.bridge.terminals.pty_process import PtyProcess  # noqa: E402
from trace_sync.bridge.terminals.terminal import Terminal  # noqa: E402
from trace_sync.client.sync_client import SyncClient  # noqa: E402
from trace_sync.docs.entries import SegmentRef  # noqa: E402
from trace_sync.docs.layouts import SESSION_IO  # noqa: E402
from trace_sync.docs.typed import read_array, root_of  # noqa: E402
from trace_sync.services.accounts import AccountService  # noqa: E402
from trace_sync.store import Store  # noqa: E402
from trace_sync.store.records import TokenKind  # noqa: E402

TERMINAL = "bench"
WORDS = ["compiling", "linking", "src/main.rs", "tests", "passed", "warning", "error", "✓", "→"]
COLOURS = ["\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[1;34m", "\x1b[2m"]


def make_output(path: Path, megabytes: int) -> None:
    """Build-log-like lines: timestamps, coloured levels, progress counters."""
    rng = random.Random(1)
    lines, size, n = [], 0, 0
    while size < megabytes * 1_000_000:
        n += 1
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        colour = rng.choice(COLOURS)
        line = f"[{n:08d}] {colour}{rng.choice(['INFO', 'WARN', 'DEBUG'])}\x1b[0m {words}"
        lines.append(line)
        size += len(line.encode()) + 1
    path.write_text("\n".join(lines) + "\n")


async def raw_read(path: Path) -> tuple[bytes, float]:
    """All the PTY output of ``cat path`` read as fast as our reader goes."""
    chunks = []
    start = time.monotonic()
    async with PtyProcess(["cat", str(path)], cwd=path.parent) as pty:
        while chunk := await pty.read():
            chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - start


# -- the viewers (a separate process) ---------------------------------------------


async def viewers(url: str, name: str, token: str, count: int, total_chars: int) -> None:
    seen: dict[int, float] = {}
    clients = [SyncClient(url, name, token) for _ in range(count)]
    loop = asyncio.get_running_loop()
    for index, client in enumerate(clients):
        # A document cannot be read while its transaction ends: look right after.
        client.doc.observe(
            lambda _event, i=index, c=client: loop.call_soon(check, c, i, total_chars, seen)
        )
        await client.__aenter__()
    for client in clients:
        await client.wait_synced(60)
    print("ready", flush=True)
    deadline = time.monotonic() + 600
    while len(seen) < count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)  # the observers record; this only waits for them
    print(json.dumps({"seen": list(seen.values()), "size": len(clients[0].doc.get_update())}))
    for client in clients:
        await client.__aexit__(None, None, None)


def check(client: SyncClient, index: int, total_chars: int, seen: dict[int, float]) -> None:
    info = client.doc.get("terminals", type=Map).get(TERMINAL)
    if index in seen or not info or info.get("state") != "exited":
        return
    text = client.doc.get("output", type=Map).get(TERMINAL)
    if info["sealed_chars"] + len(str(text)) == total_chars:
        seen[index] = time.monotonic()


# -- one run -------------------------------------------------------------------------


async def new_session(server: ServerProcess) -> tuple[str, str]:
    """A session assigned to a fresh runtime; returns its id and the runtime's token."""
    async with Store(f"sqlite+aiosqlite:///{server.data_dir / 'trace.db'}") as store:
        [owner] = await store.accounts.list_users()
        [workspace] = await store.directory.list_workspaces()
        session = await store.sessions.create(workspace.id, owner.id)
        runtime_id = f"rt_{session.id}"
        issued = await AccountService(store).issue_token(
            owner.id, "bench runtime", kind=TokenKind.RUNTIME, runtime_id=runtime_id
        )
        await store.sessions.assign_runtime(session.id, runtime_id)
    return session.id, issued.token


async def recorded_run(
    server: ServerProcess, path: Path, expected: str, n_viewers: int
) -> dict[str, Any]:
    session_id, runtime_token = await new_session(server)
    io_name = f"session/{session_id}/io"
    watch = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--watch",
        server.url,
        io_name,
        server.token,
        str(n_viewers),
        str(len(expected)),
        stdout=asyncio.subprocess.PIPE,
    )
    assert watch.stdout is not None
    assert (await asyncio.wait_for(watch.stdout.readline(), 120)).strip() == b"ready"
    segments = SyncLogSegments(server.url, session_id, runtime_token)
    assert server.process is not None
    processes = {
        "bridge": psutil.Process(),
        "server": psutil.Process(server.process.pid),
        "viewers": psutil.Process(watch.pid),
    }
    async with SyncClient(server.url, io_name, runtime_token) as io:
        await io.wait_synced()
        cpu_before = {name: cpu_seconds(p) for name, p in processes.items()}
        start = time.monotonic()
        async with Terminal(
            io.doc, segments, TERMINAL, ["cat", str(path)], cwd=path.parent, kind="tool"
        ) as term:
            await term.wait()
        recorded = time.monotonic() - start
    result = json.loads(await asyncio.wait_for(watch.stdout.readline(), 600))
    cpu = {name: cpu_seconds(p) - cpu_before[name] for name, p in processes.items()}
    await watch.wait()
    if len(result["seen"]) < n_viewers:
        raise RuntimeError(f"only {len(result['seen'])} of {n_viewers} viewers saw the end")
    fresh_size, exact = await check_documents(server, io_name, expected, segments)
    return {
        "viewers_s": max(result["seen"]) - start,
        "recorded_s": recorded,
        "io_bytes": fresh_size,
        "exact": exact,
        "cpu": cpu,
    }


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def check_documents(
    server: ServerProcess, io_name: str, expected: str, segments: SyncLogSegments
) -> tuple[int, bool]:
    """The io size a newcomer downloads, and whether segments + window == the output."""
    async with SyncClient(server.url, io_name, server.token) as fresh:
        await fresh.wait_synced(60)
        size = len(fresh.doc.get_update())
        window = str(root_of(fresh.doc, SESSION_IO, "output")[TERMINAL])
        refs = read_array(fresh.doc, SESSION_IO, "segments")
    names = [ref.name for ref in refs if isinstance(ref, SegmentRef)]
    parts = []
    for name in names:
        async with SyncClient(server.url, segments.doc_name(name), server.token) as seg:
            await seg.wait_synced(60)
            parts.append("".join(entries(seg.doc)))
    return size, "".join(parts) + window == expected


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"terminal benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "output.txt"
        make_output(path, args.mb)
        server = ServerProcess(Path(workdir) / "trace")
        server.start()
        ratios = []
        try:
            for run in range(args.runs):
                raw, raw_s = await raw_read(path)
                expected = raw.decode(errors="replace")
                row = await recorded_run(server, path, expected, args.viewers)
                ratio = raw_s / row["viewers_s"]
                ratios.append(ratio)
                print(
                    f"  run {run + 1}: {len(raw) / 1e6:.1f} MB; raw PTY read "
                    f"{len(raw) / 1e6 / raw_s:.1f} MB/s; recorded in {row['recorded_s']:.2f} s; "
                    f"slowest of {args.viewers} viewers "
                    f"{len(raw) / 1e6 / row['viewers_s']:.1f} MB/s"
                    f" -> ratio {ratio:.2f}; io document {row['io_bytes'] / 1024:.0f} KiB; "
                    f"segments + window exact: {row['exact']}; CPU s "
                    + ", ".join(f"{k} {v:.2f}" for k, v in row["cpu"].items()),
                    flush=True,
                )
        finally:
            server.stop(signal.SIGKILL)
    print(
        f"ratio viewer/raw: median {statistics.median(ratios):.2f}, "
        f"min {min(ratios):.2f}, max {max(ratios):.2f} (target >= 0.5)"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--watch":
        url, name, token, count, total = sys.argv[2:7]
        asyncio.run(viewers(url, name, token, int(count), int(total)))
    else:
        asyncio.run(main())
