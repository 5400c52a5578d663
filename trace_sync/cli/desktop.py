"""``trace app``: the app in a window (or a browser tab), with this machine's bridge.

The app is the web app the server serves, served by this process on a free
loopback port behind a one-time launch secret (trace_app/launch_gate.py), and
opened as an app window of a Chromium-family browser found on PATH
(trace_app/window.py); closing the window stops the app. With none found, or
with ``--web``, it opens in the default browser and runs until Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from trace_sync.bridge.local import LocalBridge
from trace_sync.cli.client import CliError
from trace_sync.contract.local_files import read_token_file
from trace_sync.settings import Settings

if TYPE_CHECKING:
    from trace_app.launch_gate import LaunchGate

#: A window that closes this soon after it opened most likely failed to start.
EARLY_EXIT_S = 5.0


def run(args: argparse.Namespace) -> None:
    try:
        from trace_app.desktop_notifications import DesktopNotifications
        from trace_app.ui.shell import Origin
        from trace_app.window_server import WindowServer
    except ImportError as exc:
        raise CliError(f"the app needs: pip install 'trace-control[desktop]' ({exc})") from exc
    app_dir = Path(platformdirs.user_data_dir("trace-app"))
    saved = _saved(app_dir)
    settings = Settings.from_env()
    server = args.server or os.environ.get("TRACE_URL") or saved.get("server") or settings.base_url
    token = (
        args.token
        or os.environ.get("TRACE_TOKEN")
        or saved.get("token")
        or read_token_file(settings.data_dir)
    )
    bridge = _AppBridge(settings, app_dir, enabled=not args.no_bridge)
    signed = {"server": server, "token": token}

    def signed_in(server: str, token: str) -> None:
        _save(app_dir, server, token)
        signed.update(server=server, token=token)  # a window opened later starts signed in
        bridge.start(server, token)

    # What newly needs the person is raised as a system notification (Linux: D-Bus).
    news = DesktopNotifications()

    def origin() -> Origin:
        return Origin(
            signed["server"] or server,
            signed["token"],
            data_dir=app_dir,  # replicas: the app opens and works without the server
            remember=signed_in,
            on_inbox_news=news,
        )

    with _only_app(app_dir):
        if token:
            bridge.start(server, token)
        local = WindowServer(origin, on_stop=bridge.stop)
        asyncio.run(local.run(lambda url: _open(url, app_dir, args.web, local.gate)))


async def _open(url: str, app_dir: Path, web: bool, gate: LaunchGate) -> None:
    """The window (or tab) at the launch ``url``; returns when it closes."""
    from trace_app import window

    browser = None if web else window.find_browser()
    if browser is not None:
        await _window(browser, url, app_dir, gate)
        return
    if not web:
        names = ", ".join(window.BROWSERS)
        print(f"trace app: no Chromium-family browser on PATH ({names})", file=sys.stderr)
    print("trace app: opening in the default browser; Ctrl+C stops the app", file=sys.stderr)
    await window.browser_tab(url)


async def _window(browser: str, url: str, app_dir: Path, gate: LaunchGate) -> None:
    """An app window of ``browser``, sent to ``url`` by a private file (the launch
    secret stays off the command line, which every user can read)."""
    from trace_app import window

    profile = app_dir / "window"
    window.prepare_profile(profile)
    page = window.launch_file(profile, url)
    gate.on_launch = lambda: page.unlink(missing_ok=True)  # spent: the file goes
    argv = window.browser_command(browser, page.as_uri(), profile)
    log = app_dir / "window.log"
    print(f"trace app: serving {url.split('?')[0]} to a window of {browser}", file=sys.stderr)
    started = time.monotonic()
    try:
        code = await window.app_window(argv, log)
    finally:
        page.unlink(missing_ok=True)  # the window is gone (perhaps before it loaded it)
    if code != 0 and time.monotonic() - started < EARLY_EXIT_S:
        raise CliError(f"the window did not open ({browser} exited with {code}; see {log})")


@contextlib.contextmanager
def _only_app(app_dir: Path) -> Iterator[None]:
    """One app per user: a second would share the replicas, and its browser would hand
    its window to the first one's (one browser per profile) and exit at once."""
    app_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (app_dir / "app.lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise CliError(f"the app is already open (pid {lock.read().strip() or '?'})") from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield


class _AppBridge:
    """The bridge for the server the app is signed in to, chosen again at each sign-in
    (the person may sign in to another server than the one the app started with)."""

    def __init__(self, settings: Settings, app_dir: Path, *, enabled: bool) -> None:
        self.settings, self.app_dir, self.enabled = settings, app_dir, enabled
        self.current: LocalBridge | None = None

    def start(self, server: str, token: str) -> None:
        wanted = app_bridge(server, self.settings, self.app_dir, enabled=self.enabled)
        if self.current is None or self.current.data_dir != wanted.data_dir:
            self.stop()  # one this app started for the other server
            self.current = wanted
        self.current.start(server, token)

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()


def app_bridge(server: str, settings: Settings, app_dir: Path, *, enabled: bool) -> LocalBridge:
    """The app's bridge: the local server's bridge directory for the local
    server (so a bridge it already runs is used as it is), else the app's own."""
    local = server.rstrip("/") == settings.base_url.rstrip("/")
    data_dir = settings.data_dir / "bridge" if local else app_dir / "bridge"
    return LocalBridge(data_dir, enabled=enabled)


def _saved(app_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((app_dir / "credentials.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items() if k in ("server", "token")}


def _save(app_dir: Path, server: str, token: str) -> None:
    app_dir.mkdir(parents=True, exist_ok=True)
    path = app_dir / "credentials.json"
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # the token is a secret
    path.write_text(json.dumps({"server": server, "token": token}))
