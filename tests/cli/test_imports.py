"""The CLI and the bridge load no server: a script that polls ``trace`` pays for
a client's imports, not for Starlette, SQLAlchemy or Flet."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server_process import ROOT, ServerProcess, running_server

#: What only ``trace serve`` (the server) and ``trace app`` (Flet) may load.
SERVER_PARTS = {"starlette", "uvicorn", "fastapi", "flet", "flet_web"}
#: What the CLI itself never loads (the bridge keeps local state without them too).
STORE_PARTS = {"sqlalchemy", "aiosqlite", "asyncpg"}
#: What only the commands that need them load: documents and their sync (``watch``,
#: ``--follow``), pydantic models (``session start``), an event loop.
HEAVY_PARTS = {"pycrdt", "websockets", "pydantic", "asyncio"}
#: All of Trace that ``session list`` loads beyond what ``--help`` loads: the HTTP client.
LIST_ADDS = {
    "trace_sync.client",
    "trace_sync.client.api",
    "trace_sync.client.blocking",
    "trace_sync.contract.local_files",
}

_REPORT = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["trace", *sys.argv[1:]]
from {module} import {function}
{function}()
"""


def loaded(module: str, function: str, *args: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages a real run of ``module.function`` (with ``args``) imported."""
    code = _REPORT.format(module=module, function=function)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return {name.split(".")[0] for name in names} | {
        name for name in names if name.startswith("trace_sync.")
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("imports") / "data") as live:
        yield live


def ours(modules: set[str]) -> set[str]:
    return {name for name in modules if name.startswith("trace_sync.")}


def test_help_loads_no_server_no_store_no_flet() -> None:
    modules = loaded("trace_sync.cli", "main", "--help")
    assert not modules & (SERVER_PARTS | STORE_PARTS | HEAVY_PARTS | {"httpx"})
    # The parser and its vocabulary only: not even the HTTP client.
    assert all(m.startswith(("trace_sync.cli", "trace_sync.contract")) for m in ours(modules))


def test_listing_sessions_loads_only_the_client(server: ServerProcess) -> None:
    modules = loaded("trace_sync.cli", "main", "session", "list", "--json", env=server.env())
    assert "httpx" in modules  # it did talk to the server
    assert not modules & (SERVER_PARTS | STORE_PARTS | HEAVY_PARTS)
    assert ours(modules) - ours(loaded("trace_sync.cli", "main", "--help")) == LIST_ADDS


def test_the_bridge_loads_no_server() -> None:
    code = "import sys; import trace_sync.bridge.main; print(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    modules = {name.split(".")[0] for name in done.stdout.split()}
    assert done.returncode == 0, done.stderr
    assert not modules & SERVER_PARTS
    assert "trace_sync.api" not in done.stdout.split()


def test_a_server_command_still_loads_what_it_needs(tmp_path: Path) -> None:
    """``serve --help`` parses without the server; the handler itself is what loads it."""
    modules = loaded("trace_sync.cli", "main", "serve", "--help")
    assert not modules & SERVER_PARTS
