"""A bridge's tools go with it: the kernel freezes a piped tool the instant its bridge
dies, and the bridge's guard process ends whatever carries the bridge's mark, however
the bridge ended — real processes, nothing faked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from tests.conftest import eventually
from trace_sync.bridge.guard import MARK_VARIABLE, Guard
from trace_sync.bridge.tools.process import ToolProcess

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
#: A stand-in tool: ignores SIGTERM and hang-ups, starts a child in a session of its own.
STUBBORN = ["sh", "-c", "trap '' TERM HUP; setsid sleep 300 & sleep 300"]
#: A stand-in tool that acts on the end of its input (as Claude Code takes a closed
#: permission stream for a refusal) in a child the parent-death signal does not freeze.
READER = ["sh", "-c", "exec 3<&0; (cat <&3 > /dev/null; : > saw-the-end) & wait"]

#: A stand-in bridge: runs a piped tool as the bridge does (with a guard when asked),
#: prints the tool's pid, then waits to be killed.
BRIDGE = """
import asyncio, contextlib, json, os, sys
from trace_sync.bridge.guard import Guard
from trace_sync.bridge.tools.process import ToolProcess

async def main(guarded):
    with Guard() if guarded else contextlib.nullcontext() as guard:
        env = dict(os.environ, **({guard.variable: guard.mark} if guard else {}))
        async with ToolProcess(json.loads(sys.argv[2]), os.getcwd(), env) as tool:
            print(tool.pid, flush=True)
            await asyncio.sleep(300)

asyncio.run(main(sys.argv[1] == "guarded"))
"""


def marked(mark: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK_VARIABLE) == mark:
                found.append(process)
        except psutil.Error:
            continue
    return found


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextmanager
def bridge(tmp_path: Path, how: str, argv: list[str]) -> Iterator[psutil.Process]:
    """A stand-in bridge running ``argv`` as its tool; the tool, once it runs."""
    started = subprocess.Popen(
        [sys.executable, "-c", BRIDGE, how, json.dumps(argv)],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    assert started.stdout is not None
    try:
        yield psutil.Process(int(started.stdout.readline()))
    finally:
        started.kill()
        started.wait(10)
        started.stdout.close()


def test_leaving_the_guard_ends_what_carries_its_mark_and_nothing_else() -> None:
    other = subprocess.Popen(["sleep", "300"])  # not the bridge's: left alone
    try:
        with Guard() as guard:
            env = dict(os.environ, **{guard.variable: guard.mark})
            tool = subprocess.Popen(STUBBORN, env=env, start_new_session=True)
            assert tool.poll() is None
            started = marked(guard.mark)
        assert tool.wait(10) < 0  # killed
        assert marked(guard.mark) == [] and all(gone(p) for p in started)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


async def test_a_killed_bridge_s_piped_tool_is_frozen_at_once(tmp_path: Path) -> None:
    with bridge(tmp_path, "unguarded", ["sleep", "300"]) as tool:
        pass  # leaving kills the bridge with SIGKILL
    try:
        await eventually(lambda: tool.status() == psutil.STATUS_STOPPED)
    finally:
        tool.kill()


async def test_a_killed_bridge_s_guard_ends_its_tool_and_all_it_started(tmp_path: Path) -> None:
    with bridge(tmp_path, "guarded", STUBBORN) as tool:
        mark = tool.environ()[MARK_VARIABLE]
        await eventually(lambda: len(marked(mark)) == 3)  # sh, its sleep, the setsid sleep
        started = marked(mark)
    await eventually(lambda: all(gone(p) for p in started))
    assert marked(mark) == []


async def test_a_killed_bridge_s_tool_never_sees_its_input_end(tmp_path: Path) -> None:
    with bridge(tmp_path, "guarded", READER) as tool:
        mark = tool.environ()[MARK_VARIABLE]
        await eventually(lambda: len(marked(mark)) == 3)  # sh, its subshell, cat
        started = marked(mark)
    await eventually(lambda: all(gone(p) for p in started))
    assert not (tmp_path / "saw-the-end").exists()  # the guard ended it first


async def test_a_tool_whose_bridge_closes_its_input_sees_the_end(tmp_path: Path) -> None:
    with Guard() as guard:
        env = dict(os.environ, **{guard.variable: guard.mark})
        async with ToolProcess(READER, tmp_path, env) as tool:
            await tool.close_stdin()  # how a bridge ends a tool: the guard's copy let go too
            await eventually(lambda: (tmp_path / "saw-the-end").exists(), within=10)
