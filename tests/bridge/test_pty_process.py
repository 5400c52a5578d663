"""Real programs in real PTYs: input, resize, pause/resume, exit codes, cleanup."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil
import pytest

from tests.conftest import eventually
from trace_sync.bridge.terminals.pty_process import PtyProcess
from trace_sync.contract.errors import NotFound, TooLarge

#: Prints a counter every 10 ms: output that only a stopped program stops giving.
TICKER = "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.01; done"


async def read_until(pty: PtyProcess, needle: bytes, seen: bytearray | None = None) -> bytes:
    """Read until ``needle`` has appeared (bounded by the test timeout)."""
    buffer = seen if seen is not None else bytearray()
    while needle not in buffer:
        chunk = await asyncio.wait_for(pty.read(), 20)
        assert chunk, f"the PTY closed before {needle!r}; got {bytes(buffer)[-300:]!r}"
        buffer += chunk
    return bytes(buffer)


async def read_to_end(pty: PtyProcess) -> bytes:
    chunks = []
    while chunk := await asyncio.wait_for(pty.read(), 20):
        chunks.append(chunk)
    return b"".join(chunks)


def all_stopped(sid: int) -> bool:
    try:
        return all(p.status() == psutil.STATUS_STOPPED for p in session_processes(sid))
    except psutil.NoSuchProcess:
        return False  # a short-lived child just ended: look again


def session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == sid:
                found.append(process)
        except OSError:
            continue
    return found


async def test_typed_input_reaches_the_program_and_its_exit_code_comes_back(
    tmp_path: Path,
) -> None:
    script = 'read line; echo "got:$line"; exit 3'
    async with PtyProcess(["sh", "-c", script], cwd=tmp_path) as pty:
        await pty.write("héllo\r".encode())
        output = await read_to_end(pty)
        assert await pty.wait() == 3
    assert "got:héllo" in output.decode()


async def test_the_program_runs_in_its_directory_with_its_environment(tmp_path: Path) -> None:
    here = str(tmp_path.resolve())  # noqa: ASYNC240 - a test's own temp dir
    env = {"PATH": os.environ["PATH"], "GREETING": "bonjour"}
    async with PtyProcess(
        ["sh", "-c", 'pwd; echo "$GREETING $TERM"'], cwd=tmp_path, env=env
    ) as pty:
        output = (await read_to_end(pty)).decode()
    assert here in output
    assert "bonjour xterm-256color" in output


async def test_a_resize_is_seen_by_the_program(tmp_path: Path) -> None:
    script = "stty size; read _; stty size"
    async with PtyProcess(["sh", "-c", script], cwd=tmp_path, cols=80, rows=24) as pty:
        seen = bytearray(await read_until(pty, b"24 80"))
        pty.resize(132, 40)
        await pty.write(b"\r")
        await read_until(pty, b"40 132", seen)
        assert (pty.cols, pty.rows) == (132, 40)


async def test_pause_stops_every_process_and_resume_continues_them(tmp_path: Path) -> None:
    # With job control on, the background job gets a process group of its own.
    script = f"set -m; ({TICKER}) & wait"
    async with PtyProcess(["bash", "-c", script], cwd=tmp_path) as pty:
        seen = bytearray(await read_until(pty, b"tick-3"))
        assert len({p.pid for p in session_processes(pty.pid)}) >= 2
        pty.pause()
        await eventually(lambda: all_stopped(pty.pid))
        with pytest.raises(TimeoutError):  # what was written before the stop drains, then nothing
            while True:
                seen += await asyncio.wait_for(pty.read(), 0.5)
        last = int(bytes(seen).rsplit(b"tick-", 1)[1].split(b"\r")[0])
        pty.resume()
        await read_until(pty, f"tick-{last + 1}\r".encode(), seen)


async def test_terminate_kills_a_program_that_ignores_sigterm_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    script = 'trap "" TERM HUP; sleep 300 & echo ready; while true; do sleep 1; done'
    pty = PtyProcess(["sh", "-c", script], cwd=tmp_path, grace=0.2)
    async with pty:
        await read_until(pty, b"ready")
        sid = pty.pid
        assert await pty.terminate() == -signal.SIGKILL
    await eventually(lambda: not session_processes(sid))


async def test_a_killed_program_reports_the_signal(tmp_path: Path) -> None:
    async with PtyProcess(["sh", "-c", "echo up; kill -9 $$"], cwd=tmp_path) as pty:
        await read_to_end(pty)
        assert await pty.wait() == -signal.SIGKILL


async def test_a_hangup_ends_the_program_even_when_the_bridge_ignores_hangups(
    tmp_path: Path,
) -> None:
    # A bridge started under nohup ignores SIGHUP; its terminals' programs must not.
    ignoring = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        async with PtyProcess(["sleep", "300"], cwd=tmp_path) as pty:
            assert await pty.terminate() == -signal.SIGHUP
    finally:
        signal.signal(signal.SIGHUP, ignoring)


async def test_without_argv_the_users_shell_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELL", "/bin/sh")
    async with PtyProcess(None, cwd=tmp_path) as pty:
        assert pty.argv == ["/bin/sh"]
        await pty.write(b"exit 7\r")
        await read_to_end(pty)
        assert await pty.wait() == 7


async def test_a_missing_directory_or_program_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no directory"):
        async with PtyProcess(["true"], cwd=tmp_path / "missing"):
            pass
    with pytest.raises(NotFound, match="no program"):
        async with PtyProcess(["no-such-program-here"], cwd=tmp_path):
            pass


async def test_many_terminals_leave_no_fds_and_no_zombies(tmp_path: Path) -> None:
    fds_before = len(os.listdir("/proc/self/fd"))
    pids = []
    for n in range(40):
        argv = ["sh", "-c", f"echo run-{n}"] if n % 2 else ["sleep", "30"]
        async with PtyProcess(argv, cwd=tmp_path, grace=1.0) as pty:
            pids.append(pty.pid)
            if n % 2:
                await read_until(pty, f"run-{n}".encode())
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert [child for child in psutil.Process().children() if child.pid in pids] == []


async def test_programs_do_not_get_the_runtimes_token_nor_oversized_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACE_TOKEN", "trace_t_secret_value")
    script = 'echo "token=[$TRACE_TOKEN]"; read _'
    async with PtyProcess(["sh", "-c", script], cwd=tmp_path) as pty:
        assert b"token=[]" in await read_until(pty, b"]")
        with pytest.raises(TooLarge):
            await pty.write(b"x" * (2 << 20))
