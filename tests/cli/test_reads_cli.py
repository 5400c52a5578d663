"""Reading what a session shows from the CLI and plain HTTP (issue 15): a real
server subprocess, a runtime writing the session's io and log documents over
/sync, and ``trace`` commands run as a person or a script would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Array, Map, Text

from tests.cli.test_local_mode import trace
from tests.cli.test_sessions_cli import ok, ok_json, runtime_for
from tests.support.git import commit_all, git, make_repo, write
from tests.support.server_process import ROOT, ServerProcess, running_server
from trace_sync.client.sync_client import SyncClient


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data") as live:
        yield live


NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC).isoformat()


def _entry(i: int, text: str) -> dict[str, Any]:
    return {"id": f"m{i}", "kind": "assistant_text", "at": NOW, "text": text}


async def _start(server: ServerProcess, checkout: Path, *extra: str) -> str:
    await asyncio.to_thread(ok, server, "repo", "add", str(checkout))
    started = await asyncio.to_thread(
        ok_json, server, "session", "start", "--repo", "shop", "--tool", "shell", "-m", "go", *extra
    )
    return str(started["id"])


async def _runtime_writes(server: ServerProcess, sid: str, token: str, checkpoint: str) -> None:
    """A sealed transcript segment of 2 entries and a live window of 2; a tool
    terminal whose first 6 characters are sealed; a changed file; usage; a checkpoint."""
    async with SyncClient(server.url, f"session/{sid}/log/t-1", token) as log:
        await log.wait_synced()
        log.doc.get("entries", type=Array).extend([_entry(0, "sealed zero"), _entry(1, "one")])
        await log.flush()
    async with SyncClient(server.url, f"session/{sid}/log/term1-1", token) as log:
        await log.wait_synced()
        log.doc.get("entries", type=Array).extend(["$ make", "\n"])
        await log.flush()
    async with SyncClient(server.url, f"session/{sid}/io", token) as io:
        await io.wait_synced()
        with io.doc.transaction(origin="runtime"):
            io.doc.get("segments", type=Array).extend(
                [
                    {"name": "t-1", "kind": "transcript", "first": 0, "count": 2, "at": NOW},
                    {
                        "name": "term1-1",
                        "kind": "terminal",
                        "terminal_id": "term1",
                        "first": 0,
                        "count": 7,
                        "at": NOW,
                    },
                ]
            )
            transcript = io.doc.get("transcript", type=Array)
            transcript.extend([_entry(2, "two"), _entry(3, "All tests pass")])
            usage = {"id": "u1", "kind": "usage", "at": NOW, "input_tokens": 10}
            transcript.append(usage | {"output_tokens": 5, "cost_usd": 0.000084})
            terminal = {"id": "term1", "title": "shell", "kind": "tool", "sealed_chars": 7}
            io.doc.get("terminals", type=Map)["term1"] = terminal
            io.doc.get("output", type=Map)["term1"] = Text("ok 12 tests\n")
            io.doc.get("files", type=Map)["app.py"] = {
                "path": "app.py",
                "status": "modified",
                "added": 1,
                "removed": 0,
                "diff": "--- a/app.py\n+++ b/app.py\n+print('hi')\n",
            }
            io.doc.get("checkpoints", type=Array).append(
                {"n": 1, "ref": f"refs/trace/checkpoints/{sid}/1", "commit": checkpoint, "at": NOW}
            )
            io.doc.get("usage", type=Map).update(
                {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.000084}
            )
        await io.flush()


def _checkpoint_commit(checkout: Path) -> str:
    """A commit adding ``app.py`` on a side branch, as a checkpoint would be."""
    git(checkout, "checkout", "-q", "-b", "side")
    write(checkout, {"app.py": "print('hi')\n"})
    commit_all(checkout, "checkpoint")
    commit = git(checkout, "rev-parse", "HEAD")
    git(checkout, "checkout", "-q", "main")
    return commit


async def _until(check: Any, timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.1)  # polling a condition under a deadline


async def test_every_read_from_the_command_line(server: ServerProcess, tmp_path: Path) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    commit = _checkpoint_commit(checkout)
    sid = await _start(server, checkout)
    await _runtime_writes(server, sid, await runtime_for(server, sid), commit)

    items = await asyncio.to_thread(ok_json, server, "session", "transcript", sid)
    assert [i["n"] for i in items] == [0, 1, 2, 3, 4]
    assert items[0]["entry"]["text"] == "sealed zero" and items[3]["entry"]["id"] == "m3"
    text = await asyncio.to_thread(ok, server, "session", "transcript", sid)
    assert text.splitlines()[:4] == ["sealed zero", "one", "two", "All tests pass"]

    output = await asyncio.to_thread(ok, server, "session", "output", sid)
    assert output == "$ make\nok 12 tests\n"  # the sealed segment, then the live window
    chunks = await asyncio.to_thread(ok_json, server, "session", "output", sid)
    assert [(c["offset"], c["sealed"]) for c in chunks] == [(0, True), (6, True), (7, False)]

    [terminal] = await asyncio.to_thread(ok_json, server, "session", "terminal", sid)
    assert (terminal["id"], terminal["kind"], terminal["sealed_chars"]) == ("term1", "tool", 7)
    for acting in (("terminal", sid, "open"), ("merge", sid)):
        refused = await asyncio.to_thread(trace, server, "session", *acting)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr  # no bridge online

    [changed] = await asyncio.to_thread(ok_json, server, "session", "files", sid)
    assert (changed["path"], changed["status"], changed["diff"]) == ("app.py", "modified", None)
    diff = await asyncio.to_thread(ok, server, "session", "diff", sid, "app.py")
    assert "+print('hi')" in diff
    missing = await asyncio.to_thread(trace, server, "session", "diff", sid, "nope.py")
    assert missing.returncode == 1 and "has not changed" in missing.stderr

    checkpoints = await _until(lambda: ok_json(server, "session", "checkpoints", sid))
    assert [(c["n"], c["commit"]) for c in checkpoints] == [(1, commit)]
    [added] = await asyncio.to_thread(ok_json, server, "session", "diff", sid, "--checkpoint", "1")
    assert added["path"] == "app.py" and added["status"] == "added" and added["added"] == 1
    assert "+print('hi')" in added["diff"]

    timeline = await asyncio.to_thread(ok_json, server, "session", "timeline", sid)
    assert timeline[0]["kind"] == "session.started"
    assert "session.started" in await asyncio.to_thread(ok, server, "session", "timeline", sid)

    [by_tool] = await _until(lambda: ok_json(server, "usage", "--by", "tool"))
    assert (by_tool["key"], by_tool["sessions"], by_tool["input_tokens"]) == ("shell", 1, 10)
    assert by_tool["cost_usd"] == pytest.approx(0.000084)
    assert "$0.000084" in await asyncio.to_thread(ok, server, "usage", "--by", "member")
    [day] = await asyncio.to_thread(ok_json, server, "usage", "--by", "day")
    assert (day["key"], day["output_tokens"]) == ("2026-12-01", 5)
    assert "$0.000084" in await asyncio.to_thread(ok, server, "session", "list")


def test_workspace_members_and_runtimes_from_the_command_line(server: ServerProcess) -> None:
    renamed = ok_json(server, "workspace", "rename", "Shop team")
    assert renamed[0]["name"] == "Shop team"
    ok(server, "user", "add", "bea", "--role", "member")
    assert ok_json(server, "member", "role", "bea", "viewer")[0]["role"] == "viewer"
    roles = {m["name"]: m["role"] for m in ok_json(server, "member", "list")}
    assert roles["bea"] == "viewer"
    refused = trace(server, "member", "role", "nobody", "admin")
    assert refused.returncode == 1 and "not a member" in refused.stderr
    assert ok_json(server, "runtime", "list") == []
    unknown = trace(server, "runtime", "grant", "rt_nope")
    assert unknown.returncode == 1 and "no runtime" in unknown.stderr


def test_runtime_grants_from_the_command_line(server: ServerProcess) -> None:
    registered = httpx.post(
        f"{server.url}/api/runtimes",
        json={"instance_id": "laptop-1", "name": "olgas-laptop"},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert registered.status_code == 201, registered.text
    rid = registered.json()["runtime_id"]
    [mine] = ok_json(server, "runtime", "list")
    assert (mine["id"], mine["name"], mine["online"]) == (rid, "olgas-laptop", False)
    bea = json.loads(ok(server, "user", "add", "bea", "--role", "member", "--json"))[0]["token"]
    asked = trace(server, "runtime", "grant", rid, "--capability", "terminal", token=bea)
    assert asked.returncode == 0 and "trace runtime approve" in asked.stdout
    [pending] = ok_json(server, "runtime", "grants", "olgas-laptop")
    assert (pending["state"], pending["capabilities"]) == ("pending", ["terminal"])
    assert ok_json(server, "runtime", "approve", pending["id"])[0]["state"] == "approved"
    again = trace(server, "runtime", "deny", pending["id"])
    assert again.returncode == 1
    assert ok_json(server, "runtime", "revoke", pending["id"])[0]["state"] == "revoked"
    done = trace(server, "runtime", "grants", rid, "--json", token=bea)
    assert [g["state"] for g in json.loads(done.stdout)] == ["revoked"]


def test_every_read_route_is_described_with_its_response(server: ServerProcess) -> None:
    document = httpx.get(f"{server.url}/api/openapi.json").json()
    wanted = {
        "/api/sessions/{sid}/transcript": "TranscriptPage",
        "/api/sessions/{sid}/terminals": "TerminalPage",
        "/api/sessions/{sid}/terminals/{tid}/output": "OutputPage",
        "/api/sessions/{sid}/segments": "SegmentPage",
        "/api/sessions/{sid}/segments/{name}": "SegmentEntriesPage",
        "/api/sessions/{sid}/changes": "FileChangePage",
        "/api/sessions/{sid}/diff": "FileChangeOut",
        "/api/sessions/{sid}/checkpoints": "CheckpointPage",
        "/api/sessions/{sid}/checkpoints/{n}/diff": "FileChangePage",
        "/api/sessions/{sid}/timeline": "TimelinePage",
        "/api/workspaces/{wid}/usage": "UsagePage",
        "/api/runtimes": "RuntimePage",
        "/api/runtimes/{rid}/grants": "GrantPage",
    }
    for path, model in wanted.items():
        ok_reply = document["paths"][path]["get"]["responses"]["200"]
        ref = ok_reply["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith(f"/{model}"), path
        properties = document["components"]["schemas"][model]["properties"]
        assert model == "FileChangeOut" or {"items", "next_cursor"} <= set(properties), path


async def test_reads_over_http_page_and_keep_private_sessions_hidden(
    server: ServerProcess, tmp_path: Path
) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    commit = _checkpoint_commit(checkout)
    sid = await _start(server, checkout, "--private")
    await _runtime_writes(server, sid, await runtime_for(server, sid), commit)
    owner = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=owner) as http:
        first = (await http.get(f"/api/sessions/{sid}/transcript", params={"limit": 3})).json()
        assert [i["n"] for i in first["items"]] == [0, 1, 2] and first["total"] == 5
        rest = await http.get(
            f"/api/sessions/{sid}/transcript", params={"cursor": first["next_cursor"]}
        )
        assert [i["n"] for i in rest.json()["items"]] == [3, 4]
        assert rest.json()["next_cursor"] is None
        segments = (await http.get(f"/api/sessions/{sid}/segments")).json()["items"]
        assert {s["document"] for s in segments} == {
            f"session/{sid}/log/t-1",
            f"session/{sid}/log/term1-1",
        }
        sealed = (await http.get(f"/api/sessions/{sid}/segments/term1-1")).json()
        assert sealed["items"] == ["$ make", "\n"]
        schemas = (await http.get("/api/openapi.json")).json()["components"]["schemas"]
        output = (await http.get(f"/api/sessions/{sid}/terminals/term1/output")).json()
        served = [
            (first, "TranscriptPage"),
            (first["items"][0], "TranscriptItemOut"),
            (output, "OutputPage"),
            (output["items"][0], "ChunkOut"),
            (segments[0], "SegmentOut"),
        ]
        for body, model in served:  # what is served is what the description says
            assert set(body) == set(schemas[model]["properties"]), model
        bad = await http.get(f"/api/sessions/{sid}/transcript", params={"cursor": "x"})
        assert bad.status_code == 422
    viewer = json.loads(
        await asyncio.to_thread(ok, server, "user", "add", "vic", "--role", "viewer", "--json")
    )[0]["token"]
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {viewer}"}
    ) as http:
        for path in ("transcript", "changes", "checkpoints", "terminals/term1/output"):
            assert (await http.get(f"/api/sessions/{sid}/{path}")).status_code == 404, path


async def test_a_viewer_reads_a_shared_session(server: ServerProcess, tmp_path: Path) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    sid = await _start(server, checkout)
    await _runtime_writes(server, sid, await runtime_for(server, sid), "0" * 40)
    added = await asyncio.to_thread(ok, server, "user", "add", "vic", "--role", "viewer", "--json")
    viewer = json.loads(added)[0]["token"]
    done = await asyncio.to_thread(trace, server, "session", "transcript", sid, token=viewer)
    assert done.returncode == 0 and "All tests pass" in done.stdout


async def _follow(server: ServerProcess, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "trace"),
        *args,
        cwd=ROOT,
        env=server.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 30)).decode().rstrip("\n")


async def test_follow_prints_new_entries_and_output_then_ends_with_the_session(
    server: ServerProcess, tmp_path: Path
) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    sid = await _start(server, checkout)
    token = await runtime_for(server, sid)
    await _runtime_writes(server, sid, token, "0" * 40)
    transcript = await _follow(server, "session", "transcript", sid, "--follow")
    output = await _follow(server, "session", "output", sid, "--follow", "--json")
    try:
        assert transcript.stdout is not None and output.stdout is not None
        assert [await _line(transcript.stdout) for _ in range(4)][-1] == "All tests pass"
        assert json.loads(await _line(output.stdout))["offset"] == 0
        async with SyncClient(server.url, f"session/{sid}/io", token) as io:
            await io.wait_synced()
            with io.doc.transaction(origin="runtime"):
                io.doc.get("transcript", type=Array).append(_entry(9, "Merged"))
                io.doc.get("output", type=Map)["term1"].insert(12, "done\n")
            while (await _line(transcript.stdout)) != "Merged":
                pass
            lines = [json.loads(await _line(output.stdout)) for _ in range(3)]
            assert lines[-1] == {"offset": 19, "text": "done\n"}
        await asyncio.to_thread(ok, server, "session", "stop", sid)
        assert await asyncio.wait_for(transcript.wait(), 30) == 0
        assert await asyncio.wait_for(output.wait(), 30) == 0
    finally:
        for process in (transcript, output):
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_follow_ends_quietly_when_its_reader_goes_away(
    server: ServerProcess, tmp_path: Path
) -> None:
    checkout = make_repo(tmp_path / "shop", branch="main")
    sid = await _start(server, checkout)
    token = await runtime_for(server, sid)
    await _runtime_writes(server, sid, token, "0" * 40)
    read, write_end = os.pipe()
    follower = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "trace"),
        *("session", "transcript", sid, "--follow", "--json"),
        cwd=ROOT,
        env=server.env(),
        stdout=write_end,
        stderr=asyncio.subprocess.PIPE,
    )
    os.close(write_end)
    with os.fdopen(read, "rb") as reader:
        first = await asyncio.to_thread(reader.readline)
        assert json.loads(first)["n"] == 0
    # the reader is gone (as after `| head -1`): the next entries hit a closed pipe
    async with SyncClient(server.url, f"session/{sid}/io", token) as io:
        await io.wait_synced()
        for i in range(10, 20):
            io.doc.get("transcript", type=Array).append(_entry(i, "more"))
    assert await asyncio.wait_for(follower.wait(), 30) == 0
    assert follower.stderr is not None
    assert b"Traceback" not in await follower.stderr.read()


def test_the_cli_finds_the_server_it_started_whatever_its_port(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "elsewhere")
    server.start()
    announced = tmp_path / "state" / "trace" / "server.json"
    try:
        record = json.loads(announced.read_text())
        assert record["url"] == server.url and record["data_dir"] == str(server.data_dir)
        assert stat.S_IMODE(announced.stat().st_mode) == 0o600
        env = {k: v for k, v in server.env().items() if not k.startswith("TRACE_")}
        listed = subprocess.run(
            [str(Path(sys.executable).parent / "trace"), "user", "list", "--json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)) == 1
        server.stop(signal.SIGTERM)
        assert not announced.exists()  # a clean stop takes it away
    finally:
        server.close()


def test_a_stale_announcement_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trace_sync.contract import local_files

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("TRACE_URL", "TRACE_HOST", "TRACE_PORT", "TRACE_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACE_DATA_DIR", str(tmp_path / "data"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    local_files.write_server_file(
        local_files.LocalServer("http://127.0.0.1:1", dead.pid, tmp_path / "data")
    )
    assert local_files.read_server_file() is None
    assert local_files.locate()[0] == "http://127.0.0.1:4000"
    monkeypatch.setenv("TRACE_URL", "http://example.test:9")
    assert local_files.locate()[0] == "http://example.test:9"


def test_commands_that_change_a_session_say_what_comes_next(
    server: ServerProcess, tmp_path: Path
) -> None:
    ok(server, "repo", "add", str(make_repo(tmp_path / "shop", branch="main")))
    started = ok(server, "session", "start", "--repo", "shop", "--tool", "shell", "-m", "go")
    sid = ok_json(server, "session", "list")[0]["id"]
    assert f"trace session transcript {sid} --follow" in started  # ready to paste
    stopped = ok(server, "session", "stop", sid).splitlines()
    assert stopped[0].startswith(f"{sid}  stopped") and "trace session resume" in stopped[1]
    assert [s["id"] for s in ok_json(server, "session", "list", "--status", "idle,stopped")] == [
        sid
    ]
    assert ok_json(server, "session", "list", "--status", "idle", "--status", "running") == []
    bad = trace(server, "session", "list", "--status", "idle,nope")
    assert bad.returncode == 2 and "not a status" in bad.stderr
    archived = ok(server, "session", "archive", sid).splitlines()
    assert len(archived) == 2 and "trace session restore" in archived[1]
    restored = ok(server, "session", "restore", sid).splitlines()
    assert restored[0].startswith(f"{sid}  stopped") and "resume" in restored[1]
    no_bridge = trace(server, "session", "restore", sid, "--checkpoint", "1")
    assert no_bridge.returncode == 1  # checkpoint restore needs the session's bridge
    key = subprocess.run(
        [str(Path(sys.executable).parent / "trace"), "bridge", "key", "nosuchtool"],
        input="sk-123\n",
        capture_output=True,
        text=True,
        env=server.env(),
    )
    assert key.returncode == 2 and "invalid choice" in key.stderr
