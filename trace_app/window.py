"""The desktop app's window: a Chromium-family browser in app mode (no tabs, no
address bar), with a profile of its own under the app's folder.

Flet's own desktop client (flet-desktop) downloads its Flutter build on first
run, which an offline machine cannot do; the browsers below are installed
already and draw the same web client the server serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import webbrowser
from pathlib import Path

#: Looked up on PATH in this order: Chromium first (what Linux distributions ship).
BROWSERS = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "microsoft-edge-stable",
    "brave-browser",
)
#: For tests only: also open Chromium's DevTools protocol on this loopback port, so
#: a test can read what the window shows. Never for real use: whoever reaches that
#: port drives the window, cookie and all.
DEBUG_PORT_ENV = "TRACE_APP_DEBUG_PORT"


def find_browser() -> str | None:
    """The first Chromium-family browser on PATH, else None."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def prepare_profile(profile: Path) -> None:
    """The window's own browser profile, private to the user, where the browser never
    offers to save the token typed into the sign-in form as a password."""
    default = profile / "Default"
    default.mkdir(parents=True, exist_ok=True, mode=0o700)
    profile.chmod(0o700)
    path = default / "Preferences"
    prefs: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(path.read_text())
        prefs = loaded if isinstance(loaded, dict) else {}
    prefs["credentials_enable_service"] = False  # "Save password?" after signing in
    own = prefs.get("profile")
    prefs["profile"] = {**(own if isinstance(own, dict) else {}), "password_manager_enabled": False}
    path.write_text(json.dumps(prefs))


def launch_file(profile: Path, url: str) -> Path:
    """A page, readable by this user only, that sends the window on to ``url`` (the
    launch secret's). The window opens this file: a command line is readable by
    every user of the machine, a file in the profile is not."""
    path = profile / "launch.html"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as page:
        page.write(f"<!doctype html><script>location.replace({json.dumps(url)})</script>")
    return path


def browser_command(browser: str, url: str, profile: Path) -> list[str]:
    """The argv that opens ``url`` as an app window with ``profile`` as its user data."""
    argv = [
        browser,
        f"--app={url}",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        # An app window of a local page: no sign-in sync, component downloads or
        # background requests (the machine may be offline), no keyring prompt.
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--password-store=basic",
        "--window-size=1280,800",
        "--class=Trace",
    ]
    if os.geteuid() == 0:
        argv.append("--no-sandbox")  # Chromium refuses to start as root without it
    debug_port = os.environ.get(DEBUG_PORT_ENV)
    if debug_port:
        if not debug_port.isdigit():
            raise ValueError(f"{DEBUG_PORT_ENV} must be a port number, not {debug_port!r}")
        argv.append(f"--remote-debugging-port={debug_port}")
    return argv


async def app_window(argv: list[str], log_path: Path) -> int:
    """Run the browser window until it closes (its exit code); closed with the app when
    cancelled. Its output (browsers are talkative) goes to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        return await process.wait()
    finally:
        if process.returncode is None:  # the app stops first (Ctrl+C): close the window too
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def browser_tab(url: str) -> None:
    """Open ``url`` in the default browser and wait until cancelled (Ctrl+C)."""
    if not await asyncio.to_thread(webbrowser.open, url):
        raise RuntimeError("no browser could be opened: open the address above in one")
    await asyncio.Event().wait()
