"""``trace app`` without a Chromium-family browser (or with ``--web``): the app opens in
the default browser (here a stand-in named by ``$BROWSER`` that notes the address)
and runs until Ctrl+C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually
from tests.support.server_process import ROOT, from_a_terminal


def start_app(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``trace app`` with no Chromium on PATH and a default browser that notes the URL."""
    opened = tmp_path / "opened"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    browser = bin_dir / "default-browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    git = shutil.which("git")
    assert git is not None  # the bridge's modules load GitPython, which wants it on PATH
    (bin_dir / "git").symlink_to(git)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACE_")}
    env.update(
        PATH=str(bin_dir),  # git only: no chromium, chrome, edge or brave to find
        BROWSER=str(browser),
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "home" / "data"),
        XDG_CACHE_HOME=str(tmp_path / "home" / "cache"),
        TRACE_DATA_DIR=str(tmp_path / "no-server"),
    )
    with (tmp_path / "stderr").open("w") as told:
        process = subprocess.Popen(
            [sys.executable, "-m", "trace_sync.cli", "app", "--no-bridge", *flags],
            env=env, cwd=ROOT, stderr=told, preexec_fn=from_a_terminal,
        )  # fmt: skip
    return process, opened


@pytest.mark.parametrize("flags", [(), ("--web",)])
async def test_the_default_browser_opens_it_and_ctrl_c_stops_it(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    process, opened = start_app(tmp_path, *flags)
    try:
        await eventually(opened.exists, within=60)
        [launch] = opened.read_text().split()
        async with httpx.AsyncClient(timeout=60) as tab:
            first = await tab.get(launch)  # as the browser's tab does: cookie, then "/"
            assert first.status_code == 200 and "trace_window" in tab.cookies
            page = await tab.get(launch.split("?")[0])
            assert page.status_code == 200 and "<html" in page.text.lower()
        assert process.poll() is None  # no window to wait for: it runs on
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130
        told = (tmp_path / "stderr").read_text()
        assert "Ctrl+C stops the app" in told
        assert ("no Chromium-family browser on PATH" in told) == (not flags)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
