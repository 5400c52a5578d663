"""A running ``trace bridge`` picks up a changed ``tools.toml`` for its next tool run."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.conftest import eventually
from tests.hosting.test_restarts import bridged
from tests.support.server_process import ServerProcess
from tests.support.waiting_tools import follow, trace


async def echo_greeting(server: ServerProcess, checkout: Path) -> str:
    prompt = "echo greet-$GREETING"
    argv = ["session", "start", "--repo", str(checkout), "--tool", "shell", "-m", prompt]
    return str((await trace(server, *argv))["id"])


async def test_a_changed_tools_toml_reaches_the_next_run_without_a_restart(
    tmp_path: Path,
) -> None:
    config = tmp_path / "bridge" / "tools.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[shell.env]\nGREETING = "first"\n')
    async with bridged(tmp_path) as (server, bridge, checkout):
        assert bridge.process is not None
        pid = bridge.process.pid
        await trace(server, "repo", "add", str(checkout))
        first = await echo_greeting(server, checkout)
        async with follow(server, f"session/{first}/io") as io:
            await eventually(lambda: "greet-first" in io.lines(), within=60)
        config.write_text('[shell.env]\nGREETING = "second"\n')
        second = await echo_greeting(server, checkout)
        async with follow(server, f"session/{second}/io") as io:
            await eventually(lambda: "greet-second" in io.lines(), within=60)
        config.write_text("[shell.env\n")
        bridge.process.send_signal(signal.SIGHUP)
        await eventually(lambda: "keeping the last good tool settings" in bridge.output(), 30)
        third = await echo_greeting(server, checkout)
        async with follow(server, f"session/{third}/io") as io:
            await eventually(lambda: "greet-second" in io.lines(), within=60)
        assert bridge.process is not None and bridge.process.pid == pid
        assert bridge.process.poll() is None  # the same process all along
