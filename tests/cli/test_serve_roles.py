"""``trace serve --role``: a ``sync`` process serves the API and no page, a ``web``
process the page and no API (nor any database), and ``web`` without the API's
address is refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server_process import ROOT, running_server


def test_web_without_the_api_url_is_refused_in_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, TRACE_DATA_DIR=str(tmp_path), TRACE_LOCAL_BRIDGE="0")
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--role", "web"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0 and len(output.splitlines()) == 1, output
    assert "TRACE_API_URL" in output and "--api-url" in output


def test_sync_serves_the_api_and_web_the_page_that_talks_to_it(tmp_path: Path) -> None:
    with running_server(tmp_path / "sync", {"TRACE_ROLE": "sync"}) as sync:
        page = httpx.get(f"{sync.url}/session/x", timeout=10)
        assert page.status_code == 404 and page.json()["error"]["code"] == "not_found"
        me = httpx.get(f"{sync.url}/api/me", headers={"Authorization": f"Bearer {sync.token}"})
        assert me.status_code == 200
        web_env = {"TRACE_ROLE": "web", "TRACE_API_URL": sync.url}
        with running_server(tmp_path / "web", web_env) as web:
            page = httpx.get(f"{web.url}/session/x", timeout=10)
            assert page.headers["content-type"].startswith("text/html")
            assert httpx.get(f"{web.url}/api/me", timeout=10).status_code == 404
            assert httpx.get(f"{web.url}/healthz", timeout=10).status_code == 200  # the balancer's
            assert not (tmp_path / "web" / "trace.db").exists()  # it opened no database
