"""The client is small to load: the CLI and the app pay for no server part."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_PARTS = (
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "fastapi",
    "flet",
    "trace_sync.services",
    "trace_sync.store",
)


def test_importing_the_client_loads_no_server_part() -> None:
    probe = (
        "import json, sys, trace_sync.client; "
        f"print(json.dumps([m for m in {SERVER_PARTS!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []
