"""The CLI's HTTP client: finds the server and token by itself in local mode."""

from __future__ import annotations

import argparse
import os
from typing import Any

import httpx

from trace_sync.services.local_mode import read_token_file
from trace_sync.settings import Settings


class CliError(Exception):
    """Something the person at the terminal must fix; printed without a traceback."""


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help="server URL (default: $TRACE_URL or the local server)")
    parser.add_argument("--token", help="API token (default: $TRACE_TOKEN or the local token)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


class ApiClient:
    def __init__(self, server: str, token: str) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self._http = httpx.Client(
            base_url=self.server, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ApiClient:
        settings = Settings.from_env()
        server = args.server or os.environ.get("TRACE_URL") or settings.base_url
        token = args.token or os.environ.get("TRACE_TOKEN") or read_token_file(settings.data_dir)
        if not token:
            raise CliError(
                f"no token: pass --token, set TRACE_TOKEN, or start the server once "
                f"so {settings.data_dir / 'local-token'} exists"
            )
        return cls(server, token)

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call("POST", path, body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach the server at {self.server}: {exc}") from exc
        if response.is_error:
            raise CliError(_error_message(response))
        return response.json()


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['message']} ({response.status_code} {error['code']})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"
