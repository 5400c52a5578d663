"""``trace app``: the app in a window (or a browser tab), with this machine's bridge."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import platformdirs

from trace_sync.bridge.local import LocalBridge
from trace_sync.cli.client import CliError
from trace_sync.contract.local_files import read_token_file
from trace_sync.settings import Settings


def run(args: argparse.Namespace) -> None:
    try:
        import flet as ft

        from trace_app.desktop_notifications import DesktopNotifications
        from trace_app.ui.shell import Origin, Shell
    except ImportError as exc:
        raise CliError(f"the app needs flet: pip install 'trace-control[desktop]' ({exc})") from exc
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
    bridge = app_bridge(server, settings, app_dir, enabled=not args.no_bridge)

    def signed_in(server: str, token: str) -> None:
        _save(app_dir, server, token)
        bridge.start(server, token)

    # What newly needs the person is raised as a system notification (Linux: D-Bus).
    news = DesktopNotifications()
    origin = Origin(server, token, data_dir=app_dir, remember=signed_in, on_inbox_news=news)

    async def main(page: ft.Page) -> None:
        await Shell(page, origin).run()

    if token:
        bridge.start(server, token)
    # flet-desktop fetches its Flutter client on first run (needs the internet once).
    view = ft.AppView.WEB_BROWSER if args.web else ft.AppView.FLET_APP
    assets = str(Path(__file__).parents[2] / "trace_app" / "assets")
    try:
        ft.run(main, view=view, assets_dir=assets, host="127.0.0.1", no_cdn=True)
    finally:
        bridge.stop()


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
