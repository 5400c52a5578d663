"""Server CPU with 0, 1, 4 and 16 browser tabs watching a terminal that prints 50 lines/s.

    python bench/terminal_tabs.py [--tabs 0,1,4,16] [--seconds 55] [--in-process | --apart]

Real headless Chromium tabs (``/usr/bin/chromium``) on the web app of a real
server subprocess: of one browser (one person's tabs, which share what they
read), or with ``--apart`` each signed in on its own (as different people's).
Each web tab's Flet app session runs inside that server, so the server's CPU
is what a tab costs. The terminal is the seeded session's
``t1``: a runtime in this process appends 5 coloured lines to its output every
100 ms, as a bridge's recorder does. Per step the tabs open the session's
terminal pane, settle, then the server's CPU time is read over ``--seconds`` (by
default the time from one seal of the terminal's window to the next).

``--in-process`` runs Flet app sessions (what each web tab runs in the server)
in this process beside an in-process server instead, without Chromium: lighter
on a busy machine; the figures are then this process's CPU.

Targets (issues 16 and 17): each added tab costs at most 5 % of the no-tab
server CPU; 16 tabs cost at most 1.5x one tab.

Then, in this process, the cost of emulating and drawing 1 KB of output as the
scrollback grows (0, 1000 and 4000 lines): target flat (ratio at most 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import psutil
from pycrdt import Map

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import Browser, Page, async_playwright  # noqa: E402

from tests.app.headless import Headless  # noqa: E402
from tests.app.seed import ScriptedRuntime, seed_data_dir  # noqa: E402
from tests.app.test_boundary import choose  # noqa: E402
from tests.app.test_browser import ARGS, CHROMIUM, accessible  # noqa: E402
from tests.conftest import eventually  # noqa: E402
from tests.support.live import serve  # noqa: E402
from tests.support.server_process import ServerProcess  # noqa: E402
from trace_app.terminal_screens import LiveScreen  # noqa: E402
from trace_app.ui.screen_view import ScreenView  # noqa: E402
from trace_app.ui.shell import Origin, ViewPlace  # noqa: E402
from trace_sync.bridge.terminals.output import DEFAULT_LIMITS  # noqa: E402
from trace_sync.docs.entries import TerminalInfo  # noqa: E402
from trace_sync.settings import Settings, sqlite_url  # noqa: E402

#: A terminal's live window: sealed past WINDOW characters (here also bytes), to KEPT.
WINDOW, KEPT = DEFAULT_LIMITS.window_bytes, DEFAULT_LIMITS.window_bytes // 4
LINE = "\x1b[32m{n:>6}\x1b[0m compiling src/module_{m}.rs \x1b[1;33mwarning\x1b[0m: unused\r\n"
#: From one seal to the next at 50 lines/s (about 55 s): each step's measuring time.
SEAL_PERIOD_S = (WINDOW - KEPT) / (50 * len(LINE.format(n=0, m=10)))


async def printing(runtime: ScriptedRuntime, stop: asyncio.Event) -> None:
    """50 lines/s into terminal t1, in flushes of 5 lines every 100 ms, its window
    sealed as a bridge's recorder seals it: past 256 KiB, all but the last 64 KiB.
    It starts half full, and a step measured for :data:`SEAL_PERIOD_S` sees every
    size the window takes between two seals once."""
    n = 0
    doc = runtime.io.doc
    text = doc.get("output", type=Map)["t1"]
    with doc.transaction(origin="bench"):
        while len(text) < (WINDOW + KEPT) // 2:
            text += "".join(LINE.format(n=n + i, m=(n + i) % 97) for i in range(5))
            n += 5
    while not stop.is_set():
        with doc.transaction(origin="bench"):
            text += "".join(LINE.format(n=n + i, m=(n + i) % 97) for i in range(5))
            if len(text) > WINDOW:  # ASCII: characters are bytes
                cut = str(text).index("\n", len(text) - KEPT) + 1
                del text[0:cut]
                terminals = doc.get("terminals", type=Map)
                info = dict(terminals["t1"])
                terminals["t1"] = info | {"sealed_chars": info.get("sealed_chars", 0) + cut}
        n += 5
        await asyncio.sleep(0.1)


async def open_tab(browser: Browser, url: str, sid: str, apart: bool) -> Page:
    """A tab: of one browser (the first tab signed in, the others share its cookie),
    or ``apart``, in a browser context of its own (its own sign-in and token)."""
    context = (
        browser.contexts[0]
        if browser.contexts and not apart
        else await browser.new_context(viewport={"width": 1280, "height": 800})
    )
    page = await context.new_page()
    page.set_default_timeout(180_000)  # a busy server answers slowly
    await page.goto(url)
    await accessible(page)
    await page.locator(f'[flt-semantics-identifier="session-{sid}"]').first.click(timeout=180_000)
    await page.locator('[flt-semantics-identifier="pane-terminal"]').first.click(timeout=180_000)
    return page


async def sessions_bench(steps: list[int], seconds: float) -> dict[int, float]:
    """The same with Flet app sessions in this process beside an in-process server (what a
    web tab runs in the server, minus the browser's websocket): this process's CPU."""
    cpu: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        seeded = await seed_data_dir(data, Path(tmp))
        settings = Settings(data_dir=data, database_url=sqlite_url(data / "trace.db"))
        async with serve(settings) as live, AsyncExitStack() as stack:
            token = (data / "local-token").read_text().strip()
            sid = seeded.seeded.sessions["Add email to users"]
            runtime = await stack.enter_async_context(ScriptedRuntime(live.url, sid, seeded.seeded))
            stop = asyncio.Event()
            writer = asyncio.create_task(printing(runtime, stop))
            apps: list[Headless] = []
            for count in steps:
                while len(apps) < count:
                    app = await stack.enter_async_context(Headless(Origin(live.url, token)))
                    apps.append(await watching(app, sid))
                await asyncio.sleep(8)
                before, start = psutil.Process().cpu_times(), time.monotonic()
                await asyncio.sleep(seconds)
                after, took = psutil.Process().cpu_times(), time.monotonic() - start
                used = after.user + after.system - before.user - before.system
                cpu[count] = used / took * 100
                print(f"{count:3} app sessions: process {cpu[count]:5.1f} % of a core", flush=True)
            stop.set()
            await writer
    return cpu


async def watching(app: Headless, sid: str) -> Headless:
    app.shell.go(ViewPlace("session", sid))
    await eventually(lambda: any(t.startswith("terminal") for t in app.texts()), within=60)
    await choose(app, "terminal")
    return app


def server_cpu(pid: int, seconds: float) -> float:
    process = psutil.Process(pid)
    before, start = process.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after, took = process.cpu_times(), time.monotonic() - start
    return (after.user + after.system - before.user - before.system) / took * 100


async def tabs_bench(steps: list[int], seconds: float, apart: bool) -> dict[int, float]:
    cpu: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        seeded = await seed_data_dir(Path(tmp) / "data", Path(tmp))
        server = ServerProcess(Path(tmp) / "data", extra_env={"TRACE_BRIDGE_LEASE_S": "600"})
        server.start()
        try:
            sid = seeded.seeded.sessions["Add email to users"]
            stop = asyncio.Event()
            async with ScriptedRuntime(server.url, sid, seeded.seeded) as runtime:
                writer = asyncio.create_task(printing(runtime, stop))
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    pages: list[Page] = []
                    for count in steps:
                        while len(pages) < count:
                            url = await sign_in(server) if apart or not pages else server.url
                            pages.append(await open_tab(browser, url, sid, apart))
                        await asyncio.sleep(8)  # settle: tabs drawn, scrollback filled
                        assert server.process is not None
                        print(f"{count:3} tabs: measuring", flush=True)
                        cpu[count] = await asyncio.to_thread(
                            server_cpu, server.process.pid, seconds
                        )
                        print(f"{count:3} tabs: server {cpu[count]:5.1f} % of a core", flush=True)
                    await browser.close()
                stop.set()
                await writer
        finally:
            if server.process is not None:
                server.stop(signal.SIGKILL)
    return cpu


async def sign_in(server: ServerProcess) -> str:
    async with httpx.AsyncClient(timeout=180) as http:  # the server is busy drawing tabs
        reply = await http.post(
            f"{server.url}/api/signin-links", headers={"Authorization": f"Bearer {server.token}"}
        )
    return str(reply.json()["url"])


def draw_cost_per_kb(scrollback: int, kilobytes: int = 64) -> float:
    """Seconds to emulate and draw 1 KB of output after ``scrollback`` lines."""
    live = LiveScreen(("bench", "s", "t"), TerminalInfo(id="t", title="t", kind="shell"))
    view = ScreenView()
    for n in range(scrollback):
        live.emulator.feed(LINE.format(n=n, m=n % 97))
    live.revision += 1
    view.draw(live)
    chunk = "".join(LINE.format(n=n, m=n % 97) for n in range(5))
    fed, start = 0, time.process_time()  # CPU time: a busy machine does not inflate it
    while fed < kilobytes * 1024:
        live.emulator.feed(chunk)
        live.revision += 1
        view.draw(live)
        fed += len(chunk.encode())
    return (time.process_time() - start) / (fed / 1024)


def report(cpu: dict[int, float]) -> None:
    print(f"\n{datetime.now(UTC):%Y-%m-%d} server CPU, % of one core (terminal at 50 lines/s)")
    base = cpu.get(0)
    one = cpu.get(1)
    for count, value in cpu.items():
        line = f"  {count:3} tabs: {value:5.1f} %"
        if base and count:
            per_tab = (value - base) / count / base * 100
            line += f"   per added tab: {per_tab:5.1f} % of no-tab (target <= 5)"
        if one and count > 1:
            line += f"   vs 1 tab: {value / one:4.2f}x"
            line += " (target <= 1.5)" if count == 16 else ""
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", default="0,1,4,16")
    parser.add_argument("--seconds", type=float, default=round(SEAL_PERIOD_S, 1))
    parser.add_argument(
        "--in-process", action="store_true", help="Flet app sessions in-process, no Chromium"
    )
    parser.add_argument(
        "--apart", action="store_true", help="each tab signed in on its own (no shared replicas)"
    )
    args = parser.parse_args()
    steps = [int(n) for n in args.tabs.split(",") if n]
    if args.in_process and args.apart:
        parser.error("--apart is for browser tabs")
    bench = sessions_bench if args.in_process else partial(tabs_bench, apart=args.apart)
    if steps:
        report(asyncio.run(bench(steps, args.seconds)))
    costs = {lines: min(draw_cost_per_kb(lines) for _ in range(3)) for lines in (0, 1000, 4000)}
    print("\nemulate + draw 1 KB of output (CPU time, best of 3), by scrollback already there:")
    for lines, cost in costs.items():
        print(f"  {lines:5} lines: {cost * 1e6:7.0f} us/KB")
    print(f"  ratio 4000/0: {costs[4000] / costs[0]:.2f} (target <= 1.5: flat)")


if __name__ == "__main__":
    main()
