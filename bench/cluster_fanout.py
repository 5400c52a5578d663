"""Cluster fan-out: receivers spread over three processes beside all on one.

    python bench/cluster_fanout.py [--n 100] [--rates 100 300 1000 2000 3000]
                                   [--seconds 3] [--rounds 3] [--crowd 1]

Three ``server.py`` processes form a cluster (a fresh PostgreSQL schema, a
private ``redis-server``). Two setups, each on a document of its own, with
the writer always on process 1:

* ``one``: N receivers on process 1 too (the single-process load; the process
  still publishes each update to Redis, as every cluster member does);
* ``spread``: N receivers round-robin over processes 1, 2 and 3, so two
  thirds of them get each update through Redis.

Both crowds join once and stay. Each round steps through the offered rates,
and at each rate runs the two setups back to back, in turns (one/spread, then
spread/one), so machine noise hits both alike. The clients are
``bench/fanout.py``'s (light receivers in processes of their own,
``bench/crowd.py``; the marker writer, ``bench/harness.py``). Per step:
delivered updates/s (reaching every receiver), p50/p99 latency over every
(receiver, update) pair, and each server's CPU (% of a core) in the step.

Target (issue 21): ``spread`` sustains >= 0.8x the update rate of ``one``
(sustained: the highest rate at which most rounds delivered every update at
>= 90 % of the offered rate), at a p99 no worse than 1.5x ``one``'s p99 at
that rate. Prints a table, the verdict and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from array import array
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cluster_setup import Cluster, cluster  # noqa: E402
from bench.crowd import Crowd  # noqa: E402
from bench.harness import NAN, Usage, Writer, summarise  # noqa: E402
from trace_sync.contract import sync_protocol as p  # noqa: E402

PROCESSES = 3


@dataclass
class Setup:
    name: str
    crowd: Crowd
    writer: Writer
    first: int = 0


async def step(cl: Cluster, setup: Setup, rate: int, seconds: float) -> dict[str, Any]:
    """One setup at one offered rate: what reached the receivers, and the CPU it took."""
    count = int(rate * seconds)
    await setup.crowd.watch(setup.first, count)
    calls = cl.redis_calls()
    servers = Usage(cl.pids())
    crowd = Usage([proc.pid for proc in setup.crowd.processes if proc.pid is not None])
    frames = setup.writer.prepare(setup.first, count)
    start = time.perf_counter()
    sent = await setup.writer.run(frames, rate)
    deadline = time.perf_counter() + 10
    while not setup.crowd.complete() and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)  # polling the crowd's reports under a deadline
    done = max(setup.crowd.completed) if setup.crowd.complete() else time.perf_counter()
    window = done - start
    busy = [round(cpu / window, 2) for cpu, _ in servers.since()]
    crowd_busy = max(cpu for cpu, _ in crowd.since()) / window
    calls = {k: n - calls.get(k, 0) for k, n in cl.redis_calls().items() if n > calls.get(k, 0)}
    answers = await setup.crowd.ask("results")
    times = [array("d", raw) for answer in answers for raw in answer[1]]
    setup.first += count
    drained = await publish_drained(cl)
    return summarise(sent, times, rate, seconds, start) | {
        "setup": setup.name,
        "rate": rate,
        "server_busy": busy,
        "crowd_busy": round(crowd_busy, 2),
        "closed": sum(answer[2] for answer in answers),
        "redis_calls": calls,
        "drain_s": round(drained, 2),
    }


async def publish_drained(cl: Cluster) -> float:
    """Wait (at most 60 s) until no process publishes any more, so a step's
    backlog does not hold up the next one: a process publishes every room's
    updates through one queue. Returns how long that took."""
    start, last = time.perf_counter(), -1
    while time.perf_counter() - start < 60:
        published = cl.redis_calls().get("xadd", 0)
        if published == last:
            break
        last = published
        await asyncio.sleep(0.5)  # polling Redis's counters under a deadline
    return time.perf_counter() - start - 0.5


def keeps_up(step: dict[str, Any]) -> bool:
    return bool(step["complete"] == 1.0 and step["delivered"] >= 0.9 * step["rate"])


def line(r: int, s: dict[str, Any]) -> str:
    flags = " HARNESS-BOUND" if s["crowd_busy"] > 0.9 else ""
    flags += f" {s['closed']} CLOSED" if s["closed"] else ""
    busy = " ".join(f"{100 * b:3.0f}%" for b in s["server_busy"])
    calls = s["redis_calls"]
    return (
        f"  round {r}  {s['setup']:6} offered {s['rate']:>5}/s  delivered {s['delivered']:7.0f}/s"
        f"  complete {100 * s['complete']:5.1f}%  p50 {s['p50_ms']:7.1f} ms"
        f"  p99 {s['p99_ms']:7.1f} ms  servers {busy}  crowd {100 * s['crowd_busy']:3.0f}%"
        f"  redis xadd {calls.get('xadd', 0)} xread {calls.get('xread', 0)}"
        f"  publish drained {s['drain_s']:.1f} s later{flags}"
    )


async def rounds(
    cl: Cluster, setups: list[Setup], args: argparse.Namespace
) -> list[dict[str, Any]]:
    steps = []
    for r in range(1, args.rounds + 1):
        for i, rate in enumerate(args.rates):
            order = setups if (r + i) % 2 else setups[::-1]
            pair = []
            for setup in order:
                found = await step(cl, setup, rate, args.seconds) | {"round": r}
                print(line(r, found), flush=True)
                pair.append(found)
            steps += pair
            if not any(keeps_up(s) for s in pair):
                break  # both saturated: higher rates only queue
    return steps


def sustained(steps: list[dict[str, Any]], name: str, rates: list[int]) -> int:
    """The highest rate at which ``name`` kept up in most rounds (0: none)."""
    best = 0
    for rate in rates:
        mine = [s for s in steps if s["setup"] == name and s["rate"] == rate]
        if 2 * sum(keeps_up(s) for s in mine) <= len(mine):
            break
        best = rate
    return best


def median(steps: list[dict[str, Any]], name: str, rate: int, key: str) -> float:
    values = [s[key] for s in steps if s["setup"] == name and s["rate"] == rate]
    return statistics.median(values) if values else NAN


def verdict(steps: list[dict[str, Any]], rates: list[int]) -> dict[str, Any]:
    one, spread = sustained(steps, "one", rates), sustained(steps, "spread", rates)
    both = min(one, spread)
    p99 = {name: median(steps, name, both, "p99_ms") for name in ("one", "spread")}
    rate_ratio = spread / one if one else NAN
    p99_ratio = p99["spread"] / p99["one"] if both else NAN
    return {
        "sustained": {"one": one, "spread": spread},
        "rate_ratio": round(rate_ratio, 2),
        "p99_at": both,
        "p99_ms": p99,
        "p99_ratio": round(p99_ratio, 2),
        "target_met": bool(rate_ratio >= 0.8 and p99_ratio <= 1.5),
    }


def table(steps: list[dict[str, Any]], rates: list[int]) -> None:
    print("\n| offered/s | setup | delivered/s (median) | p50 ms | p99 ms | kept up |")
    print("|---|---|---|---|---|---|")
    for rate in rates:
        for name in ("one", "spread"):
            mine = [s for s in steps if s["setup"] == name and s["rate"] == rate]
            if mine:
                kept = sum(keeps_up(s) for s in mine)
                print(
                    f"| {rate} | {name} | {median(steps, name, rate, 'delivered'):.0f}"
                    f" | {median(steps, name, rate, 'p50_ms'):.1f}"
                    f" | {median(steps, name, rate, 'p99_ms'):.1f} | {kept}/{len(mine)} |"
                )


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        cl = await stack.enter_async_context(cluster(workdir, PROCESSES, documents=2))
        step1 = p.sync_step1(b"\x00")
        spreads = {"one": [0] * args.n, "spread": [i % PROCESSES for i in range(args.n)]}
        setups = []
        for doc, (name, where) in enumerate(spreads.items()):
            urls = [cl.url(process, doc, i) for i, process in enumerate(where)]
            crowd = await stack.enter_async_context(Crowd(urls, args.crowd, step1))
            joined = await crowd.ask("join")
            print(f"  {name}: {sum(a[1] for a in joined)} receivers joined", flush=True)
            writer = Writer()
            await writer.connect(cl.url(0, doc, args.n))
            setups.append(Setup(name, crowd, writer))
        steps = await rounds(cl, setups, args)
    table(steps, args.rates)
    return {"steps": steps} | verdict(steps, args.rates)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100, help="receivers per setup")
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 300, 1000, 2000, 3000])
    parser.add_argument("--seconds", type=float, default=3.0, help="per step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--crowd", type=int, default=1, help="receiver processes per setup")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"cluster fan-out, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} at start, N={args.n} over {PROCESSES} processes",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as workdir:
        result = await run(args, Path(workdir))
    report(result, args, load[0])


def report(result: dict[str, Any], args: argparse.Namespace, load: float) -> None:
    one, spread = result["sustained"]["one"], result["sustained"]["spread"]
    p99 = result["p99_ms"]
    print(
        f"\nsustained: one {one}/s, spread {spread}/s -> {result['rate_ratio']:.2f}x"
        f" (target >= 0.8x); p99 at {result['p99_at']}/s: one {p99['one']:.1f} ms,"
        f" spread {p99['spread']:.1f} ms -> {result['p99_ratio']:.2f}x (target <= 1.5x):"
        f" target {'MET' if result['target_met'] else 'MISSED'}",
        flush=True,
    )
    steps = [
        {k: round(x, 2) if isinstance(x, float) else x for k, x in s.items()}
        for s in result["steps"]
    ]
    head: dict[str, Any] = {
        "bench": "cluster_fanout",
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
    }
    head |= {"load": [round(load, 1), round(os.getloadavg()[0], 1)]}
    head |= {"n": args.n, "seconds": args.seconds, "rounds": args.rounds}
    print(json.dumps(head | result | {"steps": steps}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
