"""``trace app``: the Trace desktop app (Flet) for the local server, or any server."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from trace_sync.cli.client import CliError
from trace_sync.services.local_mode import read_token_file
from trace_sync.settings import Settings


def register(commands: Any) -> None:
    parser = commands.add_parser("app", help="open the Trace desktop app")
    parser.add_argument("--server", help="server URL (default: $TRACE_URL or the local server)")
    parser.add_argument("--token", help="token (default: $TRACE_TOKEN, the saved one, or local)")
    parser.add_argument("--web", action="store_true", help="open it in the browser instead")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    try:
        import flet as ft

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
    origin = Origin(server, token, data_dir=app_dir, remember=lambda s, t: _save(app_dir, s, t))

    async def main(page: ft.Page) -> None:
        await Shell(page, origin).run()

    # flet-desktop fetches its Flutter client on first run (needs the internet once).
    view = ft.AppView.WEB_BROWSER if args.web else ft.AppView.FLET_APP
    assets = str(Path(__file__).parents[2] / "trace_app" / "assets")
    ft.run(main, view=view, assets_dir=assets, host="127.0.0.1", no_cdn=True)


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
