"""Web app load: bytes and time of a first visit and a repeat visit in headless Chromium.

    python bench/web_load.py [--runs 3]

Against a real server subprocess on loopback (its own data dir). A warm-up load
first lets the server compress the client once (printed as "first serve"; the
compressed files are kept in the user's cache folder, so it is 0 s after the first
run). Then, per run, a new browser context loads the app (empty browser cache)
and loads it again in a second tab (repeat visit, same context). Printed: the
median bytes on the wire (encoded bodies plus headers, as Chromium counts them),
requests, the time to the app's first frame, and any host other than the server.
Targets: first load at most 5 MB, repeat visit at most 0.5 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from tests.support.page_load import Load, measure  # noqa: E402
from tests.support.server_process import running_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TARGETS = {"first load": 5_000_000, "repeat visit": 500_000}


async def bench(url: str, runs: int) -> dict[str, list[Load]]:
    loads: dict[str, list[Load]] = {name: [] for name in TARGETS}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        start = time.perf_counter()
        warm = await browser.new_context()
        await measure(warm, url)
        await warm.close()
        took = time.perf_counter() - start
        print(f"first serve (the server compresses the client once): {took:.1f} s")
        for _ in range(runs):
            context = await browser.new_context()
            loads["first load"].append(await measure(context, url))
            loads["repeat visit"].append(await measure(context, url))
            await context.close()
        await browser.close()
    return loads


def report(loads: dict[str, list[Load]], server_host: str) -> None:
    print(f"{'':14} {'bytes':>11} {'requests':>9} {'first frame':>12}   target")
    for name, runs in loads.items():
        size = statistics.median(load.transferred for load in runs)
        requests = statistics.median(len(load.requests) for load in runs)
        frame = statistics.median(load.first_frame_s for load in runs)
        mark = "" if size <= TARGETS[name] else "  over target"
        target = f"<= {TARGETS[name]:,}{mark}"
        print(f"{name:14} {size:11,.0f} {requests:9.0f} {frame:10.2f} s   {target}")
        others = set().union(*(load.hosts for load in runs)) - {server_host}
        if others:
            print(f"  requests to other hosts: {sorted(others)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        loads = asyncio.run(bench(server.url, runs))
    report(loads, "127.0.0.1")


if __name__ == "__main__":
    main()
