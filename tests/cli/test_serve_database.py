"""``trace serve`` with a database it cannot open says so in one line: what
failed, where (never the password), and which setting changes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server_process import ROOT, free_port


def serve(tmp_path: Path, database_url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TRACE_DATA_DIR=str(tmp_path), TRACE_DATABASE_URL=database_url)
    env |= {"TRACE_PORT": str(free_port()), "TRACE_LOCAL_BRIDGE": "0"}
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    closed = free_port()  # bound and released: nothing listens there
    url = f"postgresql+asyncpg://trace:hunter2@127.0.0.1:{closed}/tracedb"
    done = serve(tmp_path, url)
    assert done.returncode != 0
    output = (done.stdout + done.stderr).strip()
    assert len(output.splitlines()) == 1, output
    for expected in ("tracedb", f"127.0.0.1:{closed}", "TRACE_DATABASE_URL"):
        assert expected in output
    assert "hunter2" not in output and "Traceback" not in output


def test_a_missing_database_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    database = "no_such_database"
    url = f"postgresql+asyncpg://postgres:hunter2@127.0.0.1:5432/{database}"
    done = serve(tmp_path, url)
    output = (done.stdout + done.stderr).strip()
    if "refused" in output:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    assert done.returncode != 0 and len(output.splitlines()) == 1, output
    assert "does not exist" in output and database in output and "hunter2" not in output
    debug = serve(tmp_path, url, "--debug")
    assert "Traceback" in debug.stderr and "hunter2" not in debug.stderr
