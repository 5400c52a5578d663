"""Fan-out: one writer, N receivers on one document, Trace beside the Node reference.

    python bench/fanout.py [--n 10 100 1000] [--rates 100 300 ...] [--seconds 3]
                           [--crowd 1] [--repeat 1] [--only trace|reference]

Both servers run as subprocesses on 127.0.0.1 and get the same harness. N
receivers join once (each counts once the server answered its sync step 1)
and stay for every step; a pycrdt writer then appends markers like
``#000123#`` at each offered rate in turn. Receivers are light clients in
their own process(es) (``bench/crowd.py``) that note when each marker first
reaches them. Per step it prints:

* delivered: updates that reached *every* receiver, per second; "sustained"
  is the highest step where all of them arrived at >= 90 % of the offered rate;
* p50 / p99 of the end-to-end latency over every (receiver, update) pair;
* server CPU (user + system) from the first update sent until the last one
  reached everyone, per update and per message (update x receiver), and how
  busy the server was in that window (100 % = one core);
* the busiest crowd process's CPU in the same window: a step where it nears
  100 % is flagged HARNESS-BOUND, since then the bench measures itself;
* the server's peak RSS.

Then the Trace/reference ratios. Every loop is bounded; traffic stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets
from pycrdt import Doc, Text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.crowd import MARKER, Crowd  # noqa: E402
from bench.harness import Usage, Writer, summarise  # noqa: E402
from tests.support.server_process import ServerProcess, free_port  # noqa: E402
from trace_sync.contract import sync_protocol as p  # noqa: E402
from trace_sync.services.accounts import AccountService  # noqa: E402
from trace_sync.store import Store  # noqa: E402

RATES = [10, 30, 100, 300, 600, 1200, 1800, 2500, 3600, 5000, 7200]
NAN = float("nan")


@dataclass
class Target:
    name: str
    url: str
    pid: int
    stop: Callable[[], object]
    #: URLs for receivers, round-robin: Trace limits connections per token, so
    #: a crowd of viewers gets a crowd of tokens, as real viewers would.
    receiver_urls: list[str] = field(default_factory=list)
    #: Trace's documents (URLs without a token); the reference takes any name.
    documents: list[str] = field(default_factory=list)
    #: Where Trace counts the update frames it handed to receivers (the
    #: reference sends one frame per update and receiver, and says nothing).
    metrics_url: str | None = None

    def frames_out(self, updates: int, n: int) -> float:
        """Update frames sent so far; for the reference, ``updates * n``."""
        if self.metrics_url is None:
            return float(updates * n)
        text = httpx.get(self.metrics_url, timeout=30).text
        found = re.search(r"^trace_sync_updates_out_total (\S+)$", text, re.MULTILINE)
        return float(found[1]) if found else NAN

    def receiver_url(self, index: int) -> str:
        return (
            self.receiver_urls[index % len(self.receiver_urls)] if self.receiver_urls else self.url
        )


async def start_trace(workdir: Path, documents: int = 1, tokens: int = 20) -> Target:
    """Trace with ``documents`` sessions' notes to sync and ``tokens`` user tokens."""
    server = ServerProcess(workdir / "trace")
    server.start()
    async with Store(f"sqlite+aiosqlite:///{server.data_dir / 'trace.db'}") as store:
        [owner] = await store.accounts.list_users()
        [workspace] = await store.directory.list_workspaces()
        sessions = [await store.sessions.create(workspace.id, owner.id) for _ in range(documents)]
        issued = [
            (await AccountService(store).issue_token(owner.id, "bench")).token
            for _ in range(tokens)
        ]
    docs = [f"{server.ws_url}/sync/session/{s.id}/notes" for s in sessions]
    doc = docs[0]
    assert server.process is not None
    target = Target(
        "trace",
        f"{doc}?token={server.token}",
        server.process.pid,
        lambda: server.stop(signal.SIGKILL),
    )
    target.receiver_urls = [f"{doc}?token={t}" for t in issued]
    target.documents = docs
    target.metrics_url = f"{server.url}/metrics"
    return target


def reference_dir() -> Path:
    source = ROOT / "bench" / "reference"
    target = ROOT / ".cache" / "bench-reference"
    if not (target / "node_modules" / "@y" / "websocket-server").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(source / name, target / name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=target,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return target


async def start_reference(workdir: Path) -> Target:
    port = free_port()
    script = reference_dir() / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port))
    process = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant; we never wait on it
        ["node", str(script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/probe"):
                break
        except OSError:
            await asyncio.sleep(0.05)

    def stop() -> None:
        process.kill()
        process.wait()

    return Target("reference", f"ws://127.0.0.1:{port}/bench", process.pid, stop)


@dataclass
class Step:
    """What one offered rate produced (times in seconds, CPU in µs)."""

    offered: int
    delivered: float
    complete: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_update: float
    cpu_us_per_message: float
    cpu_us_per_frame: float
    updates_per_frame: float
    server_busy: float
    server_sys: float
    crowd_busy: float
    writer_rate: float
    rss_mb: float
    closed: int

    def line(self, name: str, n: int) -> str:
        flags = []
        if self.crowd_busy > 0.9:
            flags.append("HARNESS-BOUND")
        if self.writer_rate < 0.95 * self.offered:
            flags.append("WRITER-BEHIND")
        if self.closed:
            flags.append(f"{self.closed} CLOSED")
        return (
            f"  {name:9} N={n:<5} offered {self.offered:>5}/s  delivered {self.delivered:7.0f}/s"
            f"  complete {100 * self.complete:5.1f}%  p50 {self.p50_ms:7.1f} ms"
            f"  p99 {self.p99_ms:7.1f} ms  cpu {self.cpu_us_per_update:6.0f} µs/update"
            f" {self.cpu_us_per_message:5.1f} µs/msg {self.cpu_us_per_frame:5.1f} µs/frame"
            f" ({100 * self.server_sys:2.0f}% sys, {self.updates_per_frame:4.1f} upd/frame)"
            f"  server {100 * self.server_busy:3.0f}%"
            f"  crowd {100 * self.crowd_busy:3.0f}%  rss {self.rss_mb:5.0f} MB  {' '.join(flags)}"
        ).rstrip()


async def one_step(
    target: Target, crowd: Crowd, writer: Writer, n: int, rate: int, seconds: float, first: int
) -> Step:
    count = int(rate * seconds)
    await crowd.watch(first, count)
    server = psutil.Process(target.pid)
    rss = server.memory_info().rss
    frames_before = target.frames_out(0, n)
    server_cpu = Usage([target.pid])
    crowd_cpu = Usage([proc.pid for proc in crowd.processes if proc.pid is not None])
    frames = writer.prepare(first, count)
    start = time.perf_counter()
    sent = await writer.run(frames, rate)
    writer_rate = count / max(sent[-1] - start, 1e-9)
    deadline = time.perf_counter() + 10
    while not crowd.complete() and time.perf_counter() < deadline:
        rss = max(rss, server.memory_info().rss)
        await asyncio.sleep(0.01)  # polling the crowd's reports under a deadline
    window = (max(crowd.completed) if crowd.complete() else time.perf_counter()) - start
    (server_s, server_sys), crowd_s = server_cpu.since()[0], [c for c, _ in crowd_cpu.since()]
    rss = max(rss, server.memory_info().rss)
    frames_out = target.frames_out(count, n) - frames_before
    answers = await crowd.ask("results")
    times = [array("d", raw) for answer in answers for raw in answer[1]]
    return summarise(sent, times, rate, seconds, start) | {
        "offered": rate,
        "cpu_us_per_update": 1e6 * server_s / count,
        "cpu_us_per_message": 1e6 * server_s / (count * n),
        "cpu_us_per_frame": 1e6 * server_s / max(frames_out, 1),
        "updates_per_frame": count * n / max(frames_out, 1),
        "server_busy": server_s / window,
        "server_sys": server_sys / max(server_s, 1e-9),
        "crowd_busy": max(crowd_s) / window,
        "writer_rate": writer_rate,
        "rss_mb": rss / 2**20,
        "closed": sum(answer[2] for answer in answers),
    }


async def converged(target: Target, markers: range) -> bool:
    """A fresh client syncing the whole document finds every marker sent."""
    doc: Doc[Any] = Doc()
    async with websockets.connect(target.url, max_size=None) as ws:
        await ws.send(p.sync_step1(b"\x00"))
        while True:
            message = p.decode(await asyncio.wait_for(ws.recv(), 60))  # type: ignore[arg-type]
            if isinstance(message, p.SyncStep2):
                doc.apply_update(message.update)
                break
    texts = "".join(str(doc.get(name, type=Text)) for name in doc)
    found = {int(m[1]) for m in MARKER.finditer(texts.encode())}
    return found == set(markers)


async def measure(target: Target, n: int, args: argparse.Namespace) -> list[Step]:
    urls = [target.receiver_url(i) for i in range(n)]
    steps: list[Step] = []
    first = 0
    async with Crowd(urls, args.crowd, p.sync_step1(b"\x00")) as crowd:
        joined = await crowd.ask("join")
        print(
            f"  {target.name:9} N={n:<5} {sum(a[1] for a in joined)} receivers joined in "
            f"{max(a[2] for a in joined):.1f} s over {args.crowd} crowd process(es)",
            flush=True,
        )
        writer = Writer()
        await writer.connect(target.url)
        for rate in args.rates:
            step = Step(**await one_step(target, crowd, writer, n, rate, args.seconds, first))
            first += int(rate * args.seconds)
            steps.append(step)
            print(step.line(target.name, n), flush=True)
            if not keeps_up(step):
                break  # saturated: higher rates only queue
    print(
        f"  {target.name:9} N={n:<5} full document holds every update sent: "
        f"{await converged(target, range(first))}",
        flush=True,
    )
    return steps


def keeps_up(step: Step) -> bool:
    """Every update reached every receiver, at (nearly) the offered rate."""
    return step.complete == 1.0 and step.delivered >= 0.9 * step.offered


def sustained(steps: list[Step]) -> Step:
    """The step with the highest rate the server kept up with."""
    good = [s for s in steps if keeps_up(s)]
    return max(good, key=lambda s: s.delivered) if good else steps[0]


def report(n: int, ours: list[Step], reference: list[Step]) -> tuple[float, float]:
    """The target: our sustained rate over the reference's, counting only steps
    where our p99 is no worse than the reference's p99 at its own best rate.
    Returns (plain ratio, ratio within the reference's p99; 0 if no step qualifies)."""
    ref, best = sustained(reference), sustained(ours)
    fair = [s for s in ours if keeps_up(s) and s.p99_ms <= ref.p99_ms]
    top = max(fair, key=lambda s: s.delivered) if fair else None
    plain, within = best.delivered / ref.delivered, top.delivered / ref.delivered if top else 0.0
    line = (
        f"N={n}: sustained trace {best.delivered:.0f}/s (p99 {best.p99_ms:.1f} ms), "
        f"reference {ref.delivered:.0f}/s (p99 {ref.p99_ms:.1f} ms) -> {plain:.2f}x"
    )
    if top:
        line += (
            f"; within the reference's p99: {top.delivered:.0f}/s "
            f"(p99 {top.p99_ms:.1f} ms) -> {within:.2f}x"
        )
    else:
        line += "; no step of ours within the reference's p99"
    print(line, flush=True)
    return plain, within


async def run(args: argparse.Namespace, workdir: Path) -> dict[int, tuple[float, float]]:
    ratios = {}
    starters = {"reference": start_reference, "trace": start_trace}
    for n in args.n:
        results = {}
        for name in args.only or starters:
            target = await starters[name](workdir / f"{n}-{time.monotonic_ns()}")
            try:
                results[target.name] = await measure(target, n, args)
            finally:
                target.stop()
        if len(results) == 2:
            ratios[n] = report(n, results["trace"], results["reference"])
    return ratios


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rates", type=int, nargs="+", default=RATES)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--crowd", type=int, default=1, help="receiver processes")
    parser.add_argument("--repeat", type=int, default=1, help="run everything this often")
    parser.add_argument("--only", nargs="+", choices=["trace", "reference"])
    args = parser.parse_args()
    print(f"fan-out benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores", flush=True)
    runs = []
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(args.repeat):
            runs.append(await run(args, Path(workdir)))
    if args.repeat > 1:
        for n in args.n:
            found = ", ".join(f"{r[n][0]:.2f}x ({r[n][1]:.2f}x)" for r in runs if n in r)
            print(f"N={n}: ratio (within the reference's p99) in each run: {found}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
